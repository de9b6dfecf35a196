import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import type { DomainEvent } from '#shared/contracts/events/index.ts';
import { ValidationError } from '#shared/errors.ts';
import { createOrderPlacer, type PlaceRequest } from '#shared/orders/place-batch.ts';
import { putCatalogueItem } from '#shared/store/catalogue.ts';
import { findIdempotentRequest } from '#shared/store/idempotency.ts';
import { replayOrderState, loadOrderState } from '#shared/store/orders.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

const address = { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' };

describe('order placement with group commit', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    await putCatalogueItem(
      db.pool,
      { sku: 'BOOK-1', name: 'Book', unitPriceMinor: 1250, currency: 'EUR' },
      't',
    );
  });
  after(() => db.drop());

  const request = (key: string, overrides: Partial<PlaceRequest['input']> = {}): PlaceRequest => ({
    orderId: uuidv7(),
    input: {
      customerId: 'customer-1',
      currency: 'EUR',
      lines: [{ sku: 'BOOK-1', quantity: 1 }],
      shippingAddress: address,
      channel: 'api',
      ...overrides,
    },
    meta: {},
    record: {
      clientId: 'client-1',
      key,
      method: 'POST',
      path: '/v1/orders',
      requestHash: 'h',
      ttlSeconds: 60,
    },
    respond: ({ state }) => ({ status: 202, headers: {}, body: JSON.stringify({ id: state.id }) }),
  });

  it('writes concurrent orders in shared statements, each with its own outcome', async () => {
    const appended: DomainEvent[][] = [];
    // One batch in flight at a time, so that the requests below queue up and share statements.
    const placer = createOrderPlacer(
      {
        db: db.pool,
        clock: () => new Date(),
        newId: uuidv7,
        source: '//conveyor/test',
        onAppended: (events) => appended.push([...events]),
      },
      { maxConcurrentBatches: 1 },
    );
    const fresh = Array.from({ length: 30 }, () => request(randomUUID()));
    const twice = request(`twice-${randomUUID()}`);
    const twin = { ...request(twice.record.key), orderId: uuidv7() };
    const unknownSku = request(randomUUID(), { lines: [{ sku: 'NOPE-1', quantity: 1 }] });
    const results = await Promise.allSettled([...fresh, twice, twin, unknownSku].map((r) => placer.place(r)));

    const outcomes = results.map((result) =>
      result.status === 'fulfilled' ? result.value.outcome : 'rejected',
    );
    assert.deepEqual(outcomes.slice(0, 30), Array(30).fill('created'));
    assert.deepEqual(outcomes.slice(30), ['created', 'duplicate', 'rejected']);
    const rejection = results[32] as PromiseRejectedResult;
    assert.ok(rejection.reason instanceof ValidationError);
    assert.ok(appended.length < 31, `${appended.length} statements for 31 orders`);
    assert.equal(appended.flat().length, 31);

    for (const placed of [...fresh, twice]) {
      const state = await loadOrderState(db.pool, placed.orderId);
      assert.equal(state?.version, 1);
      assert.deepEqual(await replayOrderState(db.pool, placed.orderId), state);
    }
    assert.equal(await loadOrderState(db.pool, twin.orderId), undefined);
    assert.equal(await loadOrderState(db.pool, unknownSku.orderId), undefined);
    const stored = await findIdempotentRequest(db.pool, 'client-1', twice.record.key);
    assert.equal(stored?.response?.body, JSON.stringify({ id: twice.orderId }));
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE ordering_key = ANY($1::text[])',
      [[...fresh, twice, twin, unknownSku].map((r) => r.orderId)],
    );
    assert.equal(rows[0]!.n, 31);
  });

  it('fails a whole batch together when the database does', async () => {
    const broken = createOrderPlacer({
      db: { query: () => Promise.reject(new Error('connection lost')) },
      clock: () => new Date(),
      newId: uuidv7,
      source: '//conveyor/test',
    });
    const results = await Promise.allSettled([
      broken.place(request(randomUUID())),
      broken.place(request(randomUUID())),
    ]);
    assert.ok(
      results.every(
        (result) => result.status === 'rejected' && /connection lost/.test(String(result.reason)),
      ),
    );
  });
});
