/**
 * Per-order mutual exclusion across processes: a transaction-scoped advisory lock on the order
 * id, released by commit or rollback (and by the server if the connection dies).
 */
import type { Queryable } from './pool.ts';

/** Advisory lock class of orders: (ORDER_LOCK_CLASS, hashtext(order id)). */
export const ORDER_LOCK_CLASS = 0x0c0d;

/** Waits until this transaction holds the lock of `orderId`; call inside a transaction. */
export async function lockOrder(client: Queryable, orderId: string): Promise<void> {
  await client.query({
    name: 'conveyor.orders.lock',
    text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))',
    values: [ORDER_LOCK_CLASS, orderId],
  });
}
