/**
 * What every Conveyor function's composition root shares: the environment variables all of them
 * read, and the runtime built from them (logger, Postgres pool, Pub/Sub publisher, the dead-letter
 * sink and failure log of the push consumer, push authentication where the platform does not do
 * it). functions/<name>/index.ts parses its config once and builds this; handler.ts takes the parts.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { databaseConfig, loggingConfig } from '#shared/config/index.ts';
import { createLogger, type Logger } from '#shared/logging/index.ts';
import type { FailureLog, PushHandlerDeps } from '#shared/messaging/consumer.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createPushAuthenticator, type PushAuthenticator } from '#shared/messaging/push-auth.ts';
import { recordFailure } from '#shared/store/consumer-records.ts';
import { createPool, poolConfigFrom, type Pool } from '#shared/store/pool.ts';

/** Variables every function reads. Push authentication is for local runs (Cloud Run IAM does it in production). */
export const functionConfigSchema = databaseConfig.extend({
  ...loggingConfig.shape,
  /** host:port of the Pub/Sub emulator; unset in production. */
  PUBSUB_EMULATOR_HOST: z
    .string()
    .regex(/^[\w.-]+:\d+$/, 'expected host:port')
    .optional(),
  /** A JWKS file (the emulator's --jwks-out) to verify push OIDC tokens with; unset: not checked here. */
  PUSH_AUTH_JWKS_FILE: z.string().min(1).optional(),
  /** The audience push tokens must name: this function's URL. Required with PUSH_AUTH_JWKS_FILE. */
  PUSH_AUTH_AUDIENCE: z.url().optional(),
  /** When set, only push tokens of this service account are accepted. */
  PUSH_AUTH_SERVICE_ACCOUNT: z.email().optional(),
});
export type FunctionConfig = z.infer<typeof functionConfigSchema>;

/** The push consumer's plumbing: what createPushHandler needs besides the consumer itself. */
export type PushPlumbing = PushHandlerDeps;

export interface FunctionRuntime {
  logger: Logger;
  pool: Pool;
  publisher: Publisher;
  push: PushPlumbing;
  close(): Promise<void>;
}

/** Records the last error of a message per subscription (message_failures), for its dead letter. */
export function createFailureLog(pool: Pool): FailureLog {
  return { record: (subscription, key, error) => recordFailure(pool, subscription, key, error) };
}

/** Builds a function's runtime from its parsed config. */
export function createFunctionRuntime(name: string, config: FunctionConfig): FunctionRuntime {
  const logger = createLogger({
    service: name,
    level: config.LOG_LEVEL,
    ...(process.env.K_REVISION ? { base: { revision: process.env.K_REVISION } } : {}),
  });
  const pool = createPool(poolConfigFrom(config, name, logger));
  const publisher = createPubSubPublisher({
    projectId: config.CONVEYOR_PROJECT_ID,
    emulatorHost: config.PUBSUB_EMULATOR_HOST,
  });
  let authenticate: PushAuthenticator | undefined;
  if (config.PUSH_AUTH_JWKS_FILE) {
    if (!config.PUSH_AUTH_AUDIENCE)
      throw new Error('PUSH_AUTH_AUDIENCE is required with PUSH_AUTH_JWKS_FILE');
    authenticate = createPushAuthenticator({
      jwks: JSON.parse(readFileSync(config.PUSH_AUTH_JWKS_FILE, 'utf8')) as never,
      audience: config.PUSH_AUTH_AUDIENCE,
      serviceAccountEmail: config.PUSH_AUTH_SERVICE_ACCOUNT,
    });
  }
  return {
    logger,
    pool,
    publisher,
    push: {
      logger,
      deadLetters: createDeadLetterSink(publisher),
      failures: createFailureLog(pool),
      authenticate,
      projectId: config.CONVEYOR_PROJECT_ID,
    },
    async close() {
      await publisher.close();
      await pool.end();
    },
  };
}
