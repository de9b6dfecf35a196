/**
 * `npm start`: Conveyor on one machine. Starts every local component in order, prints where each
 * one is and the environment lines tools need, and stops everything on Ctrl-C (or SIGTERM).
 */
import { z } from 'zod';
import { loadConfigOrExit, port, postgresUrl } from '#shared/config/index.ts';
import { postgresComponent } from './postgres.ts';
import { startStack, type RunningStack } from './stack.ts';

const launcherConfig = z.object({
  DATABASE_URL: postgresUrl().optional(),
  CONVEYOR_PG_PORT: port(54329),
  CONVEYOR_DATA_DIR: z.string().min(1).default('.conveyor'),
  CONVEYOR_VERBOSE: z.enum(['true', 'false']).default('false'),
});
const config = loadConfigOrExit(launcherConfig, process.env, 'conveyor');
const verbose = config.CONVEYOR_VERBOSE === 'true';
const say = (line: string) => process.stdout.write(`${line}\n`);
const debug = (line: string) => verbose && say(`  · ${line}`);

let stack: RunningStack | undefined;
let shuttingDown = false;

async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say(`\n${signal}: stopping Conveyor…`);
  await stack?.stop();
  say('stopped.');
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => void shutdown(signal));

const started = performance.now();
say('Starting Conveyor…');
try {
  stack = await startStack(
    [
      postgresComponent({
        databaseUrl: config.DATABASE_URL,
        port: config.CONVEYOR_PG_PORT,
        dataDir: config.CONVEYOR_DATA_DIR,
        log: debug,
      }),
    ],
    (message) => say(`  ✓ ${message}`),
  );
} catch (error) {
  process.stderr.write(
    `Conveyor failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
if (shuttingDown) await new Promise(() => {}); // a signal arrived during start-up; shutdown() exits

const width = Math.max(...stack.components.flatMap((c) => Object.keys(c.endpoints).map((k) => k.length)));
say(
  `\nConveyor is running (ready in ${((performance.now() - started) / 1000).toFixed(1)} s). Ctrl-C stops it.\n`,
);
for (const component of stack.components) {
  for (const [label, address] of Object.entries(component.endpoints))
    say(`  ${label.padEnd(width)}  ${address}`);
}
say('\nEnvironment for tools and producers:');
for (const [name, value] of Object.entries(stack.env)) say(`  export ${name}=${value}`);
say('');
