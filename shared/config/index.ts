/**
 * Environment parsing shared by every deployable. Each entry file declares one zod object of the
 * variables it needs, passes `process.env` in, and gets a frozen typed config back, or a
 * ConfigError naming every bad or missing variable at once.
 */
import { z } from 'zod';
import { ConfigError } from '#shared/errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses `env` against `schema`; throws ConfigError listing every problem by variable name. */
export function parseConfig<S extends z.ZodType>(schema: S, env: Env): Readonly<z.infer<S>> {
  // Empty strings are treated as unset so that `FOO= npm start` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map(describeIssue));
  }
  return Object.freeze(result.data);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const name = issue.path.join('.') || '(environment)';
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${name}: required but not set`;
  }
  return `${name}: ${issue.message}`;
}

/**
 * For entry files: parse, or print every problem to stderr and exit with status 78 (EX_CONFIG),
 * so a misconfigured deployment fails at start rather than on first use.
 */
export function loadConfigOrExit<S extends z.ZodType>(
  schema: S,
  env: Env,
  service: string,
): Readonly<z.infer<S>> {
  try {
    return parseConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${service}: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

/** A TCP port number from the environment; 0 means "pick a free one". */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A positive whole number of milliseconds. */
export const millis = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A boolean written as true/false/1/0/yes/no. */
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A postgres:// connection string. */
export const postgresUrl = () =>
  z.string().refine((value) => /^postgres(ql)?:\/\//.test(value) && URL.canParse(value), {
    message: 'expected a postgres:// connection URL',
  });

/** Variables every deployable that talks to Postgres reads. */
export const databaseConfig = z.object({
  DATABASE_URL: postgresUrl(),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
  PG_CONNECT_TIMEOUT_MS: millis(5_000),
  PG_STATEMENT_TIMEOUT_MS: millis(15_000),
  PG_IDLE_TIMEOUT_MS: millis(30_000),
});
export type DatabaseConfig = z.infer<typeof databaseConfig>;

/** Logging, shared by every deployable. */
export const loggingConfig = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CONVEYOR_PROJECT_ID: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'expected a Google Cloud project id')
    .default('conveyor-local'),
});
export type LoggingConfig = z.infer<typeof loggingConfig>;
