/**
 * Pub/Sub unavailable for 10 s while the API takes orders: the accept path does not depend on it,
 * the relay backs off, and once Pub/Sub answers again every event arrives, in order per order.
 * Pub/Sub is made unavailable by a proxy in front of the emulator that closes every connection and
 * refuses new ones, then listens again on the same port: to the relay's client that is a stopped
 * and restarted server, while the emulator keeps its subscription (an in-memory emulator restarted
 * for real would lose the very messages this test counts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import type { Order } from '../../../api/routes/orders/schemas.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createOutboxRelay, type OutboxRelay } from '#shared/messaging/relay.ts';
import { startPubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { decide } from '#shared/domain/order/index.ts';
import { appendEvents } from '#shared/store/event-store.ts';
import { v7 as uuidv7 } from 'uuid';
import { orderBody, startTestApi, type TestApi } from '../../helpers/api.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import {
  checkOrdering,
  collect,
  PROJECT_ID,
  pubsubClient,
  startEmulator,
  startTcpProxy,
  type Collector,
  type TcpProxy,
} from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';

const OUTAGE_MS = 10_000;
const WORKERS = 8;

describe('Pub/Sub outage under load', () => {
  let db: TestDatabase;
  let emulator: PubSubEmulator;
  let proxy: TcpProxy;
  let pubsub: PubSub;
  let collector: Collector;
  let publisher: Publisher;
  let relay: OutboxRelay;
  let api: TestApi;

  before(async () => {
    db = await createTestDatabase();
    emulator = await startEmulator();
    proxy = await startTcpProxy(emulator.address);
    pubsub = pubsubClient(emulator.address);
    collector = await collect(pubsub, 'order-events', `outage-${randomUUID()}`);
    publisher = createPubSubPublisher({
      projectId: PROJECT_ID,
      emulatorHost: proxy.address,
      publishTimeoutMs: 2_000,
    });
    relay = createOutboxRelay({
      pool: db.pool,
      publisher,
      sweepIntervalMs: 500,
      backoff: { initialMs: 250, maxMs: 2_000 },
    });
    relay.start();
    api = await startTestApi({ db, relay });
  });
  after(async () => {
    await api.close();
    await relay.stop({ flushTimeoutMs: 1_000 });
    await publisher.close();
    await collector.close();
    await pubsub.close();
    await proxy.close();
    await emulator.stop();
    await db.drop();
  });

  it('loses nothing and keeps each order in order', async () => {
    const customerId = `outage-${randomUUID()}`;
    const orders: string[] = [];
    const statuses = new Map<number, number>();
    let running = true;
    let acceptedDuringOutage = 0;
    let outage = false;
    const worker = async () => {
      while (running) {
        const placed = await api.request('POST', '/v1/orders', {
          body: orderBody({ customerId }),
          headers: { 'idempotency-key': randomUUID() },
        });
        statuses.set(placed.statusCode, (statuses.get(placed.statusCode) ?? 0) + 1);
        if (placed.statusCode !== 202) continue;
        const { id } = placed.json<Order>();
        orders.push(id);
        if (outage) acceptedDuringOutage++;
        // A second event on the same key, so the order of the two can be checked.
        const cancelled = await api.request('POST', `/v1/orders/${id}/cancel`, { body: { reason: 'test' } });
        statuses.set(cancelled.statusCode, (statuses.get(cancelled.statusCode) ?? 0) + 1);
      }
    };
    const load = Array.from({ length: WORKERS }, worker);

    await waitUntil(() => orders.length >= 20, { what: 'orders before the outage' });
    await proxy.pause();
    outage = true;
    const outageStarted = Date.now();
    await waitUntil(() => Date.now() - outageStarted >= OUTAGE_MS, {
      timeoutMs: OUTAGE_MS * 2,
      intervalMs: 250,
    });
    const backlogDuringOutage = (await relay.stats()).backlog;
    await proxy.resume();
    outage = false;
    await waitUntil(() => orders.length >= acceptedDuringOutage + 40, { what: 'orders after the outage' });
    running = false;
    await Promise.all(load);

    assert.deepEqual(
      [...statuses.keys()].filter((status) => status !== 202),
      [],
      'every request was accepted',
    );
    assert.ok(acceptedDuringOutage > 0, 'orders were accepted while Pub/Sub was down');
    assert.ok(backlogDuringOutage > 0, 'the outbox held them meanwhile');

    const expected = orders.length * 2;
    const mine = () => collector.received.filter((event) => event.subject && orders.includes(event.subject));
    await waitUntil(async () => (await relay.stats()).backlog === 0, {
      timeoutMs: 60_000,
      what: 'an empty outbox',
    });
    await collector.waitFor(() => new Set(mine().map((event) => event.eventId)).size === expected, 60_000);
    const { problems, duplicates } = checkOrdering(mine());
    assert.deepEqual(problems, []);
    // Duplicates can only come from a publish Pub/Sub accepted whose answer the cut connection lost.
    assert.ok(duplicates <= expected * 0.05, `${duplicates} duplicate publishes of ${expected} events`);
    console.log(
      `outage: ${orders.length} orders, ${expected} events, ${acceptedDuringOutage} orders accepted during the ` +
        `${OUTAGE_MS / 1000} s outage (backlog ${backlogDuringOutage}), ${duplicates} duplicate publishes`,
    );
  });

  it('reconnects to an emulator restarted on the same port', async () => {
    // Its own database: the relay of the other test must not take these rows.
    const restartDb = await createTestDatabase();
    const first = await startEmulator();
    const port = first.port;
    const clientOf = () => pubsubClient(`127.0.0.1:${port}`);
    const restartPublisher = createPubSubPublisher({
      projectId: PROJECT_ID,
      emulatorHost: first.address,
      publishTimeoutMs: 500,
    });
    // A fixed 2 s backoff: the retry after the restart comes well after the test has recreated the
    // topic and subscription on the new emulator (which starts empty).
    const restartRelay = createOutboxRelay({
      pool: restartDb.pool,
      publisher: restartPublisher,
      sweepIntervalMs: 100,
      backoff: { initialMs: 2_000, maxMs: 2_000 },
      random: () => 0.5,
    });
    const placed = decide(undefined, {
      type: 'PlaceOrder',
      customerId: 'restart',
      currency: 'EUR',
      lines: [{ sku: 'BOOK-1', quantity: 1, unitPriceMinor: 1250 }],
      shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
      channel: 'api',
    });
    const meta = () => ({
      time: new Date().toISOString(),
      newId: uuidv7,
      source: '//conveyor/test',
      correlationId: 'r',
    });
    let pubsubBefore = clientOf();
    const before = await collect(pubsubBefore, 'order-events', 'restart');
    restartRelay.start();
    const beforeId = uuidv7();
    await appendEvents(restartDb.pool, beforeId, 0, placed, meta());
    restartRelay.trigger();
    await before.waitFor((received) => received.some((event) => event.subject === beforeId));
    await before.close();
    await pubsubBefore.close();

    await first.stop();
    const duringId = uuidv7();
    await appendEvents(restartDb.pool, duringId, 0, placed, meta());
    restartRelay.trigger();
    await waitUntil(
      async () =>
        (
          await restartDb.pool.query('SELECT 1 FROM outbox WHERE ordering_key = $1 AND attempts > 0', [
            duringId,
          ])
        ).rowCount,
      { what: 'a failed publish while the emulator is down' },
    );
    const second = await startPubSubEmulator({ host: '127.0.0.1', port, log: () => {} });
    pubsubBefore = clientOf();
    const after = await collect(pubsubBefore, 'order-events', 'restart');
    try {
      await after.waitFor((received) => received.some((event) => event.subject === duringId), 20_000);
    } finally {
      await restartRelay.stop({ flushTimeoutMs: 100 });
      await restartPublisher.close();
      await after.close();
      await pubsubBefore.close();
      await second.stop();
      await restartDb.drop();
    }
  });
});
