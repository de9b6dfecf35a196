/**
 * Reconciliation of the event store (the truth) with BigQuery: events per UTC day and type on
 * both sides (BigQuery counted by distinct event id, so duplicates do not hide a gap), the days
 * where BigQuery misses events or holds events the store does not know, and the replays that
 * repair the missing ones (one per day, of the types that miss events, addressed to analytics).
 *
 * Types are compared as analytics stores them: the current version (older stored versions are
 * upcast on the way in).
 */
import type { BigQuery } from '@google-cloud/bigquery';
import { BIGQUERY, FUNCTION } from '#shared/contracts/catalogue.ts';
import { UPCASTERS } from '#shared/contracts/events/index.ts';
import type { Queryable } from '#shared/store/pool.ts';
import type { ReplayRequest } from '#shared/replay/request.ts';

export interface TimeRange {
  /** Inclusive, RFC 3339. */
  from: string;
  /** Exclusive. */
  to: string;
}

export interface DayTypeCount {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  type: string;
  events: number;
}

export interface TypeReconciliation {
  type: string;
  stored: number;
  inBigQuery: number;
  /** In the store, not (yet) in BigQuery. */
  missing: number;
  /** In BigQuery, not in the store. */
  extra: number;
}

export interface DayReconciliation {
  day: string;
  stored: number;
  inBigQuery: number;
  missing: number;
  extra: number;
  types: TypeReconciliation[];
}

export interface ReconciliationReport {
  range: TimeRange;
  days: DayReconciliation[];
  stored: number;
  inBigQuery: number;
  missing: number;
  extra: number;
  /** Days with a difference either way. */
  gaps: DayReconciliation[];
}

/** The current type an event stored under `type` is analysed as. */
export function currentTypeOf(type: string): string {
  let current = type;
  for (let hops = 0; UPCASTERS[current] && hops < 10; hops++) current = UPCASTERS[current]!.to;
  return current;
}

/** Events in the event store per UTC day and (current) type. */
export async function countStoredEvents(db: Queryable, range: TimeRange): Promise<DayTypeCount[]> {
  const { rows } = await db.query<{ day: string; type: string; events: string }>(
    `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, type, count(*) AS events
       FROM events WHERE occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz
      GROUP BY 1, 2`,
    [range.from, range.to],
  );
  const merged = new Map<string, DayTypeCount>();
  for (const row of rows) {
    const type = currentTypeOf(row.type);
    const key = `${row.day}|${type}`;
    const entry = merged.get(key) ?? { day: row.day, type, events: 0 };
    entry.events += Number(row.events);
    merged.set(key, entry);
  }
  return [...merged.values()];
}

/** Distinct events in BigQuery's events table per UTC day and type. */
export async function countBigQueryEvents(
  bigquery: BigQuery,
  dataset: string,
  range: TimeRange,
): Promise<DayTypeCount[]> {
  const [rows] = await bigquery.query({
    query: `SELECT FORMAT_DATE('%F', DATE(event_time)) AS day, type, COUNT(DISTINCT event_id) AS events
              FROM \`${bigquery.projectId}.${dataset}.${BIGQUERY.eventsTable}\`
             WHERE event_time >= @from AND event_time < @to
             GROUP BY day, type`,
    params: { from: bigquery.timestamp(range.from), to: bigquery.timestamp(range.to) },
  });
  return (rows as { day: string; type: string; events: number | string }[]).map((row) => ({
    day: row.day,
    type: row.type,
    events: Number(row.events),
  }));
}

/** Compares the two sides, day by day and type by type. */
export function reconcile(
  range: TimeRange,
  stored: DayTypeCount[],
  inBigQuery: DayTypeCount[],
): ReconciliationReport {
  const cells = new Map<string, Map<string, { stored: number; inBigQuery: number }>>();
  const cell = (day: string, type: string) => {
    const types = cells.get(day) ?? new Map<string, { stored: number; inBigQuery: number }>();
    cells.set(day, types);
    const found = types.get(type) ?? { stored: 0, inBigQuery: 0 };
    types.set(type, found);
    return found;
  };
  for (const count of stored) cell(count.day, count.type).stored += count.events;
  for (const count of inBigQuery) cell(count.day, count.type).inBigQuery += count.events;
  const days = [...cells.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([day, types]): DayReconciliation => {
      const rows = [...types.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, n]) => ({
          type,
          stored: n.stored,
          inBigQuery: n.inBigQuery,
          missing: Math.max(0, n.stored - n.inBigQuery),
          extra: Math.max(0, n.inBigQuery - n.stored),
        }));
      const sum = (key: 'stored' | 'inBigQuery' | 'missing' | 'extra') =>
        rows.reduce((n, row) => n + row[key], 0);
      return {
        day,
        stored: sum('stored'),
        inBigQuery: sum('inBigQuery'),
        missing: sum('missing'),
        extra: sum('extra'),
        types: rows,
      };
    });
  const total = (key: 'stored' | 'inBigQuery' | 'missing' | 'extra') =>
    days.reduce((n, day) => n + day[key], 0);
  return {
    range,
    days,
    stored: total('stored'),
    inBigQuery: total('inBigQuery'),
    missing: total('missing'),
    extra: total('extra'),
    gaps: days.filter((day) => day.missing > 0 || day.extra > 0),
  };
}

/**
 * The replays that fill what BigQuery misses: for each day with missing events, that day (within
 * the reconciled range) and the types that miss events, to analytics. Events already in BigQuery
 * are replayed too when they share a day and type with missing ones; they are de-duplicated by id.
 */
export function repairPlan(report: ReconciliationReport): ReplayRequest[] {
  return report.days
    .filter((day) => day.missing > 0)
    .map((day) => {
      const start = Date.parse(`${day.day}T00:00:00.000Z`);
      const from = new Date(Math.max(start, Date.parse(report.range.from))).toISOString();
      const to = new Date(Math.min(start + 86_400_000, Date.parse(report.range.to))).toISOString();
      return {
        from,
        to,
        types: day.types.filter((type) => type.missing > 0).map((type) => type.type),
        consumer: FUNCTION.analytics,
      };
    });
}
