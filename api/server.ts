/**
 * Entry point of the API (Cloud Run; bundled to dist/api/server.js): parses the environment, starts
 * telemetry, builds the pool, the Pub/Sub publisher and the outbox relay, and listens on PORT.
 * With the `local` trace exporter (the local stack) it is also the collector every other process
 * sends its spans and metrics to, which the console and /metrics read.
 *
 * SIGTERM (Cloud Run gives 10 s): stop accepting and finish in-flight requests, flush the relay,
 * close the publisher and the pool, flush telemetry, exit; a timer exits regardless after
 * SHUTDOWN_TIMEOUT_MS.
 */
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import { createPubSubPublisher } from '#shared/messaging/publisher.ts';
import { createOutboxRelay } from '#shared/messaging/relay.ts';
import { purgeExpiredIdempotencyKeys } from '#shared/store/idempotency.ts';
import { createPool, poolConfigFrom } from '#shared/store/pool.ts';
import {
  createLocalCollector,
  createPostgresGaugeSource,
  createSubscriptionLagSource,
  instrumentPublisher,
  startTelemetry,
  telemetryConfigOrExit,
} from '#shared/telemetry/index.ts';
import { buildApp } from './app.ts';
import { apiConfigSchema } from './config.ts';

const config = loadConfigOrExit(apiConfigSchema, process.env, 'api');
const logger = createLogger({
  service: 'api',
  level: config.LOG_LEVEL,
  ...(process.env.K_REVISION ? { base: { revision: process.env.K_REVISION } } : {}),
});
const telemetryConfig = telemetryConfigOrExit(config, 'api');
// Only the local stack receives other processes' telemetry (and keeps spans for the console).
const collector =
  telemetryConfig.traces.exporter === 'local'
    ? createLocalCollector({ maxSpans: telemetryConfig.storeSpans })
    : undefined;
// Not traced per query: group commit writes many requests' orders in one statement, which no one
// request's trace could own.
const pool = createPool(poolConfigFrom(config, 'api', logger));
const telemetry = await startTelemetry({
  service: 'api',
  ...(process.env.K_REVISION ? { version: process.env.K_REVISION } : {}),
  projectId: config.CONVEYOR_PROJECT_ID,
  config: telemetryConfig,
  collector,
  // Outbox, open dead letters, event store size: the same numbers from every instance; locally,
  // consumer lag from the emulator.
  gauges: [
    createPostgresGaugeSource(pool),
    ...(config.PUBSUB_EMULATOR_MONITORING_URL ? [emulatorLag(config.PUBSUB_EMULATOR_MONITORING_URL)] : []),
  ],
  logger,
});
const publisher = instrumentPublisher(
  createPubSubPublisher({
    projectId: config.CONVEYOR_PROJECT_ID,
    emulatorHost: config.PUBSUB_EMULATOR_HOST,
    publishTimeoutMs: config.PUBSUB_PUBLISH_TIMEOUT_MS,
  }),
  telemetry,
);
const relay = createOutboxRelay({
  pool,
  publisher,
  logger,
  batchSize: config.OUTBOX_BATCH_SIZE,
  sweepIntervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
  lingerMs: config.OUTBOX_LINGER_MS,
  listen: config.OUTBOX_LISTEN ? { connectionString: config.DATABASE_URL } : undefined,
});
const app = await buildApp({
  pool,
  relay,
  logger,
  publisher,
  telemetry,
  collector,
  console: { dir: config.CONSOLE_DIR ?? defaultConsoleDir() },
  webhookSecrets: {
    payment: config.PAYMENT_WEBHOOK_SECRET ?? [],
    shipping: config.SHIPPING_WEBHOOK_SECRET ?? [],
  },
  settings: {
    projectId: config.CONVEYOR_PROJECT_ID,
    bodyLimitBytes: config.API_BODY_LIMIT_BYTES,
    rateLimitPerMinute: config.API_RATE_LIMIT_PER_MINUTE,
    apiKeyCacheTtlMs: config.API_KEY_CACHE_TTL_MS,
    idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
    outboxStuckAfterMs: config.OUTBOX_STUCK_AFTER_MS,
    orderBatchConcurrency: config.ORDER_BATCH_CONCURRENCY,
    orderBatchMax: config.ORDER_BATCH_MAX,
  },
});

const purge = setInterval(() => {
  purgeExpiredIdempotencyKeys(pool).catch((error: unknown) =>
    logger.warn({ error }, 'purging expired idempotency keys failed'),
  );
}, 600_000).unref();

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    // A second Ctrl-C means "now"; a repeated SIGTERM changes nothing.
    if (signal === 'SIGINT') process.exit(130);
    return;
  }
  stopping = true;
  const started = Date.now();
  const deadline = setTimeout(() => {
    logger.error(`shutdown took longer than ${config.SHUTDOWN_TIMEOUT_MS} ms; exiting`);
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS);
  logger.info(`${signal}: shutting down`);
  clearInterval(purge);
  try {
    await app.close();
    await relay.stop({
      flushTimeoutMs: Math.max(500, config.SHUTDOWN_TIMEOUT_MS - (Date.now() - started) - 1_500),
    });
    await publisher.close();
    await pool.end();
    await telemetry.shutdown();
    logger.info(`shut down in ${Date.now() - started} ms`);
  } catch (error) {
    logger.error({ error }, 'shutdown failed');
    process.exitCode = 1;
  } finally {
    clearTimeout(deadline);
  }
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void shutdown(signal));

try {
  relay.start();
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`listening on ${address}`);
} catch (error) {
  logger.fatal({ error }, 'the API failed to start');
  process.exit(1);
}

/** console/ beside the bundle in the image (dist/api/server.js); dist/console when run from source. */
function defaultConsoleDir(): string {
  const bundled = import.meta.url.endsWith('.js');
  return fileURLToPath(new URL(bundled ? './console' : '../dist/console', import.meta.url));
}

/** Consumer lag as the local Pub/Sub emulator reports it (GET <monitoring>/v1/oldest-unacked-ages). */
function emulatorLag(monitoringUrl: string) {
  const url = new URL(
    'v1/oldest-unacked-ages',
    monitoringUrl.endsWith('/') ? monitoringUrl : `${monitoringUrl}/`,
  );
  return createSubscriptionLagSource(async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) throw new Error(`the emulator's monitoring answered ${response.status}`);
    return (await response.json()) as Record<string, number>;
  });
}
