/**
 * The outbox as the relay sees it: claim pending rows per ordering key, mark them published or
 * back them off, and report the backlog.
 *
 * Claiming is per (topic, ordering key) with transaction-scoped advisory locks: a relay holds the
 * locks of the keys it is publishing until it has marked the rows and committed, and every other
 * relay skips those keys. The rows are read only after the locks are held, in a new statement and
 * so a new snapshot, which therefore includes whatever the previous holder marked before it
 * committed and let go. Rows are selected by "pending", never by "after the last id seen", so a row
 * committed late by a slow transaction (a gap in the ids) is still found.
 */
import type { Queryable } from './pool.ts';

/** Advisory lock class of outbox keys: (OUTBOX_LOCK_CLASS, hashtext(topic/key)). */
export const OUTBOX_LOCK_CLASS = 0x0b0c;

export interface OutboxRow {
  id: number;
  topic: string;
  /** null for messages published without ordering. */
  orderingKey: string | null;
  /** The payload's JSON text. */
  payload: string;
  attributes: Record<string, string>;
  attempts: number;
  /** The row's backoff has passed. */
  available: boolean;
  createdAt: Date;
}

/** The pending rows of one claimed key, oldest first. */
export interface ClaimedKey {
  topic: string;
  orderingKey: string | null;
  rows: OutboxRow[];
}

export interface Claim {
  keys: ClaimedKey[];
  /** Keys with pending rows that another relay holds right now. */
  contended: number;
}

/**
 * Inside a transaction: locks up to `limit` rows' worth of keys with rows due, and returns all
 * pending rows of each key it locked (a key's rows go together and in order). A key whose oldest
 * pending row is still backing off is not returned: nothing of it may overtake that row.
 */
export async function claimOutbox(client: Queryable, limit: number): Promise<Claim> {
  const locked = await client.query<{ topic: string; claim_key: string; keyed: boolean; got: boolean }>({
    name: 'conveyor.outbox.lock',
    text: `
      SELECT topic, claim_key, keyed,
             pg_try_advisory_xact_lock(${OUTBOX_LOCK_CLASS}, hashtext(topic || '/' || claim_key)) AS got
        FROM (SELECT DISTINCT topic, coalesce(ordering_key, id::text) AS claim_key, ordering_key IS NOT NULL AS keyed
                FROM (SELECT id, topic, ordering_key FROM outbox
                       WHERE published_at IS NULL AND available_at <= now()
                       ORDER BY id LIMIT $1) due) candidates`,
    values: [limit],
  });
  const got = locked.rows.filter((row) => row.got);
  const contended = locked.rows.length - got.length;
  if (got.length === 0) return { keys: [], contended };

  // A new statement, so a new snapshot taken after the locks were granted.
  const keyed = got.filter((row) => row.keyed).map((row) => row.claim_key);
  const unkeyed = got.filter((row) => !row.keyed).map((row) => row.claim_key);
  const topics = new Set(got.map((row) => `${row.topic}\n${row.claim_key}`));
  const { rows } = await client.query<{
    id: string;
    topic: string;
    ordering_key: string | null;
    payload: string;
    attributes: Record<string, string>;
    attempts: number;
    available: boolean;
    created_at: Date;
  }>({
    name: 'conveyor.outbox.load',
    text: `
      SELECT id, topic, ordering_key, payload::text AS payload, attributes, attempts,
             available_at <= now() AS available, created_at
        FROM outbox
       WHERE published_at IS NULL
         AND (ordering_key = ANY($1::text[]) OR (ordering_key IS NULL AND id = ANY($2::bigint[])))
       ORDER BY id
       LIMIT $3`,
    values: [keyed, unkeyed, Math.max(limit * 4, 1_000)],
  });

  const byKey = new Map<string, ClaimedKey>();
  for (const row of rows) {
    const claimKey = row.ordering_key ?? row.id;
    const mapKey = `${row.topic}\n${claimKey}`;
    // A key we did not lock on this topic (the same ordering key used on another topic).
    if (!topics.has(mapKey)) continue;
    let key = byKey.get(mapKey);
    if (!key) {
      key = { topic: row.topic, orderingKey: row.ordering_key, rows: [] };
      byKey.set(mapKey, key);
    }
    key.rows.push({
      id: Number(row.id),
      topic: row.topic,
      orderingKey: row.ordering_key,
      payload: row.payload,
      attributes: row.attributes,
      attempts: row.attempts,
      available: row.available,
      createdAt: row.created_at,
    });
  }
  return { keys: [...byKey.values()].filter((key) => key.rows[0]!.available), contended };
}

export interface Published {
  id: number;
  messageId: string;
}

export interface Failed {
  id: number;
  /** Try again no sooner than this many milliseconds from now. */
  delayMs: number;
  error: string;
}

/** Records the outcome of a relay cycle in one statement. */
export async function settleOutbox(
  client: Queryable,
  published: readonly Published[],
  failed: readonly Failed[],
): Promise<void> {
  if (published.length === 0 && failed.length === 0) return;
  await client.query({
    name: 'conveyor.outbox.settle',
    text: `
      WITH published AS (
        UPDATE outbox AS o SET published_at = statement_timestamp(), message_id = p.message_id
          FROM unnest($1::bigint[], $2::text[]) AS p(id, message_id)
         WHERE o.id = p.id
      )
      UPDATE outbox AS o
         SET attempts = o.attempts + 1, last_error = f.error,
             available_at = clock_timestamp() + f.delay_ms * interval '1 millisecond'
        FROM unnest($3::bigint[], $4::int[], $5::text[]) AS f(id, delay_ms, error)
       WHERE o.id = f.id`,
    values: [
      published.map((row) => row.id),
      published.map((row) => row.messageId),
      failed.map((row) => row.id),
      failed.map((row) => Math.round(row.delayMs)),
      failed.map((row) => row.error.slice(0, 1_000)),
    ],
  });
}

export interface OutboxStats {
  /** Rows not yet published. */
  backlog: number;
  /** Age of the oldest unpublished row in milliseconds; 0 when there is none. */
  oldestAgeMs: number;
}

export async function outboxStats(client: Queryable): Promise<OutboxStats> {
  const { rows } = await client.query<{ backlog: number; oldest_age_ms: number }>({
    name: 'conveyor.outbox.stats',
    text: `SELECT count(*)::int AS backlog,
                  coalesce(extract(epoch FROM clock_timestamp() - min(created_at)) * 1000, 0)::float8
                    AS oldest_age_ms
             FROM outbox WHERE published_at IS NULL`,
  });
  const row = rows[0]!;
  return { backlog: row.backlog, oldestAgeMs: Math.max(0, Math.round(row.oldest_age_ms)) };
}

/**
 * Deletes up to `limit` rows published more than `olderThanMs` ago; returns how many. The event
 * store keeps the history; the outbox is only the queue to Pub/Sub.
 */
export async function purgePublishedOutbox(
  client: Queryable,
  olderThanMs: number,
  limit = 5_000,
): Promise<number> {
  const result = await client.query(
    `DELETE FROM outbox WHERE id = ANY (ARRAY(
       SELECT id FROM outbox
        WHERE published_at < clock_timestamp() - $1 * interval '1 millisecond'
        ORDER BY id LIMIT $2))`,
    [olderThanMs, limit],
  );
  return result.rowCount ?? 0;
}
