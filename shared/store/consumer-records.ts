/**
 * What consumers remember about messages: that one was processed (its idempotency record) and why
 * one failed last (so its dead letter can say why).
 */
import type { Queryable } from './pool.ts';

/**
 * Records that `consumer` processed `eventId`. Returns false when it already had: the caller must
 * then skip its effect. Call it inside the transaction of the effect, so that both commit or
 * neither does (at-least-once delivery becomes effectively-once).
 */
export async function markProcessed(db: Queryable, consumer: string, eventId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO processed_messages (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [consumer, eventId],
  );
  return rowCount === 1;
}

/** Whether `consumer` already processed `eventId` (a read-only check before expensive work). */
export async function wasProcessed(db: Queryable, consumer: string, eventId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM processed_messages WHERE consumer = $1 AND event_id = $2`,
    [consumer, eventId],
  );
  return rowCount === 1;
}

export interface MessageFailure {
  attempts: number;
  lastError: string;
  firstFailedAt: Date;
  lastFailedAt: Date;
}

/** Counts one more failed attempt of `eventId` at `consumer`, keeping the latest error. */
export async function recordFailure(
  db: Queryable,
  consumer: string,
  eventId: string,
  error: string,
): Promise<void> {
  await db.query(
    `INSERT INTO message_failures (consumer, event_id, last_error) VALUES ($1, $2, $3)
     ON CONFLICT (consumer, event_id) DO UPDATE
       SET attempts = message_failures.attempts + 1, last_error = EXCLUDED.last_error, last_failed_at = now()`,
    [consumer, eventId, error.slice(0, 4_000)],
  );
}

export async function lastFailure(
  db: Queryable,
  consumer: string,
  eventId: string,
): Promise<MessageFailure | undefined> {
  const { rows } = await db.query<{
    attempts: number;
    last_error: string;
    first_failed_at: Date;
    last_failed_at: Date;
  }>(
    `SELECT attempts, last_error, first_failed_at, last_failed_at FROM message_failures
     WHERE consumer = $1 AND event_id = $2`,
    [consumer, eventId],
  );
  const row = rows[0];
  return row
    ? {
        attempts: row.attempts,
        lastError: row.last_error,
        firstFailedAt: row.first_failed_at,
        lastFailedAt: row.last_failed_at,
      }
    : undefined;
}
