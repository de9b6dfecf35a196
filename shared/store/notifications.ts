/** Notifications delivered per (event, subscriber): a redelivered event skips subscribers already served. */
import type { Queryable } from './pool.ts';

/** The subscribers among `subscribers` that already accepted `eventId`. */
export async function notifiedSubscribers(
  db: Queryable,
  eventId: string,
  subscribers: readonly string[],
): Promise<Set<string>> {
  const { rows } = await db.query<{ subscriber: string }>(
    `SELECT subscriber FROM notification_deliveries WHERE event_id = $1 AND subscriber = ANY($2::text[])`,
    [eventId, subscribers],
  );
  return new Set(rows.map((row) => row.subscriber));
}

/** Records that `subscriber` accepted `eventId` (answered 2xx). */
export async function recordNotification(
  db: Queryable,
  eventId: string,
  subscriber: string,
  statusCode: number,
): Promise<void> {
  await db.query(
    `INSERT INTO notification_deliveries (event_id, subscriber, status_code) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    [eventId, subscriber, statusCode],
  );
}
