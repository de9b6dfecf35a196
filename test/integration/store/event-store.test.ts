import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { decide, ORDER_STATUS } from '#shared/domain/order/index.ts';
import {
  AppendConflictError,
  appendEvents,
  appendEventsOnce,
  OUTBOX_CHANNEL,
  type EventMeta,
} from '#shared/store/event-store.ts';
import { findIdempotentRequest, requestHash } from '#shared/store/idempotency.ts';
import { loadOrderState, readOrderHistory, replayOrderState } from '#shared/store/orders.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

const address = { name: 'Ada', line1: '1 Road', city: 'London', postalCode: 'N1', country: 'GB' };
const placed = decide(undefined, {
  type: 'PlaceOrder',
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [
    { sku: 'SKU-1', quantity: 2, unitPriceMinor: 1250 },
    { sku: 'SKU-2', quantity: 1, unitPriceMinor: 500 },
  ],
  shippingAddress: address,
  channel: 'api',
});
const meta = (overrides: Partial<EventMeta> = {}): EventMeta => ({
  time: new Date().toISOString(),
  newId: uuidv7,
  source: '//conveyor/test',
  correlationId: 'correlation-1',
  ...overrides,
});
const cancel = { type: 'RequestCancellation', by: { kind: 'customer', id: 'c' }, reason: 'no' } as const;

