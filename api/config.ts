/**
 * The API's environment, parsed once (by api/server.ts) into a frozen typed object. Cloud Run sets
 * PORT; infra sets DATABASE_URL, CONVEYOR_PROJECT_ID and LOG_LEVEL (and the webhook secrets and
 * APPROVAL_THRESHOLD_MINOR, which later features read). Everything else has a production default.
 */
import { z } from 'zod';
import {
  databaseConfig,
  flag,
  loggingConfig,
  millis,
  parseConfig,
  port,
  type Env,
} from '#shared/config/index.ts';
import { telemetryEnv } from '#shared/telemetry/config.ts';

const positiveInt = (fallback: number, max = 1_000_000_000) =>
  z.coerce.number().int().positive().max(max).default(fallback);

const secretList = () =>
  z
    .string()
    .transform((value) => value.split(',').map((secret) => secret.trim()))
    .refine((secrets) => secrets.every((secret) => secret.length >= 16), {
      message: 'expected secrets of at least 16 characters, comma-separated',
    })
    .optional();

export const apiConfigSchema = databaseConfig.extend({
  ...loggingConfig.shape,
  ...telemetryEnv.shape,
  PORT: port(8080),
  /** 0.0.0.0 in a container; tests and local runs use 127.0.0.1. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** host:port of the Pub/Sub emulator; unset in production. */
  PUBSUB_EMULATOR_HOST: z
    .string()
    .regex(/^[\w.-]+:\d+$/, 'expected host:port')
    .optional(),
  PUBSUB_PUBLISH_TIMEOUT_MS: millis(5_000),
  /**
   * Local stack only: the Pub/Sub emulator's monitoring URL (its --monitoring-port), where the
   * consumer-lag gauge reads each subscription's oldest unacked message. In production consumer lag
   * is Pub/Sub's own metric.
   */
  PUBSUB_EMULATOR_MONITORING_URL: z.url().optional(),
  /** Largest request body accepted (413 above it). */
  API_BODY_LIMIT_BYTES: positiveInt(64 * 1024, 10 * 1024 * 1024),
  /** Requests per minute per API key (per instance) unless the key has its own limit. */
  API_RATE_LIMIT_PER_MINUTE: positiveInt(600),
  /** How long a looked-up API key is trusted before it is read again (revocation delay). */
  API_KEY_CACHE_TTL_MS: millis(30_000),
  IDEMPOTENCY_TTL_SECONDS: positiveInt(24 * 3600, 30 * 24 * 3600),
  OUTBOX_BATCH_SIZE: positiveInt(500, 10_000),
  OUTBOX_SWEEP_INTERVAL_MS: millis(1_000),
  /** /readyz fails when the oldest unpublished outbox row is older than this. */
  OUTBOX_STUCK_AFTER_MS: millis(60_000),
  /** Wake the relay on NOTIFY from writers in other processes (functions). */
  OUTBOX_LISTEN: flag(true),
  /** Under load, how long the relay waits to gather more rows into a cycle (0: never). */
  OUTBOX_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(4),
  /** Group commit of new orders: statements in flight at once, and orders per statement. */
  ORDER_BATCH_CONCURRENCY: positiveInt(4, 64),
  ORDER_BATCH_MAX: positiveInt(100, 1_000),
  /**
   * Signing secrets of the provider webhooks, comma-separated while one is rotated (the old and the
   * new). Unset: that provider's webhook route answers 503.
   */
  PAYMENT_WEBHOOK_SECRET: secretList(),
  SHIPPING_WEBHOOK_SECRET: secretList(),
  /**
   * The built operations console served at /console. Default: console/ beside the bundle (the
   * image), else dist/console (running from source; npm start builds it).
   */
  CONSOLE_DIR: z.string().min(1).optional(),
  /** SIGTERM to exit; Cloud Run allows 10 s. */
  SHUTDOWN_TIMEOUT_MS: millis(8_000),
});
export type ApiConfig = z.infer<typeof apiConfigSchema>;

export function parseApiConfig(env: Env): Readonly<ApiConfig> {
  return parseConfig(apiConfigSchema, env);
}
