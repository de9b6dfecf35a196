/**
 * POST /v1/replays end to end: the API (buildApp with the real Pub/Sub publisher, so it runs the
 * replay runner) on a test database holding a generated history, the Pub/Sub emulator with the
 * catalogue's subscriptions (ensureTopology) pushing to recorders that stand in for the saga,
 * analytics and notifier functions. A replay reaches only the consumer it names; requests are
 * idempotent, validated, admin-only and audited; progress is visible while and after it runs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { PubSub } from '@google-cloud/pubsub';
import { buildApp } from '../../../api/app.ts';
import type { Replay as ReplayView } from '../../../api/routes/replays/schemas.ts';
import { ensureTopology } from '../../../local/launcher/topology.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { REPLAY_CONSUMER_ATTRIBUTE } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { outboxStats } from '#shared/store/outbox.ts';
import { generateHistory, storeHistory } from '../../fixtures/order-history.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { startPushRecorder, type PushRecorder } from './push-recorder.ts';

const logger = createLogger({ service: 'replay-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const history = generateHistory({ orders: 60, days: 3 });
const DAY2 = { from: '2024-03-02T00:00:00.000Z', to: '2024-03-03T00:00:00.000Z' };
const inRange = (event: DomainEvent, range: { from: string; to: string }) =>
  event.time >= range.from && event.time < range.to;

describe('replays through the API', () => {
  let db: TestDatabase;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let recorder: PushRecorder;
  let app: FastifyInstance;
  const keys = { admin: '', writer: '' };

  before(async () => {
    db = await createTestDatabase();
    await storeHistory(db.pool, history);
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    recorder = await startPushRecorder();
    await ensureTopology({
      pubsub,
      endpoints: {
        saga: recorder.endpoint('saga'),
        analytics: recorder.endpoint('analytics'),
        notifier: recorder.endpoint('notifier'),
      },
    });
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    app = await buildApp({
      pool: db.pool,
      relay: { trigger: () => {}, stats: () => outboxStats(db.pool) },
      logger,
      publisher,
      settings: { rateLimitPerMinute: 100_000, projectId: PROJECT_ID },
    });
    await app.ready();
    keys.admin = (await createApiKey(db.pool, { name: 'ops', scopes: ['admin'] })).key;
    keys.writer = (
      await createApiKey(db.pool, { name: 'shop', scopes: ['orders:write', 'orders:read'] })
    ).key;
  });

  after(async () => {
    await app.close();
    await publisher.close();
    await pubsub.close();
    await emulator.stop();
    await recorder.close();
    await db.drop();
  });

  const post = (body: unknown, headers: Record<string, string> = {}, key = keys.admin) =>
    app.inject({
      method: 'POST',
      url: '/v1/replays',
      headers: { authorization: `Bearer ${key}`, ...headers },
      payload: body as object,
    });
  const get = (url: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${keys.admin}` } });
  const finished = (id: string) =>
    waitUntil(
      async () => {
        const replay = (await get(`/v1/replays/${id}`)).json<ReplayView>();
        return replay.status === 'completed' || replay.status === 'failed' ? replay : undefined;
      },
      { what: `replay ${id} to finish` },
    );

  it('republishes one day of history to analytics only, each event with its id, the replay id and its ordering key', async () => {
    const response = await post({ ...DAY2, consumer: 'analytics' });
    assert.equal(response.statusCode, 202);
    const created = response.json<ReplayView>();
    assert.equal(response.headers.location, `/v1/replays/${created.id}`);
    assert.equal(response.headers['idempotent-replayed'], 'false');
    assert.ok(['pending', 'running', 'completed'].includes(created.status));
    assert.equal(created.requestedBy, 'ops');

    const expected = history.filter((event) => inRange(event, DAY2));
    const replay = await finished(created.id);
    assert.equal(replay.status, 'completed');
    assert.deepEqual(
      [replay.progress.published, replay.progress.total, replay.progress.percent, replay.progress.etaSeconds],
      [expected.length, expected.length, 100, 0],
    );
    assert.ok(replay.startedAt && replay.finishedAt && replay.progress.eventsPerSecond! > 0);

    const received = await waitUntil(
      () => {
        const got = recorder.received.filter((push) => push.attributes[ATTRIBUTE.replay] === created.id);
        return new Set(got.map((push) => push.eventId)).size === expected.length ? got : undefined;
      },
      { what: 'every replayed event at analytics-replay' },
    );
    assert.deepEqual(new Set(received.map((push) => push.subscription)), new Set(['analytics-replay']));
    assert.deepEqual(
      new Set(received.map((push) => push.eventId)),
      new Set(expected.map((event) => event.id)),
    );
    for (const push of received) {
      const event = expected.find((e) => e.id === push.eventId)!;
      assert.deepEqual(push.data, event, 'the stored envelope, unchanged');
      assert.equal(push.orderingKey, event.subject);
      assert.equal(push.attributes[REPLAY_CONSUMER_ATTRIBUTE], 'analytics');
      assert.equal(push.attributes[ATTRIBUTE.id], event.id);
    }
    // Nothing reached the saga or the notifier (live or replay feeds), nor analytics' live feed.
    await recorder.settle();
    assert.deepEqual(
      recorder.received
        .filter((push) => push.subscription !== 'analytics-replay')
        .map((push) => push.subscription),
      [],
    );
  });

  it('replays to the saga reach saga-replay only', async () => {
    const order = history.find((event) => inRange(event, DAY2))!.subject;
    const created = (await post({ ...DAY2, orderId: order, consumer: 'saga' })).json<ReplayView>();
    const replay = await finished(created.id);
    const expected = history.filter((event) => event.subject === order);
    assert.equal(replay.progress.published, expected.length);
    const received = await waitUntil(() => {
      const got = recorder.received.filter((push) => push.attributes[ATTRIBUTE.replay] === created.id);
      return got.length >= expected.length ? got : undefined;
    });
    assert.deepEqual(new Set(received.map((push) => push.subscription)), new Set(['saga-replay']));
    assert.deepEqual(
      received.map((push) => push.eventId),
      expected.map((event) => event.id),
      'one order, in sequence order (saga-replay delivers in order)',
    );
  });

  it('filters by type (a current type also selects its older stored version)', async () => {
    const oldCancel = {
      ...history.find((event) => event.type === EVENT_TYPE.orderCancelled && inRange(event, DAY2))!,
      id: randomUUID(),
      subject: randomUUID(),
      sequence: 1,
      type: 'order.cancelled.v1',
      data: { reason: 'recorded before v2' },
    };
    await storeHistory(db.pool, [oldCancel as unknown as DomainEvent]);
    const range = { from: DAY2.from, to: '2024-03-02T12:00:00.000Z' };
    const created = (
      await post({
        ...range,
        types: [EVENT_TYPE.orderCancelled, EVENT_TYPE.paymentProcessed],
        consumer: 'notifier',
      })
    ).json<ReplayView>();
    const replay = await finished(created.id);
    const expected = [
      ...history.filter(
        (event) =>
          inRange(event, range) &&
          (event.type === EVENT_TYPE.orderCancelled || event.type === EVENT_TYPE.paymentProcessed),
      ),
      oldCancel,
    ];
    assert.equal(replay.progress.total, expected.length);
    const received = await waitUntil(() => {
      const got = recorder.received.filter((push) => push.attributes[ATTRIBUTE.replay] === created.id);
      return new Set(got.map((push) => push.eventId)).size >= expected.length ? got : undefined;
    });
    assert.deepEqual(
      new Set(received.map((push) => push.eventId)),
      new Set(expected.map((event) => event.id)),
    );
    assert.deepEqual(new Set(received.map((push) => push.subscription)), new Set(['notifier-replay']));
  });

  it('is idempotent: the same Idempotency-Key, or the same request, is the same replay', async () => {
    const body = { from: '2024-03-01T00:00:00Z', to: '2024-03-01T06:00:00Z', consumer: 'analytics' };
    const key = randomUUID();
    const first = await post(body, { 'idempotency-key': key });
    const again = await post({ ...body, from: '2024-03-01T00:00:00.000Z' }, { 'idempotency-key': key });
    assert.equal(again.statusCode, 202);
    assert.equal(again.json<ReplayView>().id, first.json<ReplayView>().id);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const reused = await post({ ...body, consumer: 'saga' }, { 'idempotency-key': key });
    assert.equal(reused.statusCode, 422);
    assert.match(reused.json<{ type: string }>().type, /idempotency-key-reused/);

    const unkeyed = { ...body, types: [EVENT_TYPE.orderCreated, EVENT_TYPE.orderCompleted] };
    const [a, b] = await Promise.all([
      post(unkeyed),
      post({ ...unkeyed, types: [...unkeyed.types].reverse() }),
    ]);
    assert.equal(
      a.json<ReplayView>().id,
      b.json<ReplayView>().id,
      'concurrent identical requests: one replay',
    );
    const { rows } = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM audit_log WHERE action = 'replay.create' AND target_id = $1 AND actor = 'ops'`,
      [a.json<ReplayView>().id],
    );
    assert.equal(rows[0]!.n, '1', 'audited once');
  });

  it('refuses what it cannot do: no admin scope, an unknown consumer or type, an empty range', async () => {
    const base = { ...DAY2, consumer: 'analytics' };
    assert.equal((await post(base, {}, keys.writer)).statusCode, 403);
    for (const body of [
      { ...base, consumer: 'ingest' },
      { ...base, types: ['order.exploded.v1'] },
      { ...base, to: base.from },
      { ...base, orderId: 'not-a-uuid' },
      { ...base, extra: true },
    ]) {
      const response = await post(body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
  });

  it('lists replays newest first, pages them, and cancels one (once)', async () => {
    const list = (await get('/v1/replays?limit=2')).json<{ items: ReplayView[]; nextCursor?: string }>();
    assert.equal(list.items.length, 2);
    assert.ok(list.items[0]!.createdAt >= list.items[1]!.createdAt);
    const next = (await get(`/v1/replays?limit=2&cursor=${list.nextCursor!}`)).json<{
      items: ReplayView[];
    }>();
    assert.ok(next.items.every((item) => !list.items.some((seen) => seen.id === item.id)));
    const completed = (await get('/v1/replays?status=completed')).json<{ items: ReplayView[] }>();
    assert.ok(completed.items.length >= 3 && completed.items.every((item) => item.status === 'completed'));

    const cancelAt = (id: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/replays/${id}/cancel`,
        headers: { authorization: `Bearer ${keys.admin}` },
      });
    assert.equal((await cancelAt(completed.items[0]!.id)).statusCode, 409);
    assert.equal((await cancelAt(randomUUID())).statusCode, 404);
    assert.equal((await get(`/v1/replays/${randomUUID()}`)).statusCode, 404);
  });
});
