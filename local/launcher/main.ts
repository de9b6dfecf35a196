/**
 * `npm start`: Conveyor on one machine (local-stack.ts). Prints where each part is, the API key and
 * the environment lines tools need, then every component's logs, one readable line each. Ctrl-C
 * (or SIGTERM) stops everything in order; a second Ctrl-C kills at once. Configuration: the
 * environment variables below (`npm start -- --help` lists them).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { styleText } from 'node:util';
import { z } from 'zod';
import { loadConfigOrExit, port, postgresUrl } from '#shared/config/index.ts';
import { FaultsSchema } from '../sandbox-providers/index.ts';
import { startLocalStack, type LocalStack } from './local-stack.ts';
import { createLogPrinter, wantsColor } from './logs.ts';

/** Where the launcher writes the environment of the running stack (the CLI reads it for defaults). */
export const STACK_ENV_FILE = 'stack.env';

const faults = FaultsSchema.partial().strict();
const launcherConfig = z.object({
  DATABASE_URL: postgresUrl().optional(),
  CONVEYOR_DATA_DIR: z.string().min(1).default('.conveyor'),
  CONVEYOR_API_PORT: port(8080),
  CONVEYOR_PUBSUB_PORT: port(8085),
  CONVEYOR_BIGQUERY_PORT: port(9050),
  CONVEYOR_PG_PORT: port(54329),
  CONVEYOR_FUNCTIONS_PORT: port(8091),
  CONVEYOR_PAYMENT_PORT: port(4010),
  CONVEYOR_SHIPPING_PORT: port(4020),
  CONVEYOR_API_KEY: z.string().optional(),
  CONVEYOR_SANDBOX_FAULTS: z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'expected JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.strictObject({ payment: faults.optional(), shipping: faults.optional() }))
    .optional(),
  CONVEYOR_TICK_SECONDS: z.coerce.number().min(0).default(60),
  CONVEYOR_APPROVAL_THRESHOLD_MINOR: z.coerce.number().int().min(0).default(100_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  CONVEYOR_VERBOSE: z.enum(['true', 'false']).default('false'),
});

const HELP = `npm start: Conveyor on this machine.

Environment (defaults in brackets):
  DATABASE_URL                       use this PostgreSQL instead of an embedded one
  CONVEYOR_DATA_DIR                  where state lives [.conveyor]
  CONVEYOR_API_PORT                  the API [8080]
  CONVEYOR_PUBSUB_PORT               the Pub/Sub emulator [8085]
  CONVEYOR_BIGQUERY_PORT             the BigQuery emulator [9050]
  CONVEYOR_PG_PORT                   embedded PostgreSQL [54329]
  CONVEYOR_FUNCTIONS_PORT            the first function; the others follow [8091]
  CONVEYOR_PAYMENT_PORT              payment sandbox [4010]
  CONVEYOR_SHIPPING_PORT             shipping sandbox [4020]
  CONVEYOR_API_KEY                   the dev API key [generated once, kept in the data dir]
  CONVEYOR_SANDBOX_FAULTS            failure injection, JSON: {"payment":{"declineRate":0.1},"shipping":{...}}
  CONVEYOR_TICK_SECONDS              scheduler ticks (timeouts, outbox sweep) [60]
  CONVEYOR_APPROVAL_THRESHOLD_MINOR  orders above this wait for approval [100000]
  LOG_LEVEL                          of every component [info]
  CONVEYOR_VERBOSE                   also PostgreSQL's own log lines [false]
Port 0 picks a free port.
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
const config = loadConfigOrExit(launcherConfig, process.env, 'conveyor');
const verbose = config.CONVEYOR_VERBOSE === 'true';
const color = wantsColor(process.stdout, process.env);
const bold = (text: string) => (color ? styleText('bold', text, { validateStream: false }) : text);
const say = (text = '') => process.stdout.write(`${text}\n`);
const print = createLogPrinter({ write: (text) => process.stdout.write(text), color, width: 11 });

// Until the stack is ready only what goes wrong is shown; then every line.
let ready = false;
const worthShowing = (component: string, line: string, stream: 'stdout' | 'stderr') => {
  if (component === 'postgres') return verbose || /\b(WARNING|ERROR|FATAL|PANIC)\b/.test(line);
  if (ready) return true;
  const severity = /"severity":"(\w+)"/.exec(line)?.[1];
  if (severity) return ['WARNING', 'ERROR', 'CRITICAL'].includes(severity);
  return stream === 'stderr';
};

let stack: LocalStack | undefined;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    say(`${signal} again: killing everything now`);
    process.exit(130); // the children's process groups are killed on exit
  }
  stopping = true;
  say(`\n${signal}: stopping Conveyor…`);
  const started = performance.now();
  await stack?.stop();
  say(`stopped in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => void shutdown(signal));

