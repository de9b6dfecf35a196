/**
 * How the CLI ends and talks: exit codes scripts can rely on, an error that carries its exit code,
 * and the streams (stdout for results, stderr for progress and messages), injectable for tests.
 */
export const EXIT_CODE = {
  /** Done: the replay completed, nothing to reconcile (or repaired). */
  ok: 0,
  /** It ran and the outcome is bad: the replay failed or was cancelled, gaps remain. */
  failed: 1,
  /** The command line or the request was refused (bad arguments, 4xx from the API). */
  usage: 2,
  /** Something needed is unreachable or broken (API, database, BigQuery; 5xx). */
  unavailable: 3,
  /** Ctrl-C: stopped watching (a replay goes on in the API). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT_CODE)[keyof typeof EXIT_CODE];

export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** What a command needs from its surroundings. */
export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Set once a command knows how the process should end. */
  setExitCode(code: ExitCode): void;
  /** Resolves when the user interrupts (Ctrl-C). */
  interrupted: Promise<void>;
}

export function say(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

/** A time argument: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight UTC. */
export function parseTime(value: string, name: string): string {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00.000Z` : value;
  const time = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(value) || Number.isNaN(time))
    throw new CliError(
      `--${name}: expected a date (2024-03-01) or a time (2024-03-01T12:00:00Z), got "${value}"`,
      EXIT_CODE.usage,
    );
  return new Date(time).toISOString();
}

/** Required environment variable, or a usage error naming it. */
export function required(env: CliContext['env'], name: string, why: string): string {
  const value = env[name];
  if (!value) throw new CliError(`${name} is not set: ${why}`, EXIT_CODE.usage);
  return value;
}
