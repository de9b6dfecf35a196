/**
 * Command line: `npm run emulator:pubsub -- --host 127.0.0.1 --port 8085`. Prints
 * `Pub/Sub emulator listening on HOST:PORT` once it accepts calls; SIGINT/SIGTERM stop it.
 *
 * `--monitoring-port` also serves, over plain HTTP, what Cloud Monitoring would report about the
 * subscriptions: GET /v1/oldest-unacked-ages → {"projects/p/subscriptions/s": seconds, …} (consumer
 * lag, which the local API's /metrics and console read). Printed as `Pub/Sub emulator monitoring
 * on http://HOST:PORT` before the listening line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { startPubSubEmulator } from './index.ts';

function integer(minimum: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < minimum) {
      throw new InvalidArgumentError(`expected an integer >= ${minimum}`);
    }
    return parsed;
  };
}

const program = new Command()
  .name('pubsub-emulator')
  .description('Local Google Cloud Pub/Sub emulator (gRPC; use with PUBSUB_EMULATOR_HOST)')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on (0 picks a free one)', integer(0), 8085)
  .option(
    '--stream-recycle-ms <ms>',
    'end StreamingPull streams with UNAVAILABLE after this long (0: never)',
    integer(0),
    0,
  )
  .option('--pull-wait-ms <ms>', 'how long a unary Pull waits for messages', integer(0), 5000)
  .option('--push-max-outstanding <n>', 'push requests in flight per subscription, at most', integer(1), 100)
  .option('--oidc-key <file>', 'RSA private key (PEM) that signs push OIDC tokens (default: a fresh key)')
  .option('--oidc-key-id <kid>', 'key id of --oidc-key in tokens and the JWKS')
  .option('--jwks-out <file>', 'write the JWKS that verifies push OIDC tokens to this file')
  .option(
    '--monitoring-port <port>',
    'serve consumer lag over HTTP on this port (0 picks a free one)',
    integer(0),
  )
  .option(
    '--data-dir <dir>',
    'keep topics, subscriptions, unacked messages and the OIDC key here across restarts (default: in memory)',
  )
  .parse();

const options = program.opts<{
  host: string;
  port: number;
  streamRecycleMs: number;
  pullWaitMs: number;
  pushMaxOutstanding: number;
  oidcKey?: string;
  oidcKeyId?: string;
  jwksOut?: string;
  dataDir?: string;
  monitoringPort?: number;
}>();

// Whatever a request does, the emulator keeps serving: every handler already turns errors into
// statuses; this is the last line of defence, and it says what happened.
process.on('uncaughtException', (error) => console.error('[pubsub-emulator] unexpected error:', error));
process.on('unhandledRejection', (error) => console.error('[pubsub-emulator] unexpected rejection:', error));

const emulator = await startPubSubEmulator({
  host: options.host,
  port: options.port,
  streamRecycleMs: options.streamRecycleMs,
  pullWaitMs: options.pullWaitMs,
  pushMaxOutstanding: options.pushMaxOutstanding,
  ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  ...(options.oidcKey
    ? {
        oidcSigningKey: {
          privateKeyPem: await readFile(options.oidcKey, 'utf8'),
          ...(options.oidcKeyId ? { keyId: options.oidcKeyId } : {}),
        },
      }
    : {}),
});
if (options.jwksOut) await writeFile(options.jwksOut, `${JSON.stringify(emulator.jwks, null, 2)}\n`);
const monitoring =
  options.monitoringPort === undefined
    ? undefined
    : createServer((request, response) => {
        if (request.method === 'GET' && request.url === '/v1/oldest-unacked-ages') {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(emulator.oldestUnackedAges()));
        } else response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      });
if (monitoring) {
  await new Promise<void>((resolve) => monitoring.listen(options.monitoringPort, options.host, resolve));
  const { port } = monitoring.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  console.log(`Pub/Sub emulator monitoring on http://${host}:${port}`);
}
console.log(`Pub/Sub emulator listening on ${emulator.host}:${emulator.port}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    monitoring?.close();
    monitoring?.closeAllConnections();
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('[pubsub-emulator] stopping failed:', error);
        process.exit(1);
      },
    );
  });
}
