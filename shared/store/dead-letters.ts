/**
 * Dead letters in Postgres: stored once per open message by the dead-letter function, listed and
 * inspected by operators, redriven (republished to their source topic) or discarded. The status
 * moves only from open, and every change names the operator in audit_log in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from './pool.ts';
import { appendAudit } from './audit.ts';

export const DEAD_LETTER_STATUSES = ['open', 'redriven', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

export interface NewDeadLetter {
  /** The message id of the original message at its source (or of the dead letter, if unknown). */
  messageId: string;
  sourceSubscription: string;
  sourceTopic: string | undefined;
  eventId: string | undefined;
  eventType: string | undefined;
  orderId: string | undefined;
  orderingKey: string | undefined;
  data: Buffer;
  attributes: Record<string, string>;
  attempts: number;
  lastError: string | undefined;
  deadLetteredAt: Date;
}

export interface DeadLetter extends NewDeadLetter {
  id: string;
  status: DeadLetterStatus;
  statusReason: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  message_id: string;
  source_subscription: string;
  source_topic: string | null;
  event_id: string | null;
  event_type: string | null;
  order_id: string | null;
  ordering_key: string | null;
  data: Buffer;
  attributes: Record<string, string>;
  attempts: number;
  last_error: string | null;
  status: DeadLetterStatus;
  status_reason: string | null;
  dead_lettered_at: Date;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, message_id, source_subscription, source_topic, event_id, event_type, order_id, ordering_key,
  data, attributes, attempts, last_error, status, status_reason, dead_lettered_at, created_at, updated_at`;

const letterOf = (row: Row): DeadLetter => ({
  id: row.id,
  messageId: row.message_id,
  sourceSubscription: row.source_subscription,
  sourceTopic: row.source_topic ?? undefined,
  eventId: row.event_id ?? undefined,
  eventType: row.event_type ?? undefined,
  orderId: row.order_id ?? undefined,
  orderingKey: row.ordering_key ?? undefined,
  data: row.data,
  attributes: row.attributes,
  attempts: row.attempts,
  lastError: row.last_error ?? undefined,
  status: row.status,
  statusReason: row.status_reason ?? undefined,
  deadLetteredAt: row.dead_lettered_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * Stores a dead letter; returns its id, or undefined when the same event of the same subscription
 * is already open (a consumer or Pub/Sub forwarded it twice).
 */
export async function storeDeadLetter(db: Queryable, letter: NewDeadLetter): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO dead_letters (id, message_id, source_subscription, source_topic, event_id, event_type,
                               order_id, ordering_key, data, attributes, attempts, last_error, dead_lettered_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (source_subscription, event_id) WHERE status = 'open' AND event_id IS NOT NULL DO NOTHING
     RETURNING id`,
    [
      randomUUID(),
      letter.messageId,
      letter.sourceSubscription,
      letter.sourceTopic ?? null,
      letter.eventId ?? null,
      letter.eventType ?? null,
      letter.orderId ?? null,
      letter.orderingKey ?? null,
      letter.data,
      JSON.stringify(letter.attributes),
      letter.attempts,
      letter.lastError?.slice(0, 4_000) ?? null,
      letter.deadLetteredAt.toISOString(),
    ],
  );
  return rows[0]?.id;
}

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;

export async function getDeadLetter(db: Queryable, id: string): Promise<DeadLetter | undefined> {
  if (!UUID.test(id)) return undefined;
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1`, [id]);
  return rows[0] ? letterOf(rows[0]) : undefined;
}

export interface DeadLetterFilter {
  status?: DeadLetterStatus | undefined;
  subscription?: string | undefined;
  orderId?: string | undefined;
  eventType?: string | undefined;
}

export interface DeadLetterCursor {
  deadLetteredAt: string;
  id: string;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  next?: DeadLetterCursor;
}

function where(filter: DeadLetterFilter, values: unknown[]): string[] {
  const bind = (value: unknown) => `$${values.push(value)}`;
  const conditions: string[] = [];
  if (filter.status) conditions.push(`status = ${bind(filter.status)}`);
  if (filter.subscription) conditions.push(`source_subscription = ${bind(filter.subscription)}`);
  if (filter.orderId) conditions.push(`order_id = ${bind(filter.orderId)}`);
  if (filter.eventType) conditions.push(`event_type = ${bind(filter.eventType)}`);
  return conditions;
}

/** One page, newest first (keyset on dead_lettered_at, id). */
export async function listDeadLetters(
  db: Queryable,
  filter: DeadLetterFilter & { limit: number; after?: DeadLetterCursor | undefined },
): Promise<DeadLetterPage> {
  const values: unknown[] = [];
  const conditions = where(filter, values);
  if (filter.after) {
    values.push(filter.after.deadLetteredAt, filter.after.id);
    conditions.push(`(dead_lettered_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(filter.limit + 1);
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM dead_letters ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
      ORDER BY dead_lettered_at DESC, id DESC LIMIT $${values.length}`,
    values,
  );
  const items = rows.slice(0, filter.limit).map(letterOf);
  const last = items.at(-1);
  return rows.length > filter.limit && last
    ? { items, next: { deadLetteredAt: last.deadLetteredAt.toISOString(), id: last.id } }
    : { items };
}

/** Open dead letters matching `filter`, oldest first, locked for this transaction (skipping locked ones). */
export async function lockOpenDeadLetters(
  db: Queryable,
  filter: Omit<DeadLetterFilter, 'status'>,
  limit: number,
): Promise<DeadLetter[]> {
  const values: unknown[] = [];
  const conditions = [`status = 'open'`, ...where(filter, values)];
  values.push(limit);
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM dead_letters WHERE ${conditions.join(' AND ')}
      ORDER BY dead_lettered_at, id LIMIT $${values.length} FOR UPDATE SKIP LOCKED`,
    values,
  );
  return rows.map(letterOf);
}

/** Locks one dead letter for this transaction; undefined when there is none. */
export async function lockDeadLetter(db: Queryable, id: string): Promise<DeadLetter | undefined> {
  if (!UUID.test(id)) return undefined;
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ? letterOf(rows[0]) : undefined;
}

/**
 * Moves an open dead letter to `status` and audits it, in the caller's transaction. Returns false
 * when it was not open (someone else acted first).
 */
export async function closeDeadLetter(
  db: Queryable,
  id: string,
  change: {
    status: 'redriven' | 'discarded';
    reason: string;
    actor: string;
    details?: Record<string, unknown>;
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE dead_letters SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1 AND status = 'open'`,
    [id, change.status, change.reason.slice(0, 1_000)],
  );
  if (rowCount !== 1) return false;
  await appendAudit(db, {
    actor: change.actor,
    action: change.status === 'redriven' ? 'dead_letter.redrive' : 'dead_letter.discard',
    targetType: 'dead_letter',
    targetId: id,
    details: { reason: change.reason, ...change.details },
  });
  return true;
}
