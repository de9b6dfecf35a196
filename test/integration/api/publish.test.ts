/**
 * The accept path end to end on real Postgres and the local Pub/Sub emulator: an accepted order is
 * published to order-events by the API's in-process relay, and concurrent duplicates of one
 * request make one order and one event.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import type { Order } from '../../../api/routes/orders/schemas.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createOutboxRelay, type OutboxRelay } from '#shared/messaging/relay.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { orderBody, startTestApi, type TestApi } from '../../helpers/api.ts';
import {
  checkOrdering,
  collect,
  PROJECT_ID,
  pubsubClient,
  startEmulator,
  type Collector,
} from '../../helpers/pubsub.ts';

describe('accept path: HTTP → Postgres → Pub/Sub', () => {
  let db: TestDatabase;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let collector: Collector;
  let publisher: Publisher;
  let relay: OutboxRelay;
  let api: TestApi;

  before(async () => {
    db = await createTestDatabase();
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    collector = await collect(pubsub, 'order-events', `api-${randomUUID()}`);
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    // The sweeper is off: what arrives was published by the trigger right after the commit.
    relay = createOutboxRelay({ pool: db.pool, publisher, sweepIntervalMs: 0 });
    relay.start();
    api = await startTestApi({ db, relay, listen: true });
  });
  after(async () => {
    await api.close();
    await relay.stop();
    await collector.close();
    await publisher.close();
    await pubsub.close();
    await emulator.stop();
    await db.drop();
  });

  const received = (orderId: string) => collector.received.filter((event) => event.orderingKey === orderId);

  it('publishes an accepted order with its ordering key and ce-* attributes; history and If-Match agree', async () => {
    const traceparent = `00-${'a1'.repeat(16)}-${'b2'.repeat(8)}-01`;
    const created = await api.request('POST', '/v1/orders', {
      body: orderBody(),
      headers: { 'idempotency-key': randomUUID(), traceparent },
    });
    assert.equal(created.statusCode, 202, created.body);
    const order = created.json<Order>();

    await collector.waitFor(() => received(order.id).length === 1);
    const [event] = received(order.id);
    assert.equal(event!.orderingKey, order.id);
    assert.equal(event!.attributes[ATTRIBUTE.type], 'order.created.v1');
    assert.equal(event!.attributes[ATTRIBUTE.subject], order.id);
    assert.equal(event!.attributes[ATTRIBUTE.sequence], '1');
    assert.equal(event!.attributes[ATTRIBUTE.source], '//conveyor/api');
    assert.equal(event!.attributes[ATTRIBUTE.traceparent], traceparent);
    assert.ok(event!.attributes[ATTRIBUTE.time]);
    assert.equal(event!.attributes[ATTRIBUTE.correlationId], order.id);

    const history = await api.request('GET', `/v1/orders/${order.id}/events`);
    const { events } = history.json<{ events: { event: { id: string; type: string } }[] }>();
    assert.deepEqual(
      events.map((stored) => stored.event.id),
      [event!.eventId],
    );
    assert.deepEqual(event!.data, events[0]!.event);

    const stale = await api.request('POST', `/v1/orders/${order.id}/cancel`, {
      body: { reason: 'changed my mind' },
      headers: { 'if-match': '"2"' },
    });
    assert.equal(stale.statusCode, 412);
    const etag = (await api.request('GET', `/v1/orders/${order.id}`)).headers.etag;
    const cancelled = await api.request('POST', `/v1/orders/${order.id}/cancel`, {
      body: { reason: 'changed my mind' },
      headers: { 'if-match': String(etag) },
    });
    assert.equal(cancelled.statusCode, 202);
    await collector.waitFor(() => received(order.id).length === 2);
    assert.deepEqual(
      received(order.id).map((e) => e.attributes[ATTRIBUTE.type]),
      ['order.created.v1', 'order.cancellation_requested.v1'],
    );
    assert.deepEqual(checkOrdering(received(order.id)), { problems: [], duplicates: 0 });
  });

  it('makes one order and one event of 200 concurrent identical requests, all answered alike', async () => {
    const key = randomUUID();
    const customerId = `concurrent-${randomUUID()}`;
    const body = JSON.stringify(orderBody({ customerId }));
    const responses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const response = await fetch(`${api.url}/v1/orders`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${api.keys.writer}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body,
        });
        return {
          status: response.status,
          body: await response.text(),
          location: response.headers.get('location'),
          etag: response.headers.get('etag'),
          replayed: response.headers.get('idempotent-replayed'),
        };
      }),
    );
    const first = responses[0]!;
    assert.equal(first.status, 202, first.body);
    for (const response of responses) {
      assert.deepEqual(
        { status: response.status, body: response.body, location: response.location, etag: response.etag },
        { status: first.status, body: first.body, location: first.location, etag: first.etag },
      );
    }
    assert.equal(responses.filter((response) => response.replayed === 'true').length, 199);

    const orderId = JSON.parse(first.body).id as string;
    const count = async (sql: string) =>
      (await db.pool.query<{ n: number }>(sql, [customerId, orderId])).rows[0]!.n;
    assert.equal(await count('SELECT count(*)::int AS n FROM orders WHERE customer_id = $1 OR id = $2'), 1);
    assert.equal(
      await count(
        'SELECT count(*)::int AS n FROM events WHERE order_id IN (SELECT id FROM orders WHERE customer_id = $1) OR order_id = $2',
      ),
      1,
    );
    assert.equal(await count(`SELECT count(*)::int AS n FROM outbox WHERE ordering_key = $2 OR $1 = ''`), 1);
    await collector.waitFor(() => received(orderId).length === 1);
    // Give a duplicate publish every chance to show up before concluding there is none.
    await relay.sweep();
    assert.equal(new Set(received(orderId).map((event) => event.messageId)).size, 1);
  });
});
