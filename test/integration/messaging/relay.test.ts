import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import type { PubSub } from '@google-cloud/pubsub';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { decide, type Decision, type OrderState } from '#shared/domain/order/index.ts';
import {
  createOrderedTopicPublisher,
  createPubSubPublisher,
  type Publisher,
} from '#shared/messaging/publisher.ts';
import { createOutboxRelay, type OutboxRelay } from '#shared/messaging/relay.ts';
import { appendEvents, type EventMeta } from '#shared/store/event-store.ts';
import { createPool } from '#shared/store/pool.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import {
  checkOrdering,
  collect,
  PROJECT_ID,
  pubsubClient,
  startEmulator,
  type Collector,
} from '../../helpers/pubsub.ts';

const TOPIC = 'order-events';
const address = { name: 'Ada', line1: '1 Road', city: 'London', postalCode: 'N1', country: 'GB' };
const placed = decide(undefined, {
  type: 'PlaceOrder',
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 2, unitPriceMinor: 1250 }],
  shippingAddress: address,
  channel: 'api',
});
const meta = (): EventMeta => ({
  time: new Date().toISOString(),
  newId: uuidv7,
  source: '//conveyor/test',
  correlationId: 'c',
});
/** Events after order.created that the domain accepts in this order. */
const FOLLOW_UPS: Decision[] = [
  { type: EVENT_TYPE.inventoryReserved, data: { lines: [{ sku: 'SKU-1', quantity: 2 }] } },
  {
    type: EVENT_TYPE.paymentRequested,
    data: { paymentId: 'p', amountMinor: 2500, currency: 'EUR', idempotencyKey: 'k' },
  },
  {
    type: EVENT_TYPE.orderCancellationRequested,
    data: { reasonCode: 'customer_request', requestedBy: { kind: 'customer', id: 'c' }, reason: 'r' },
  },
];

async function pending(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
  );
  return rows[0]!.n;
}

/**
 * Publishes through `inner` except while `fail` says so for a message's key; like the real
 * adapters, the later messages of a failed key in the same call fail too.
 */
function failing(inner: Publisher, fail: (orderingKey: string | undefined) => boolean): Publisher {
  return {
    async publish(topic, messages) {
      const failedKeys = new Set<string>();
      const failures = messages.map((message) => {
        const key = message.orderingKey;
        const failed = (key !== undefined && failedKeys.has(key)) || fail(key);
        if (failed && key) failedKeys.add(key);
        return failed;
      });
      const forwarded = messages.filter((_, index) => !failures[index]);
      const results = forwarded.length > 0 ? await inner.publish(topic, forwarded) : [];
      let next = 0;
      return failures.map((failed) =>
        failed ? { error: new Error('injected publish failure') } : results[next++]!,
      );
    },
    close: () => inner.close(),
  };
}

const ADAPTERS = [
  ['one request per batch (generated client)', createPubSubPublisher],
  ['per-key batches (ordered Topic client)', createOrderedTopicPublisher],
] as const;

