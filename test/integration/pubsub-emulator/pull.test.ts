/** Checklist C (items 13–18): unary Pull, Acknowledge, ModifyAckDeadline and deadlines. */
import assert from 'node:assert/strict';
import type { protos, v1 } from '@google-cloud/pubsub';
import { conformanceSuite, type Conformance } from './conformance.ts';
import { assertCode, codeOf, elapse, topicAndSubscription, waitUntil } from './support.ts';

const INVALID_ARGUMENT = 3;

type Received = protos.google.pubsub.v1.IReceivedMessage;

/** Pulls (return_immediately) until `predicate` holds for what came back, or the time is up. */
async function pullUntil(
  subscriber: v1.SubscriberClient,
  subscription: string,
  timeoutMs: number,
  predicate: (received: Received[]) => boolean = (received) => received.length > 0,
): Promise<{ received: Received[]; at: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [response] = await subscriber.pull({ subscription, maxMessages: 100, returnImmediately: true });
    const received = response.receivedMessages ?? [];
    if (predicate(received)) return { received, at: Date.now() };
    if (Date.now() > deadline) return { received: [], at: Date.now() };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function setup(ctx: Conformance, label: string, options: Record<string, unknown> = {}) {
  const created = await topicAndSubscription(ctx, label, options);
  return { ...created, subscriber: await ctx.subscriberClient() };
}

conformanceSuite(import.meta.filename, 'Pub/Sub pull and acks', (ctx, item) => {
  item(13, 'ack_deadline_seconds: 0 means 10, custom values are 10-600', async () => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('deadline'));
    const create = (seconds: number) =>
      topic.createSubscription(ctx.id('d'), { ackDeadlineSeconds: seconds });
    const [zero] = await create(0);
    assert.equal((await zero.getMetadata())[0].ackDeadlineSeconds, 10);
    await assertCode(create(5), INVALID_ARGUMENT, 'ack deadline 5');
    await assertCode(create(9), INVALID_ARGUMENT, 'ack deadline 9');
    const [max] = await create(600);
    assert.equal((await max.getMetadata())[0].ackDeadlineSeconds, 600);
    await assertCode(create(601), INVALID_ARGUMENT, 'ack deadline 601');
  });

  item(
    14,
    'ModifyAckDeadline: 0-600 s from the request, 0 is a nack, the subscription deadline is unchanged',
    async () => {
      const { topic, subscription, subscriber } = await setup(ctx, 'modack');
      await topic.publishMessage({ data: Buffer.from('m') });
      const first = await pullUntil(subscriber, subscription.name, 5000);
      const ackId = first.received[0]!.ackId!;
      const modify = (seconds: number) =>
        subscriber.modifyAckDeadline({
          subscription: subscription.name,
          ackIds: [ackId],
          ackDeadlineSeconds: seconds,
        });
      await assertCode(modify(-1), INVALID_ARGUMENT, 'negative deadline');
      await assertCode(modify(601), INVALID_ARGUMENT, 'deadline 601');

      await modify(0); // nack: available again at once
      const again = await pullUntil(subscriber, subscription.name, 3000);
      assert.equal(again.received.length, 1, 'a nacked message is redelivered at once');

      const extendedAt = Date.now();
      await subscriber.modifyAckDeadline({
        subscription: subscription.name,
        ackIds: [again.received[0]!.ackId!],
        ackDeadlineSeconds: 13,
      });
      const early = await pullUntil(subscriber, subscription.name, 11_000);
      assert.equal(early.received.length, 0, 'not redelivered before the extended deadline');
      const late = await pullUntil(subscriber, subscription.name, 8000);
      assert.equal(late.received.length, 1, 'redelivered after the extended deadline');
      const after = (late.at - extendedAt) / 1000;
      assert.ok(after >= 12.5 && after <= 19, `redelivered ${after.toFixed(1)} s after a 13 s extension`);
      assert.equal((await subscription.getMetadata())[0].ackDeadlineSeconds, 10);
    },
    { slow: true },
  );

  item(
    15,
    'Acknowledge: ids required, acking twice is fine, malformed ids are INVALID_ARGUMENT',
    async () => {
      const { topic, subscription, subscriber } = await setup(ctx, 'ack');
      await topic.publishMessage({ data: Buffer.from('m') });
      const { received } = await pullUntil(subscriber, subscription.name, 5000);
      const ackId = received[0]!.ackId!;
      await assertCode(
        subscriber.acknowledge({ subscription: subscription.name, ackIds: [] }),
        INVALID_ARGUMENT,
        'none',
      );
      await subscriber.acknowledge({ subscription: subscription.name, ackIds: [ackId] });
      assert.equal(
        await codeOf(subscriber.acknowledge({ subscription: subscription.name, ackIds: [ackId] })),
        undefined,
      );
      await assertCode(
        subscriber.acknowledge({ subscription: subscription.name, ackIds: ['not-an-ack-id'] }),
        INVALID_ARGUMENT,
        'malformed ack id',
      );
      const after = await pullUntil(subscriber, subscription.name, 1000);
      assert.equal(after.received.length, 0, 'an acked message is not redelivered');
    },
  );

  item(
    16,
    'an unacked message is not redelivered while outstanding and comes back after its deadline',
    async () => {
      const { topic, subscription, subscriber } = await setup(ctx, 'expiry');
      await topic.publishMessage({ data: Buffer.from('m') });
      const first = await pullUntil(subscriber, subscription.name, 5000);
      assert.equal(first.received.length, 1);
      const during = await pullUntil(subscriber, subscription.name, 8500);
      assert.equal(during.received.length, 0, 'not redelivered while outstanding');
      const back = await pullUntil(subscriber, subscription.name, 8000);
      assert.equal(back.received.length, 1, 'redelivered after the deadline');
      const after = (back.at - first.at) / 1000;
      assert.ok(after >= 9.5 && after <= 16, `redelivered after ${after.toFixed(1)} s (deadline 10 s)`);
      assert.equal(back.received[0]!.message!.messageId, first.received[0]!.message!.messageId);
    },
    { slow: true },
  );

  item(17, 'delivery_attempt is 1 + failures with a dead-letter policy and 0 without', async () => {
    const plain = await setup(ctx, 'attempt');
    await plain.topic.publishMessage({ data: Buffer.from('m') });
    const { received } = await pullUntil(plain.subscriber, plain.subscription.name, 5000);
    assert.equal(received[0]!.deliveryAttempt ?? 0, 0, 'no dead-letter policy: 0');

    const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('attempt-dlq'));
    const withDlq = await setup(ctx, 'attempt-dlq', {
      deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
    });
    await withDlq.topic.publishMessage({ data: Buffer.from('m') });
    const one = await pullUntil(withDlq.subscriber, withDlq.subscription.name, 5000);
    assert.equal(one.received[0]!.deliveryAttempt, 1, 'first delivery: 1');
    await withDlq.subscriber.modifyAckDeadline({
      subscription: withDlq.subscription.name,
      ackIds: [one.received[0]!.ackId!],
      ackDeadlineSeconds: 0,
    });
    const two = await pullUntil(withDlq.subscriber, withDlq.subscription.name, 5000);
    assert.equal(two.received[0]!.deliveryAttempt, 2, 'after one nack: 2');
  });

  item(
    18,
    'Pull: max_messages > 0, may return fewer, waits a bounded time without return_immediately',
    async () => {
      const { topic, subscription, subscriber } = await setup(ctx, 'pull');
      await assertCode(
        subscriber.pull({ subscription: subscription.name, maxMessages: 0 }),
        INVALID_ARGUMENT,
        'max_messages 0',
      );
      const started = Date.now();
      const [empty] = await subscriber.pull({
        subscription: subscription.name,
        maxMessages: 5,
        returnImmediately: true,
      });
      assert.equal(empty.receivedMessages?.length ?? 0, 0);
      assert.ok(Date.now() - started < 3000, 'return_immediately answers at once');

      const [waited] = await subscriber.pull(
        { subscription: subscription.name, maxMessages: 5 },
        { timeout: 8000 },
      );
      assert.equal(
        waited.receivedMessages?.length ?? 0,
        0,
        'an empty Pull without return_immediately ends empty',
      );

      const pending = subscriber.pull(
        { subscription: subscription.name, maxMessages: 5 },
        { timeout: 15_000 },
      );
      await elapse(300);
      await topic.publishMessage({ data: Buffer.from('late') });
      const [late] = await pending;
      assert.equal(late.receivedMessages?.length, 1, 'a waiting Pull gets a message published meanwhile');

      await Promise.all([1, 2, 3].map((i) => topic.publishMessage({ data: Buffer.from(`m${i}`) })));
      const got = await waitUntil(async () => {
        const [response] = await subscriber.pull({ subscription: subscription.name, maxMessages: 10 });
        return response.receivedMessages?.length ? response.receivedMessages : undefined;
      }, 'a Pull with messages');
      assert.ok(got.length >= 1 && got.length <= 3, 'returns at most what is there');
    },
  );
});
