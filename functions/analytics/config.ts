/**
 * The analytics function's environment, parsed once by index.ts. It holds no database: rows are
 * de-duplicated in BigQuery by event id (insertId, then exactly in the views). The push and Pub/Sub
 * variables are those every function reads (shared/functions), the rest tune the micro-batcher.
 */
import { z } from 'zod';
import { loggingConfig, millis } from '#shared/config/index.ts';
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import { telemetryEnv } from '#shared/telemetry/config.ts';

const hostPort = z
  .string()
  .regex(/^[\w.-]+:\d+$/, 'expected host:port')
  .optional();
const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const analyticsConfigSchema = loggingConfig.extend({
  ...telemetryEnv.shape,
  /** The dataset holding the events table (in CONVEYOR_PROJECT_ID). */
  BIGQUERY_DATASET: z
    .string()
    .regex(/^\w{1,1024}$/, 'expected a BigQuery dataset id')
    .default(BIGQUERY.dataset),
  /**
   * URL of the BigQuery emulator (http://127.0.0.1:9050); unset in production. Not
   * BIGQUERY_EMULATOR_HOST, which the client library reads itself (see shared/analytics/client.ts).
   */
  BIGQUERY_API_ENDPOINT: z.url().optional(),
  /** host:port of the Pub/Sub emulator (dead letters are published there); unset in production. */
  PUBSUB_EMULATOR_HOST: hostPort,
  /** A JWKS file (the emulator's --jwks-out) to verify push OIDC tokens with; unset: not checked here. */
  PUSH_AUTH_JWKS_FILE: z.string().min(1).optional(),
  /** The audience push tokens must name: this function's URL. Required with PUSH_AUTH_JWKS_FILE. */
  PUSH_AUTH_AUDIENCE: z.url().optional(),
  /** When set, only push tokens of this service account are accepted. */
  PUSH_AUTH_SERVICE_ACCOUNT: z.email().optional(),
  /** A batch goes to insertAll when it holds this many rows (BigQuery recommends up to 500)… */
  ANALYTICS_BATCH_MAX_ROWS: count(500, 10_000),
  /** …or when its oldest row has waited this long (an idle instance sends at once). */
  ANALYTICS_BATCH_MAX_DELAY_MS: millis(10),
  /** insertAll requests in flight at once per instance. */
  ANALYTICS_BATCHES_IN_FLIGHT: count(4, 64),
  /** Attempts per row within one delivery before it is nacked for Pub/Sub to redeliver. */
  ANALYTICS_INSERT_ATTEMPTS: count(5, 20),
});
export type AnalyticsConfig = z.infer<typeof analyticsConfigSchema>;
