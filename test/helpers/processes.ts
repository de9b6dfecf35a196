/**
 * Child processes in tests. Every process a test starts inherits the run id, so the runner can
 * find and kill (and report) anything a test forgot to stop, even after the test process crashed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export { isRunning } from '../../local/processes.ts';

export const RUN_ID_VARIABLE = 'CONVEYOR_TEST_RUN_ID';

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once, as a crash would. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Spawns a process that is killed when the test process exits, however it exits. */
export function startProcess(command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      for (const listener of listeners) listener();
      resolve();
    }),
  );
  const isRunning = () => child.exitCode === null && child.signalCode === null;

  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) return done(() => resolve(match));
          if (!isRunning())
            done(() => reject(new Error(`process exited before printing ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`timed out waiting for ${pattern}:\n${output}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (!isRunning()) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (isRunning()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Processes still alive that carry this run's id in their environment (Linux /proc). Kills them
 * and returns a description of each; gives processes already shutting down a moment to finish.
 */
export async function leftoverProcesses(runId: string): Promise<string[]> {
  const marker = `${RUN_ID_VARIABLE}=${runId}`;
  const scan = async () => {
    const found: { pid: number; command: string }[] = [];
    const entries = await readdir('/proc').catch(() => [] as string[]);
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      if (!environ.split('\0').includes(marker)) continue;
      const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      found.push({ pid, command: command.split('\0').join(' ').trim() });
    }
    return found;
  };
  if ((await scan()).length === 0) return [];
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const left = await scan();
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return left.map(({ pid, command }) => `pid ${pid}: ${command}`);
}