async function count(db: TestDatabase, table: string, orderId: string): Promise<number> {
  const column = table === 'outbox' ? 'ordering_key' : table === 'orders' ? 'id::text' : 'order_id::text';
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`,
    [orderId],
  );
  return rows[0]!.n;
}

describe('event store', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase()));
  after(() => db.drop());

  it('writes events, projection, lines and outbox rows in one statement', async () => {
    const orderId = uuidv7();
    const appended = await appendEvents(
      db.pool,
      orderId,
      0,
      placed,
      meta({ traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` }),
    );
    assert.equal(appended.state.status, ORDER_STATUS.placed);
    assert.equal(appended.state.version, 1);
    assert.equal(appended.events[0]!.type, EVENT_TYPE.orderCreated);

    const { rows: orders } = await db.pool.query(
      'SELECT status, version, total_minor, customer_id, currency FROM orders WHERE id = $1',
      [orderId],
    );
    assert.deepEqual(orders[0], {
      status: 'placed',
      version: 1,
      total_minor: '3000',
      customer_id: 'customer-1',
      currency: 'EUR',
    });
    const { rows: lines } = await db.pool.query(
      'SELECT line_no, sku, quantity, unit_price_minor FROM order_lines WHERE order_id = $1 ORDER BY line_no',
      [orderId],
    );
    assert.deepEqual(lines, [
      { line_no: 1, sku: 'SKU-1', quantity: 2, unit_price_minor: '1250' },
      { line_no: 2, sku: 'SKU-2', quantity: 1, unit_price_minor: '500' },
    ]);
    const { rows: outbox } = await db.pool.query(
      'SELECT event_id, topic, ordering_key, payload, attributes, published_at FROM outbox WHERE ordering_key = $1',
      [orderId],
    );
    assert.equal(outbox.length, 1);
    assert.equal(outbox[0].topic, 'order-events');
    assert.equal(outbox[0].event_id, appended.events[0]!.id);
    assert.deepEqual(outbox[0].payload, appended.events[0]);
    assert.equal(outbox[0].attributes[ATTRIBUTE.type], 'order.created.v1');
    assert.equal(outbox[0].attributes[ATTRIBUTE.sequence], '1');
    assert.equal(outbox[0].attributes[ATTRIBUTE.subject], orderId);
    assert.equal(outbox[0].attributes[ATTRIBUTE.traceparent], appended.events[0]!.traceparent);
    assert.equal(outbox[0].published_at, null);

    assert.deepEqual(await loadOrderState(db.pool, orderId), appended.state);
    assert.deepEqual(await replayOrderState(db.pool, orderId), appended.state);
  });

  it('appends at the expected version and refuses a stale one, writing nothing', async () => {
    const orderId = uuidv7();
    const created = await appendEvents(db.pool, orderId, 0, placed, meta());
    const cancelled = await appendEvents(db.pool, orderId, 1, decide(created.state, cancel), meta(), {
      current: created.state,
    });
    assert.equal(cancelled.state.version, 2);
    assert.equal(cancelled.state.status, ORDER_STATUS.cancelling);

    await assert.rejects(
      appendEvents(db.pool, orderId, 1, decide(created.state, cancel), meta(), { current: created.state }),
      AppendConflictError,
    );
    // Without the state in hand the store reads it, and still refuses.
    await assert.rejects(
      appendEvents(db.pool, orderId, 1, decide(created.state, cancel), meta()),
      AppendConflictError,
    );
    await assert.rejects(appendEvents(db.pool, orderId, 0, placed, meta()), AppendConflictError);
    assert.equal(await count(db, 'events', orderId), 2);
    assert.equal(await count(db, 'outbox', orderId), 2);
    assert.deepEqual(await replayOrderState(db.pool, orderId), await loadOrderState(db.pool, orderId));
  });

  it('lets exactly one of many concurrent writers at one version win', async () => {
    const orderId = uuidv7();
    const created = await appendEvents(db.pool, orderId, 0, placed, meta());
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        appendEvents(db.pool, orderId, 1, decide(created.state, cancel), meta(), { current: created.state }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const result of results) {
      if (result.status === 'rejected')
        assert.ok(result.reason instanceof AppendConflictError, String(result.reason));
    }
    const creators = await Promise.allSettled(
      Array.from({ length: 8 }, () => appendEvents(db.pool, orderId, 0, placed, meta())),
    );
    assert.ok(creators.every((r) => r.status === 'rejected' && r.reason instanceof AppendConflictError));
    assert.equal(await count(db, 'events', orderId), 2);
    assert.equal(await count(db, 'outbox', orderId), 2);
  });

  it('joins the caller transaction: a rollback leaves nothing behind', async () => {
    const orderId = uuidv7();
    await assert.rejects(
      withTransaction(db.pool, async (client) => {
        await appendEvents(client, orderId, 0, placed, meta());
        assert.equal(await count({ pool: client } as never, 'events', orderId), 1);
        throw new Error('the caller fails after appending');
      }),
      /caller fails/,
    );
    for (const table of ['orders', 'order_lines', 'events', 'outbox']) {
      assert.equal(await count(db, table, orderId), 0, table);
    }
  });

  it('records an idempotency key with the order, once', async () => {
    const record = {
      clientId: 'client-1',
      key: `key-${uuidv7()}`,
      method: 'POST',
      path: '/v1/orders',
      requestHash: requestHash('POST', '/v1/orders', { a: 1 }),
      ttlSeconds: 60,
    };
    const respond = () => ({ status: 202, headers: { location: '/x' }, body: '{"b": 1,"a":2}' });
    const first = uuidv7();
    const created = await appendEventsOnce(db.pool, record, first, placed, meta(), respond);
    assert.ok(created);
    const second = uuidv7();
    assert.equal(await appendEventsOnce(db.pool, record, second, placed, meta(), respond), undefined);
    assert.equal(await count(db, 'orders', second), 0);
    assert.equal(await count(db, 'outbox', second), 0);
    const stored = await findIdempotentRequest(db.pool, 'client-1', record.key);
    assert.deepEqual(stored?.response, respond());
    assert.equal(stored?.requestHash, record.requestHash);

    // An expired key is taken over by the next request.
    await db.pool.query(
      `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`,
      [record.key],
    );
    assert.equal(await findIdempotentRequest(db.pool, 'client-1', record.key), undefined);
    const third = uuidv7();
    assert.ok(
      await appendEventsOnce(db.pool, { ...record, requestHash: 'other' }, third, placed, meta(), respond),
    );
    assert.equal((await findIdempotentRequest(db.pool, 'client-1', record.key))?.requestHash, 'other');
  });

  it('makes concurrent requests with one key wait for the first and write one order', async () => {
    const record = {
      clientId: 'client-2',
      key: 'same',
      method: 'POST',
      path: '/v1/orders',
      requestHash: 'h',
      ttlSeconds: 60,
    };
    const respond = () => ({ status: 202, headers: {}, body: '{}' });
    const ids = Array.from({ length: 15 }, () => uuidv7());
    const results = await Promise.all(
      ids.map((id) => appendEventsOnce(db.pool, record, id, placed, meta(), respond)),
    );
    assert.equal(results.filter(Boolean).length, 1);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[])',
      [ids],
    );
    assert.equal(rows[0]!.n, 1);
  });

  it('notifies listeners on commit when asked to', async () => {
    const listener = new pg.Client(db.url);
    await listener.connect();
    try {
      await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
      const heard = new Promise<string | undefined>((resolve) =>
        listener.once('notification', (message: pg.Notification) => resolve(message.payload)),
      );
      await appendEvents(db.pool, uuidv7(), 0, placed, meta(), { notify: true });
      assert.equal(await heard, 'order-events');
    } finally {
      await listener.end();
    }
  });

  it('keeps the history in sequence order with the envelopes as published', async () => {
    const orderId = uuidv7();
    const created = await appendEvents(db.pool, orderId, 0, placed, meta());
    const more = await appendEvents(
      db.pool,
      orderId,
      1,
      [
        { type: EVENT_TYPE.inventoryReserved, data: { lines: [{ sku: 'SKU-1', quantity: 2 }] } },
        {
          type: EVENT_TYPE.paymentRequested,
          data: { paymentId: 'p1', amountMinor: 3000, currency: 'EUR', idempotencyKey: 'k' },
        },
      ],
      meta(),
      { current: created.state },
    );
    assert.equal(more.state.status, ORDER_STATUS.paymentPending);
    const history = await readOrderHistory(db.pool, orderId);
    assert.deepEqual(
      history.map((stored) => stored.envelope.sequence),
      [1, 2, 3],
    );
    assert.deepEqual(
      history.map((stored) => stored.envelope),
      [...created.events, ...more.events],
    );
    const { rows } = await db.pool.query<{ sequence: string }>(
      `SELECT attributes->>'ce-sequence' AS sequence FROM outbox WHERE ordering_key = $1 ORDER BY id`,
      [orderId],
    );
    assert.deepEqual(
      rows.map((row) => row.sequence),
      ['1', '2', '3'],
    );
    assert.deepEqual(await replayOrderState(db.pool, orderId), more.state);
    assert.deepEqual(await readOrderHistory(db.pool, 'not-a-uuid'), []);
  });
});
