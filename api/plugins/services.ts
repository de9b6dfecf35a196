/**
 * Decorates the app with what the routes use: the pool, the order command dependencies (wired to
 * trigger the outbox relay after every commit), the relay's numbers, the clock and id generator.
 * Built from injected dependencies; nothing here opens a connection.
 */
import type { FastifyInstance } from 'fastify';
import { EVENT_SOURCE_PREFIX } from '#shared/contracts/envelope.ts';
import type { OrderCommandDeps } from '#shared/orders/execute.ts';
import { createOrderPlacer, type OrderPlacer } from '#shared/orders/place-batch.ts';
import type { RelayStats } from '#shared/messaging/relay.ts';
import type { Pool } from '#shared/store/pool.ts';
import { outsideTrace } from '#shared/telemetry/context.ts';

/** The relay as the API uses it: wake it after a commit, read its backlog for /readyz. */
export interface RelayHandle {
  trigger(rows?: number): void;
  stats(): Promise<Pick<RelayStats, 'backlog' | 'oldestAgeMs'>>;
}

export interface AppSettings {
  projectId: string;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  apiKeyCacheTtlMs: number;
  idempotencyTtlSeconds: number;
  outboxStuckAfterMs: number;
  /** Group commit of new orders: statements in flight, orders per statement. */
  orderBatchConcurrency: number;
  orderBatchMax: number;
}

export const DEFAULT_SETTINGS: AppSettings = {
  projectId: 'conveyor-local',
  bodyLimitBytes: 64 * 1024,
  rateLimitPerMinute: 600,
  apiKeyCacheTtlMs: 30_000,
  idempotencyTtlSeconds: 24 * 3600,
  outboxStuckAfterMs: 60_000,
  orderBatchConcurrency: 4,
  orderBatchMax: 100,
};

export interface Services {
  pool: Pool;
  relay: RelayHandle;
  commands: OrderCommandDeps;
  /** Places orders with group commit (see shared/orders/place-batch.ts). */
  placer: OrderPlacer;
  clock: () => Date;
  newId: () => string;
  settings: AppSettings;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** The CloudEvents source of events the API writes. */
export const API_SOURCE = `${EVENT_SOURCE_PREFIX}/api`;

export function decorateServices(
  app: FastifyInstance,
  deps: { pool: Pool; relay: RelayHandle; clock: () => Date; newId: () => string; settings: AppSettings },
): void {
  const commands: OrderCommandDeps = {
    db: deps.pool,
    clock: deps.clock,
    newId: deps.newId,
    source: API_SOURCE,
    // The relay publishes in-process right after the commit; NOTIFY stays off (see AppendOptions).
    // Its cycle serves many requests, so it runs outside this one's trace (each message's send span
    // joins the trace its event was created in).
    onAppended: (events) => outsideTrace(() => deps.relay.trigger(events.length)),
  };
  const placer = createOrderPlacer(commands, {
    maxConcurrentBatches: deps.settings.orderBatchConcurrency,
    maxBatchSize: deps.settings.orderBatchMax,
  });
  app.decorate('services', { ...deps, commands, placer });
}
