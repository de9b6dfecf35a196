/**
 * Gauge sources over Postgres: the outbox backlog and age, open dead letters per subscription and
 * the size of the event store, read at each collection. Give it to one deployable per environment
 * (the API): every instance that reports it reports the same numbers.
 */
import { SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import { outboxStats } from '#shared/store/outbox.ts';
import type { Queryable } from '#shared/store/pool.ts';
import type { GaugeReadings, GaugeSource } from './metrics.ts';

/** Subscriptions whose failures end in the dead_letters table: reported as 0 when none are open. */
const DEAD_LETTER_SOURCES = SUBSCRIPTIONS.filter((spec) => 'topic' in spec.deadLetter).map(
  (spec) => spec.name,
);

/** Counted exactly below this many events; above it, the planner's estimate (counting would scan). */
export const EXACT_COUNT_LIMIT = 1_000_000;

export function createPostgresGaugeSource(db: Queryable): GaugeSource {
  return async (): Promise<GaugeReadings> => {
    const [outbox, store] = await Promise.all([
      outboxStats(db),
      db.query<{ subscription: string | null; open: number; events: string }>({
        name: 'conveyor.telemetry.gauges',
        text: `
          WITH size AS (
            SELECT CASE WHEN c.reltuples < ${EXACT_COUNT_LIMIT} THEN (SELECT count(*) FROM events)
                        ELSE c.reltuples::bigint END AS events
              FROM pg_class c WHERE c.oid = 'events'::regclass
          )
          SELECT d.subscription, coalesce(d.open, 0)::int AS open, size.events::text AS events
            FROM size
            LEFT JOIN (SELECT source_subscription AS subscription, count(*) AS open
                         FROM dead_letters WHERE status = 'open' GROUP BY source_subscription) d ON true`,
      }),
    ]);
    const deadLettersOpen: Record<string, number> = Object.fromEntries(
      DEAD_LETTER_SOURCES.map((name) => [name, 0]),
    );
    for (const row of store.rows) if (row.subscription !== null) deadLettersOpen[row.subscription] = row.open;
    return {
      outbox: { backlog: outbox.backlog, oldestAgeSeconds: outbox.oldestAgeMs / 1000 },
      deadLettersOpen,
      eventStoreEvents: Number(store.rows[0]?.events ?? 0),
    };
  };
}

/**
 * Consumer lag from something that knows the age of each subscription's oldest unacked message
 * (the local Pub/Sub emulator; production reads Pub/Sub's own metric): keyed by full subscription
 * name, reported by short name for the catalogue's push subscriptions.
 */
export function createSubscriptionLagSource(
  read: () => Readonly<Record<string, number>> | Promise<Readonly<Record<string, number>>>,
): GaugeSource {
  // Consumers' subscriptions (pushed to a function); a parking subscription has no consumer to lag.
  const known = new Set(SUBSCRIPTIONS.filter((spec) => spec.pushTo).map((spec) => spec.name));
  return async (): Promise<GaugeReadings> => {
    const subscriptionLag: Record<string, number> = {};
    for (const [name, age] of Object.entries(await read())) {
      const short = name.slice(name.lastIndexOf('/') + 1);
      if (known.has(short)) subscriptionLag[short] = age;
    }
    return { subscriptionLag };
  };
}