say(bold('Starting Conveyor…'));
try {
  const fault = config.CONVEYOR_SANDBOX_FAULTS;
  stack = await startLocalStack({
    dataDir: config.CONVEYOR_DATA_DIR,
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : {}),
    ports: {
      api: config.CONVEYOR_API_PORT,
      pubsub: config.CONVEYOR_PUBSUB_PORT,
      bigquery: config.CONVEYOR_BIGQUERY_PORT,
      postgres: config.CONVEYOR_PG_PORT,
      functions: config.CONVEYOR_FUNCTIONS_PORT,
      payment: config.CONVEYOR_PAYMENT_PORT,
      shipping: config.CONVEYOR_SHIPPING_PORT,
    },
    ...(config.CONVEYOR_API_KEY ? { apiKey: config.CONVEYOR_API_KEY } : {}),
    ...(fault ? { sandboxFaults: fault } : {}),
    tickIntervalMs: config.CONVEYOR_TICK_SECONDS * 1000,
    approvalThresholdMinor: config.CONVEYOR_APPROVAL_THRESHOLD_MINOR,
    logLevel: config.LOG_LEVEL,
    onLine: (component, line, stream) => {
      if (worthShowing(component, line, stream)) print(component, line, stream);
    },
    onProgress: (message) => say(`  ${/ ready in \d+ ms$/.test(message) ? '✓' : '·'} ${message}`),
    onUnexpectedExit: (name, code, signal) => {
      if (stopping) return;
      print(
        'launcher',
        JSON.stringify({
          severity: 'ERROR',
          time: new Date().toISOString(),
          message: `${name} exited unexpectedly (code ${code}, signal ${signal}); Ctrl-C and npm start to restart everything`,
        }),
      );
    },
  });
} catch (error) {
  process.stderr.write(
    `\nConveyor failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
if (stopping) await new Promise(() => {}); // a signal arrived during start-up; shutdown() exits

await writeFile(
  path.join(stack.dataDir, STACK_ENV_FILE),
  `${Object.entries(stack.env)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n')}\n`,
  { mode: 0o600 },
);

const total = performance.now() / 1000;
say(
  `\n${bold(`Conveyor is running`)} (ready in ${total.toFixed(1)} s since the launcher started; ` +
    `components in ${(stack.readyMs / 1000).toFixed(1)} s). Ctrl-C stops it.\n`,
);
const width = Math.max(...Object.keys(stack.endpoints).map((label) => label.length));
for (const [label, address] of Object.entries(stack.endpoints)) say(`  ${label.padEnd(width)}  ${address}`);
say(`\nAPI key (every scope): ${bold(stack.apiKey)}`);
say(
  '\nEnvironment for producers, analysts and tools (also in ' +
    path.join(config.CONVEYOR_DATA_DIR, STACK_ENV_FILE) +
    '):',
);
for (const [name, value] of Object.entries(stack.env)) say(`  export ${name}=${value}`);
say(`
Place an order (see README.md for more):
  curl -s -X POST "$CONVEYOR_API_URL/v1/orders" -H "Authorization: Bearer $CONVEYOR_API_KEY" \\
    -H 'Content-Type: application/json' -H "Idempotency-Key: $(uuidgen || date +%s%N)" \\
    -d '{"customerId":"c-1","currency":"EUR","lines":[{"sku":"BOOK-1","quantity":1}],"shippingAddress":{"name":"Ada","line1":"1 Main St","city":"London","postalCode":"N1 9GU","country":"GB"}}'
Operate: npx conveyor --help

Logs:`);
ready = true;
