import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE, PUBSUB_DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { auditOf } from '#shared/store/audit.ts';
import { recordFailure } from '#shared/store/consumer-records.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

interface DeadLetterView {
  id: string;
  status: string;
  statusReason?: string;
  sourceSubscription: string;
  sourceTopic?: string;
  eventId?: string;
  eventType?: string;
  orderId?: string;
  orderingKey?: string;
  attempts: number;
  lastError?: string;
  attributes: Record<string, string>;
  payload?: unknown;
}

describe('dead letters: stored once, listed, redriven to their source, discarded; audited', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ functions: ['saga', 'dead-letter'] });
  });
  after(() => stack.stop());

  const list = async (query: string) => {
    const answer = await stack.api.request('GET', `/v1/dead-letters?${query}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as { items: DeadLetterView[]; nextCursor?: string };
  };
  const lettersOf = async (orderId: string) => (await list(`orderId=${orderId}`)).items;

  it('a poison message on one order: others go on, it is dead-lettered once with its reason, redrive completes it', async () => {
    const sku = await stack.addProduct({ stock: 100 });
    const poisoned = stack.faults.poisonNext('charge');
    const stuckId = await stack.placeOrder([{ sku, quantity: 1 }]);
    assert.equal(await poisoned, stuckId);
    // The others are not held up by it: placed while it fails, they complete, and it stays where
    // the poison stopped it.
    const others = await Promise.all(
      Array.from({ length: 8 }, () => stack.placeOrder([{ sku, quantity: 1 }])),
    );
    const [letter] = await waitUntil(
      async () => {
        const letters = await lettersOf(stuckId);
        return letters.length > 0 ? letters : undefined;
      },
      { what: 'the dead letter of the poisoned order' },
    );
    for (const orderId of others) await stack.waitForOrder(orderId, 'completed');
    assert.equal((await stack.order(stuckId))?.status, 'reserved');

    assert.equal(letter!.status, 'open');
    assert.equal(letter!.sourceSubscription, 'saga');
    assert.equal(letter!.sourceTopic, TOPIC.orderEvents);
    assert.equal(letter!.eventType, EVENT_TYPE.inventoryReserved);
    assert.equal(letter!.orderingKey, stuckId);
    assert.equal(letter!.attempts, 1, 'dead-lettered at once, not after retries');
    assert.match(letter!.lastError ?? '', /ProviderError: payment: injected permanent failure of charge/);
    const history = await readOrderHistory(stack.pool, stuckId);
    assert.equal(
      letter!.eventId,
      history.find((e) => e.envelope.type === EVENT_TYPE.inventoryReserved)!.envelope.id,
    );
    assert.equal((await lettersOf(stuckId)).length, 1, 'dead-lettered once');

    // The fix, then the redrive: republished with the original event id, the saga takes it from there.
    stack.faults.cure(stuckId);
    const redrive = await stack.api.request('POST', `/v1/dead-letters/${letter!.id}/redrive`, {
      body: { reason: 'provider account fixed' },
    });
    assert.equal(redrive.status, 200, JSON.stringify(redrive.body));
    const redriven = redrive.body as { deadLetter: DeadLetterView; messageId: string };
    assert.equal(redriven.deadLetter.status, 'redriven');
    await stack.waitForOrder(stuckId, 'completed');
    assert.equal(stack.payment.ledger().orders[stuckId]?.charges.length, 1);

    const audit = await auditOf(stack.pool, 'dead_letter', letter!.id);
    assert.deepEqual(
      audit.map((entry) => [entry.actor, entry.action, entry.details.reason]),
      [['ops', 'dead_letter.redrive', 'provider account fixed']],
    );
    assert.equal(audit[0]!.details.messageId, redriven.messageId);
    // Redriving it again is refused; it is no longer open.
    assert.equal(
      (await stack.api.request('POST', `/v1/dead-letters/${letter!.id}/redrive`, { body: {} })).status,
      409,
    );
  });

  it('discard: closed with the reason, audited; discarding or redriving it again is refused', async () => {
    const sku = await stack.addProduct();
    const poisoned = stack.faults.poisonNext('shipment');
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    await poisoned;
    const [letter] = await waitUntil(
      async () => {
        const letters = await lettersOf(orderId);
        return letters.length > 0 ? letters : undefined;
      },
      { what: 'the dead letter' },
    );
    assert.equal(letter!.eventType, EVENT_TYPE.paymentProcessed);

    const missingReason = await stack.api.request('POST', `/v1/dead-letters/${letter!.id}/discard`, {
      body: {},
    });
    assert.equal(missingReason.status, 400);
    const discarded = await stack.api.request('POST', `/v1/dead-letters/${letter!.id}/discard`, {
      body: { reason: 'refunded by hand' },
    });
    assert.equal(discarded.status, 200);
    assert.deepEqual(
      [(discarded.body as DeadLetterView).status, (discarded.body as DeadLetterView).statusReason],
      ['discarded', 'refunded by hand'],
    );
    assert.equal(
      (
        await stack.api.request('POST', `/v1/dead-letters/${letter!.id}/discard`, {
          body: { reason: 'again' },
        })
      ).status,
      409,
    );
    assert.equal(
      (await stack.api.request('POST', `/v1/dead-letters/${letter!.id}/redrive`, { body: {} })).status,
      409,
    );
    const audit = await auditOf(stack.pool, 'dead_letter', letter!.id);
    assert.deepEqual(
      audit.map((entry) => entry.action),
      ['dead_letter.discard'],
    );
    stack.faults.cure(orderId);
  });

  it('bulk redrive by filter redrives only the open letters matching it', async () => {
    const sku = await stack.addProduct();
    const stuck: string[] = [];
    for (let i = 0; i < 3; i++) {
      const poisoned = stack.faults.poisonNext('charge');
      stuck.push(await stack.placeOrder([{ sku, quantity: 1 }]));
      await poisoned;
    }
    await waitUntil(
      async () => (await Promise.all(stuck.map(lettersOf))).every((letters) => letters.length === 1),
      {
        what: 'three dead letters',
      },
    );
    for (const orderId of stuck) stack.faults.cure(orderId);
    const answer = await stack.api.request('POST', '/v1/dead-letters/redrive', {
      body: { filter: { subscription: 'saga', orderId: stuck[0] }, reason: 'one first' },
    });
    assert.equal(answer.status, 200);
    assert.equal((answer.body as { redriven: unknown[] }).redriven.length, 1);
    await stack.waitForOrder(stuck[0]!, 'completed');
    const rest = await stack.api.request('POST', '/v1/dead-letters/redrive', {
      body: { filter: { subscription: 'saga', eventType: EVENT_TYPE.inventoryReserved } },
    });
    const { redriven, failed } = rest.body as { redriven: { id: string }[]; failed: unknown[] };
    assert.deepEqual(failed, []);
    assert.ok(redriven.length >= 2);
    for (const orderId of stuck) await stack.waitForOrder(orderId, 'completed');
    const open = await list('status=open&subscription=saga');
    assert.equal(open.items.filter((item) => stuck.includes(item.orderId ?? '')).length, 0);
  });

  it('a letter Pub/Sub forwarded after the last attempt says why, from the consumer’s recorded failure', async () => {
    const eventId = randomUUID();
    const orderId = randomUUID();
    await recordFailure(stack.pool, 'notifier', eventId, 'DependencyError: subscribers: shop-a answered 500');
    await recordFailure(stack.pool, 'notifier', eventId, 'DependencyError: subscribers: shop-a answered 503');
    const [published] = await stack.publisher.publish(TOPIC.deadLetters, [
      {
        data: Buffer.from(JSON.stringify({ id: eventId })),
        attributes: {
          [ATTRIBUTE.id]: eventId,
          [ATTRIBUTE.type]: EVENT_TYPE.orderCompleted,
          [ATTRIBUTE.subject]: orderId,
          [PUBSUB_DEAD_LETTER_ATTRIBUTE.deliveryCount]: '10',
          [PUBSUB_DEAD_LETTER_ATTRIBUTE.subscription]: 'notifier',
          [PUBSUB_DEAD_LETTER_ATTRIBUTE.subscriptionProject]: 'conveyor-test',
          [PUBSUB_DEAD_LETTER_ATTRIBUTE.topicPublishTime]: new Date().toISOString(),
        },
        orderingKey: orderId,
      },
    ]);
    assert.ok(published?.messageId);
    const [letter] = await waitUntil(
      async () => {
        const letters = await lettersOf(orderId);
        return letters.length > 0 ? letters : undefined;
      },
      { what: 'the stored dead letter' },
    );
    assert.equal(letter!.sourceSubscription, 'notifier');
    assert.equal(letter!.sourceTopic, TOPIC.orderEvents);
    assert.equal(letter!.attempts, 10);
    assert.equal(letter!.lastError, 'DependencyError: subscribers: shop-a answered 503');
    assert.equal(letter!.orderingKey, orderId);
    const one = await stack.api.request('GET', `/v1/dead-letters/${letter!.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual((one.body as DeadLetterView).payload, { id: eventId });
  });

  it('the same message forwarded twice is stored once', async () => {
    const eventId = randomUUID();
    const orderId = randomUUID();
    const message = {
      data: Buffer.from('{not json'),
      attributes: {
        [ATTRIBUTE.id]: eventId,
        [ATTRIBUTE.subject]: orderId,
        [DEAD_LETTER_ATTRIBUTE.reason]: 'invalid event envelope',
        [DEAD_LETTER_ATTRIBUTE.subscription]: 'saga',
        [DEAD_LETTER_ATTRIBUTE.topic]: TOPIC.orderEvents,
        [DEAD_LETTER_ATTRIBUTE.messageId]: 'm-1',
        [DEAD_LETTER_ATTRIBUTE.deliveryAttempt]: '1',
      },
    };
    const processed = async () =>
      (
        await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM processed_messages WHERE consumer = 'dead-letter'`,
        )
      ).rows[0]!.n;
    const before = await processed();
    await stack.publisher.publish(TOPIC.deadLetters, [message]);
    await stack.publisher.publish(TOPIC.deadLetters, [message]);
    // Both deliveries processed: one stored, the other absorbed by the open letter's unique index.
    await waitUntil(async () => (await processed()) >= before + 2, {
      what: 'both deliveries to be processed',
    });
    assert.equal((await lettersOf(orderId)).length, 1);
    const [letter] = await lettersOf(orderId);
    assert.equal(letter!.payload, undefined, 'not JSON: kept as bytes only');
  });

  it('lists page by page, filters, and refuses anyone without the admin scope', async () => {
    const first = await list('limit=2');
    assert.equal(first.items.length, 2);
    assert.ok(first.nextCursor);
    const second = await list(`limit=2&cursor=${first.nextCursor}`);
    assert.ok(second.items.length > 0);
    assert.equal(
      second.items.some((item) => first.items.some((seen) => seen.id === item.id)),
      false,
    );
    const discarded = await list('status=discarded');
    assert.ok(discarded.items.every((item) => item.status === 'discarded') && discarded.items.length >= 1);
    assert.equal(
      (await stack.api.request('GET', '/v1/dead-letters', { key: stack.api.keys.writer })).status,
      403,
    );
    assert.equal((await stack.api.request('GET', '/v1/dead-letters', { key: null })).status, 401);
    assert.equal((await stack.api.request('GET', `/v1/dead-letters/${randomUUID()}`)).status, 404);
    assert.equal((await stack.api.request('GET', '/v1/dead-letters?cursor=bogus')).status, 400);
  });
});
