/**
 * The read side of orders: the current state from the projection (written with the events, so it
 * is exactly the fold of the committed history), keyset pages of orders, and the history itself.
 */
import type { Envelope } from '#shared/contracts/envelope.ts';
import { parseEvent } from '#shared/contracts/events/index.ts';
import { replay, type OrderState, type OrderStatus } from '#shared/domain/order/index.ts';
import type { Queryable } from './pool.ts';

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;

/**
 * The current state of an order, or undefined. Read from the projection's state JSON: one row by
 * primary key instead of every event through the upcasters. A projection without state (written
 * before the state column existed) falls back to replaying the history.
 */
export async function loadOrderState(client: Queryable, orderId: string): Promise<OrderState | undefined> {
  if (!UUID.test(orderId)) return undefined;
  const { rows } = await client.query<{ state: OrderState | Record<string, never> }>({
    name: 'conveyor.orders.state',
    text: 'SELECT state FROM orders WHERE id = $1',
    values: [orderId],
  });
  const row = rows[0];
  if (!row) return undefined;
  return 'version' in row.state ? (row.state as OrderState) : replayOrderState(client, orderId);
}

/** The state folded from the event store alone (what the projection must always equal). */
export async function replayOrderState(client: Queryable, orderId: string): Promise<OrderState | undefined> {
  const history = await readOrderHistory(client, orderId);
  return replay(history.map((stored) => parseEvent(stored.envelope)));
}

export interface StoredEvent {
  /** Position in the whole store (replay order). */
  position: number;
  recordedAt: string;
  /** The envelope exactly as it was recorded and published. */
  envelope: Envelope;
}

/** Every event of one order in sequence order; empty for an unknown order. */
export async function readOrderHistory(client: Queryable, orderId: string): Promise<StoredEvent[]> {
  if (!UUID.test(orderId)) return [];
  const { rows } = await client.query<{ position: string; recorded_at: Date; envelope: Envelope }>({
    name: 'conveyor.events.history',
    text: 'SELECT position, recorded_at, envelope FROM events WHERE order_id = $1 ORDER BY sequence',
    values: [orderId],
  });
  return rows.map((row) => ({
    position: Number(row.position),
    recordedAt: row.recorded_at.toISOString(),
    envelope: row.envelope,
  }));
}

/** Where a page ends: the last order's creation time and id (keyset paging, newest first). */
export interface OrderCursor {
  createdAt: string;
  id: string;
}

export interface OrderFilter {
  status?: OrderStatus | undefined;
  customerId?: string | undefined;
  /** Created at or after this instant (ISO 8601). */
  createdAfter?: string | undefined;
  /** Created before this instant (ISO 8601). */
  createdBefore?: string | undefined;
  limit: number;
  after?: OrderCursor | undefined;
}

export interface OrderPage {
  orders: OrderState[];
  /** Where the next page starts; absent on the last page. */
  next?: OrderCursor;
}

/**
 * One page of orders, newest first, using the (status|customer, created_at, id) indexes; a time
 * range narrows the same index scan.
 */
export async function listOrders(client: Queryable, filter: OrderFilter): Promise<OrderPage> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  if (filter.status) conditions.push(`status = ${bind(filter.status)}`);
  if (filter.customerId) conditions.push(`customer_id = ${bind(filter.customerId)}`);
  if (filter.createdAfter) conditions.push(`created_at >= ${bind(filter.createdAfter)}::timestamptz`);
  if (filter.createdBefore) conditions.push(`created_at < ${bind(filter.createdBefore)}::timestamptz`);
  if (filter.after) {
    conditions.push(
      `(created_at, id) < (${bind(filter.after.createdAt)}::timestamptz, ${bind(filter.after.id)}::uuid)`,
    );
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const { rows } = await client.query<{ state: OrderState }>(
    `SELECT state FROM orders ${where} ORDER BY created_at DESC, id DESC LIMIT ${bind(filter.limit + 1)}`,
    values,
  );
  const orders = rows.slice(0, filter.limit).map((row) => row.state);
  const last = orders.at(-1);
  return rows.length > filter.limit && last
    ? { orders, next: { createdAt: last.createdAt, id: last.id } }
    : { orders };
}
