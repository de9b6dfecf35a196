/**
 * `npm run emulator:bigquery -- --host 127.0.0.1 --port 9050 [--data-dir DIR]`: runs the BigQuery
 * emulator until SIGINT or SIGTERM. Prints `BigQuery emulator listening on HOST:PORT` once ready.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_INSERT_ID_WINDOW_MS, startBigQueryEmulator, type BigQueryEmulator } from './index.ts';

function integerOption(min: number, max: number) {
  return (value: string) => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return parsed;
  };
}

const program = new Command('emulator:bigquery')
  .description('BigQuery REST API v2 emulator over DuckDB')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on (0 picks a free one)', integerOption(0, 65_535), 9050)
  .option('--data-dir <dir>', 'keep data and metadata in this directory (default: in memory)')
  .option(
    '--insert-id-window-ms <ms>',
    'how long insertIds are remembered for de-duplication',
    integerOption(0, 86_400_000),
    DEFAULT_INSERT_ID_WINDOW_MS,
  )
  .option('--verbose', 'log every request')
  .parse();

const options = program.opts<{
  host: string;
  port: number;
  dataDir?: string;
  insertIdWindowMs: number;
  verbose?: boolean;
}>();

let emulator: BigQueryEmulator | undefined;
let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await emulator?.stop();
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown());

try {
  emulator = await startBigQueryEmulator({
    host: options.host,
    port: options.port,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    insertIdWindowMs: options.insertIdWindowMs,
    ...(options.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
} catch (error) {
  process.stderr.write(
    `BigQuery emulator failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
if (stopping) await new Promise(() => {});
process.stdout.write(`BigQuery emulator listening on ${emulator.host}:${emulator.port}\n`);