for (const [adapter, createPublisher] of ADAPTERS)
  describe(`outbox relay, ${adapter}`, () => {
    let db: TestDatabase;
    let emulator: PubSubEmulator;
    let pubsub: PubSub;
    let collector: Collector;
    let publisher: Publisher;
    const relays: OutboxRelay[] = [];

    const relay = (options: Partial<Parameters<typeof createOutboxRelay>[0]> = {}) => {
      const created = createOutboxRelay({
        pool: db.pool,
        publisher,
        sweepIntervalMs: 0,
        backoff: { initialMs: 50, maxMs: 500 },
        ...options,
      });
      relays.push(created);
      return created;
    };
    const received = (orderId: string) => collector.received.filter((event) => event.orderingKey === orderId);

    before(async () => {
      db = await createTestDatabase();
      emulator = await startEmulator();
      pubsub = pubsubClient(emulator.address);
      collector = await collect(pubsub, TOPIC, `relay-${randomUUID()}`);
      publisher = createPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    });
    after(async () => {
      for (const created of relays) await created.stop({ flushTimeoutMs: 100 });
      await collector.close();
      await publisher.close();
      await pubsub.close();
      await emulator.stop();
      await db.drop();
    });

    it('publishes committed rows with the order id as ordering key and ce-* attributes', async () => {
      const orderId = uuidv7();
      const created = await appendEvents(db.pool, orderId, 0, placed, meta());
      const result = await relay().sweep();
      assert.ok(result.published >= 1);
      await collector.waitFor(() => received(orderId).length === 1);
      const [event] = received(orderId);
      assert.equal(event!.orderingKey, orderId);
      assert.equal(event!.attributes[ATTRIBUTE.type], 'order.created.v1');
      assert.equal(event!.attributes[ATTRIBUTE.sequence], '1');
      assert.equal(event!.attributes[ATTRIBUTE.subject], orderId);
      assert.equal(event!.eventId, created.events[0]!.id);
      assert.deepEqual(event!.data, created.events[0]);
      const { rows } = await db.pool.query(
        'SELECT published_at, message_id, attempts FROM outbox WHERE ordering_key = $1',
        [orderId],
      );
      assert.ok(rows[0].published_at instanceof Date);
      assert.equal(rows[0].message_id, event!.messageId);
      assert.equal(rows[0].attempts, 0);
    });

    it('never skips a row committed late by a slower transaction', async () => {
      const slowOrder = uuidv7();
      const fastOrder = uuidv7();
      const testRelay = relay();
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let appended!: () => void;
      const slowAppended = new Promise<void>((resolve) => (appended = resolve));
      // The slow transaction takes its outbox id first and commits last.
      const slow = withTransaction(db.pool, async (client) => {
        await appendEvents(client, slowOrder, 0, placed, meta());
        appended();
        await released;
      });
      await slowAppended;
      await appendEvents(db.pool, fastOrder, 0, placed, meta());
      await testRelay.sweep();
      await collector.waitFor(() => received(fastOrder).length === 1);
      assert.equal(received(slowOrder).length, 0);
      release();
      await slow;
      await testRelay.sweep();
      await collector.waitFor(() => received(slowOrder).length === 1);
    });

    it('backs a failing key off as a whole: nothing of it overtakes the failed row', async () => {
      const orderId = uuidv7();
      // The key fails on two attempts.
      let failures = 2;
      const testRelay = relay({
        publisher: failing(publisher, (key) => key === orderId && failures-- > 0),
      });
      let state: OrderState = (await appendEvents(db.pool, orderId, 0, placed, meta())).state;
      state = (await appendEvents(db.pool, orderId, 1, FOLLOW_UPS.slice(0, 2), meta(), { current: state }))
        .state;
      await testRelay.sweep();
      const { rows: afterFailure } = await db.pool.query<{
        attempts: number;
        last_error: string;
        published_at: Date | null;
      }>('SELECT attempts, last_error, published_at FROM outbox WHERE ordering_key = $1 ORDER BY id', [
        orderId,
      ]);
      assert.ok(afterFailure.every((row) => row.published_at === null && row.attempts === 1));
      assert.match(afterFailure[0]!.last_error, /injected publish failure/);
      // A new row of the key is due at once, but must wait for its predecessors.
      await appendEvents(db.pool, orderId, 3, FOLLOW_UPS.slice(2), meta(), { current: state });
      await testRelay.sweep();
      assert.equal(received(orderId).length, 0);

      const deadline = Date.now() + 20_000;
      while ((await pending(db)) > 0 && Date.now() < deadline) await testRelay.sweep();
      await collector.waitFor(() => received(orderId).length >= 4);
      assert.deepEqual(
        received(orderId).map((event) => event.sequence),
        [1, 2, 3, 4],
      );
      const { rows } = await db.pool.query<{ attempts: number }>(
        'SELECT attempts FROM outbox WHERE ordering_key = $1 ORDER BY id',
        [orderId],
      );
      // The second failure also took the newer row down with its key.
      assert.deepEqual(
        rows.map((row) => row.attempts),
        [2, 2, 2, 1],
      );
    });

    it('runs as several instances on one outbox: every row published, per-key order kept, no duplicates', async () => {
      const instances = Array.from({ length: 4 }, () => {
        const pool = createPool({ url: db.url, applicationName: 'relay-instance', max: 3 });
        const instancePublisher = createPublisher({
          projectId: PROJECT_ID,
          emulatorHost: emulator.address,
        });
        return {
          pool,
          publisher: instancePublisher,
          relay: relay({ pool, publisher: instancePublisher, batchSize: 50 }),
        };
      });
      const orders = Array.from({ length: 60 }, () => uuidv7());
      const states = new Map<string, OrderState>();
      let writing = true;
      // Every instance relays continuously while the writer appends, as API instances would.
      const relaying = instances.map(async ({ relay: instanceRelay }) => {
        while (writing) {
          await instanceRelay.sweep();
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      for (let round = 0; round < 1 + FOLLOW_UPS.length; round++) {
        await Promise.all(
          orders.map(async (orderId) => {
            const state = states.get(orderId);
            const appended = await appendEvents(
              db.pool,
              orderId,
              round,
              round === 0 ? placed : [FOLLOW_UPS[round - 1]!],
              meta(),
              { current: state },
            );
            states.set(orderId, appended.state);
          }),
        );
      }
      writing = false;
      await Promise.all(relaying);
      for (const instance of instances) await instance.relay.sweep();
      assert.equal(await pending(db), 0);
      const expected = orders.length * (1 + FOLLOW_UPS.length);
      const mine = () => collector.received.filter((event) => orders.includes(event.orderingKey));
      await collector.waitFor(() => new Set(mine().map((event) => event.eventId)).size === expected);
      const { problems, duplicates } = checkOrdering(mine());
      assert.deepEqual(problems, []);
      assert.equal(duplicates, 0);
      for (const instance of instances) {
        await instance.relay.stop({ flushTimeoutMs: 100 });
        await instance.publisher.close();
        await instance.pool.end();
      }
    });

    it('wakes on NOTIFY from a writer in another process', async () => {
      const listening = relay({ listen: { connectionString: db.url } });
      listening.start();
      // The listener connects asynchronously; a NOTIFY before it listens would still be found by
      // the catch-up cycle it runs once listening, so the test cannot pass by luck either way.
      const orderId = uuidv7();
      const client = new pg.Client(db.url);
      await client.connect();
      try {
        await appendEvents(client, orderId, 0, placed, meta(), { notify: true });
      } finally {
        await client.end();
      }
      await collector.waitFor(() => received(orderId).length === 1, 15_000);
      await listening.stop();
    });

    it('flushes what is due on stop, and reports the backlog', async () => {
      const stopping = relay();
      const orderId = uuidv7();
      await appendEvents(db.pool, orderId, 0, placed, meta());
      const stats = await stopping.stats();
      assert.ok(stats.backlog >= 1);
      assert.ok(stats.oldestAgeMs >= 0);
      await stopping.stop();
      await collector.waitFor(() => received(orderId).length === 1);
      stopping.trigger(); // a stopped relay ignores triggers
    });
  });
