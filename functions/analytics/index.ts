/** analytics: streams every order event (live and replayed) into BigQuery, in batches. */
import { readFileSync } from 'node:fs';
import { http } from '@google-cloud/functions-framework';
import { createBigQueryClient } from '#shared/analytics/client.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createLogger } from '#shared/logging/index.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher } from '#shared/messaging/publisher.ts';
import { createPushAuthenticator } from '#shared/messaging/push-auth.ts';
import {
  instrumentConsumer,
  instrumentPublisher,
  startTelemetry,
  telemetryConfigOrExit,
} from '#shared/telemetry/index.ts';
import { analyticsConfigSchema } from './config.ts';
import { createAnalyticsHandler } from './handler.ts';

const config = loadConfigOrExit(analyticsConfigSchema, process.env, FUNCTION.analytics);
const logger = createLogger({
  service: FUNCTION.analytics,
  level: config.LOG_LEVEL,
  ...(process.env.K_REVISION ? { base: { revision: process.env.K_REVISION } } : {}),
});
if (config.PUSH_AUTH_JWKS_FILE && !config.PUSH_AUTH_AUDIENCE) {
  process.stderr.write(`${FUNCTION.analytics}: PUSH_AUTH_AUDIENCE is required with PUSH_AUTH_JWKS_FILE\n`);
  process.exit(78);
}
const telemetry = await startTelemetry({
  service: FUNCTION.analytics,
  ...(process.env.K_REVISION ? { version: process.env.K_REVISION } : {}),
  projectId: config.CONVEYOR_PROJECT_ID,
  config: telemetryConfigOrExit(config, FUNCTION.analytics),
  logger,
});
const publisher = instrumentPublisher(
  createPubSubPublisher({
    projectId: config.CONVEYOR_PROJECT_ID,
    emulatorHost: config.PUBSUB_EMULATOR_HOST,
  }),
  telemetry,
);
const bigquery = createBigQueryClient({
  projectId: config.CONVEYOR_PROJECT_ID,
  apiEndpoint: config.BIGQUERY_API_ENDPOINT,
});
const handler = createAnalyticsHandler({
  sink: createBigQuerySink({
    bigquery,
    dataset: config.BIGQUERY_DATASET,
    maxAttempts: config.ANALYTICS_INSERT_ATTEMPTS,
    logger,
  }),
  batch: {
    maxRows: config.ANALYTICS_BATCH_MAX_ROWS,
    maxDelayMs: config.ANALYTICS_BATCH_MAX_DELAY_MS,
    maxInFlight: config.ANALYTICS_BATCHES_IN_FLIGHT,
  },
  push: {
    logger,
    deadLetters: createDeadLetterSink(publisher),
    projectId: config.CONVEYOR_PROJECT_ID,
    instrument: (consumer) => instrumentConsumer(consumer, telemetry),
    authenticate: config.PUSH_AUTH_JWKS_FILE
      ? createPushAuthenticator({
          jwks: JSON.parse(readFileSync(config.PUSH_AUTH_JWKS_FILE, 'utf8')) as never,
          audience: config.PUSH_AUTH_AUDIENCE!,
          serviceAccountEmail: config.PUSH_AUTH_SERVICE_ACCOUNT,
        })
      : undefined,
  },
});

http(FUNCTION.analytics, (request, response) => handler.http(request, response));
