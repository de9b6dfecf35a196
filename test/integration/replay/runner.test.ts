/**
 * The replay runner on a real database with a scripted publisher: a replay survives a restart
 * (resumed from its cursor), a lease keeps a second instance off a replay another one runs, a
 * replay left by a crashed instance is taken over when its lease expires, publish failures are
 * retried from the first failed message (nothing lost), and cancel stops a running replay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { REPLAY_CONSUMER_ATTRIBUTE } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { createLogger } from '#shared/logging/index.ts';
import type { PublishableMessage, Publisher, PublishOutcome } from '#shared/messaging/publisher.ts';
import { normalizeReplayRequest, type ReplayRequest } from '#shared/replay/request.ts';
import { createReplayRunner, type ReplayRunner } from '#shared/replay/runner.ts';
import { cancelReplay, createReplay, getReplay, type Replay } from '#shared/replay/store.ts';
import { requestHash } from '#shared/store/idempotency.ts';
import { generateHistory, storeHistory } from '../../fixtures/order-history.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { waitUntil } from '../../helpers/wait.ts';

const logger = createLogger({ service: 'replay-runner-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const history = generateHistory({ orders: 40, days: 2 });
const ALL = { from: '2024-01-01T00:00:00.000Z', to: '2025-01-01T00:00:00.000Z' };

interface Sent {
  eventId: string;
  replayId: string;
  consumer: string;
  orderingKey: string | undefined;
}

/** A publisher that records what it sends; `script` may fail or hold a call. */
function scriptedPublisher(
  script?: (call: number, messages: readonly PublishableMessage[]) => Promise<Error | void> | Error | void,
) {
  const sent: Sent[] = [];
  let calls = 0;
  const publisher: Publisher = {
    async publish(_topic, messages) {
      const call = ++calls;
      const failure = await script?.(call, messages);
      if (failure) return messages.map((): PublishOutcome => ({ error: failure }));
      for (const message of messages) {
        sent.push({
          eventId: message.attributes[ATTRIBUTE.id]!,
          replayId: message.attributes[ATTRIBUTE.replay]!,
          consumer: message.attributes[REPLAY_CONSUMER_ATTRIBUTE]!,
          orderingKey: message.orderingKey,
        });
      }
      return messages.map((_, index) => ({ messageId: `${call}-${index}` }));
    },
    close: () => Promise.resolve(),
  };
  return { publisher, sent, calls: () => calls };
}

/** A promise and its resolver. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('replay runner', () => {
  let db: TestDatabase;
  const runners: ReplayRunner[] = [];

  before(async () => {
    db = await createTestDatabase();
    await storeHistory(db.pool, history);
  });
  after(async () => {
    await Promise.all(runners.map((runner) => runner.stop()));
    await db.drop();
  });

  const runner = (
    publisher: Publisher,
    options: {
      owner: string;
      leaseMs?: number;
      pollMs?: number;
      pageSize?: number;
      maxPageAttempts?: number;
    },
  ) => {
    const created = createReplayRunner({
      pool: db.pool,
      publisher,
      logger,
      pageSize: 10,
      pollMs: 50,
      initialBackoffMs: 10,
      maxBackoffMs: 20,
      ...options,
    });
    runners.push(created);
    return created;
  };
  const request = async (request: Partial<ReplayRequest> = {}): Promise<Replay> => {
    const normalized = normalizeReplayRequest({ ...ALL, consumer: 'analytics', ...request });
    const { replay } = await createReplay(db.pool, {
      id: randomUUID(),
      request: normalized,
      requestHash: requestHash('POST', '/v1/replays', { ...normalized, nonce: randomUUID() }),
      client: { id: 'test', name: 'test' },
      reuseWithinSeconds: 0,
    });
    return replay;
  };
  const ended = (id: string) =>
    waitUntil(async () => {
      const replay = await getReplay(db.pool, id);
      return replay && ['completed', 'failed', 'cancelled'].includes(replay.status) ? replay : undefined;
    });
  const leaseOf = async (id: string) =>
    (
      await db.pool.query<{ lease_owner: string | null }>('SELECT lease_owner FROM replays WHERE id = $1', [
        id,
      ])
    ).rows[0]!.lease_owner;

  it('resumes a replay after a restart from its cursor; a lease keeps other instances off it meanwhile', async () => {
    const replay = await request();
    const hold = gate();
    const first = scriptedPublisher((call) => (call === 3 ? hold.opened : undefined));
    const a = runner(first.publisher, { owner: 'instance-a' });
    a.start();
    await waitUntil(() => first.calls() === 3, { what: 'the third page to be on its way' });
    assert.equal(a.current(), replay.id);

    const second = scriptedPublisher();
    // b looks for work only when triggered: polling on its own, it could take the replay the moment
    // a hands it back, before the hand-back is checked.
    const b = runner(second.publisher, { owner: 'instance-b', pollMs: 60_000 });
    b.start();
    b.trigger();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(b.current(), undefined, 'instance b leaves a replay that instance a holds');
    assert.equal(await leaseOf(replay.id), 'instance-a');

    const stopping = a.stop();
    hold.open();
    await stopping;
    const paused = (await getReplay(db.pool, replay.id))!;
    assert.equal(paused.status, 'running');
    assert.equal(paused.published, 30);
    assert.equal(await leaseOf(replay.id), null, 'handed back on stop');

    b.trigger();
    const done = await ended(replay.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual([done.published, done.total, done.runs], [history.length, history.length, 2]);
    assert.equal(first.sent.length, 30);
    assert.deepEqual(
      [...first.sent, ...second.sent].map((sent) => sent.eventId),
      history.map((event) => event.id),
      'every event once, in store order, the second run starting where the first stopped',
    );
    assert.ok(second.sent.every((sent) => sent.replayId === replay.id && sent.consumer === 'analytics'));
    await b.stop();
  });

  it('takes over a replay whose instance died once its lease expires', async () => {
    const replay = await request({ from: '2024-03-02T00:00:00.000Z' });
    const expected = history.filter((event) => event.time >= '2024-03-02T00:00:00.000Z');
    const never = gate();
    const dead = scriptedPublisher((call) => (call === 2 ? never.opened : undefined));
    const a = runner(dead.publisher, { owner: 'crashed', leaseMs: 500 });
    a.start();
    await waitUntil(() => dead.calls() === 2);

    const alive = scriptedPublisher();
    const b = runner(alive.publisher, { owner: 'survivor', leaseMs: 500 });
    b.start();
    const done = await ended(replay.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.total, expected.length);
    assert.deepEqual(
      [...dead.sent, ...alive.sent].map((sent) => sent.eventId),
      expected.map((event) => event.id),
    );
    // The "dead" instance comes back: it no longer holds the lease and stops without publishing more.
    never.open();
    await a.stop();
    assert.equal((await getReplay(db.pool, replay.id))!.published, expected.length);
    await b.stop();
  });

  it('retries a page from the first failed message and loses nothing', async () => {
    const replay = await request({ types: ['order.created.v1'] });
    const expected = history.filter((event) => event.type === 'order.created.v1');
    const flaky = scriptedPublisher((call) =>
      call === 2 || call === 3 ? new Error('UNAVAILABLE: emulator down') : undefined,
    );
    const a = runner(flaky.publisher, { owner: 'flaky' });
    a.start();
    const done = await ended(replay.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.published, expected.length);
    assert.match(done.lastError ?? '', /UNAVAILABLE/);
    assert.deepEqual(
      flaky.sent.map((sent) => sent.eventId),
      expected.map((event) => event.id),
    );
    await a.stop();
  });

  it('fails a replay whose pages keep failing, saying why', async () => {
    const replay = await request({ types: ['order.completed.v1'] });
    const broken = scriptedPublisher(() => new Error('PERMISSION_DENIED: no publisher role on replays'));
    const a = runner(broken.publisher, { owner: 'broken', maxPageAttempts: 3 });
    a.start();
    const done = await ended(replay.id);
    assert.equal(done.status, 'failed');
    assert.match(done.lastError!, /publishing failed 3 times in a row: PERMISSION_DENIED/);
    assert.equal(broken.calls(), 3);
    await a.stop();
  });

  it('stops a running replay that is cancelled', async () => {
    const replay = await request({ consumer: 'notifier' });
    const hold = gate();
    const slow = scriptedPublisher((call) => (call === 2 ? hold.opened : undefined));
    const a = runner(slow.publisher, { owner: 'cancelled' });
    a.start();
    await waitUntil(() => slow.calls() === 2);
    const cancelled = await cancelReplay(db.pool, replay.id, 'ops');
    assert.equal(cancelled?.status, 'cancelled');
    hold.open();
    await waitUntil(() => a.current() === undefined, { what: 'the runner to let go' });
    assert.equal(slow.calls(), 2, 'no page after the cancel');
    const after = (await getReplay(db.pool, replay.id))!;
    assert.deepEqual([after.status, after.published], ['cancelled', 10]);
    await a.stop();
  });
});
