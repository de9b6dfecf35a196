/** Checklist E (items 27–31): ordering keys on the subscription side. */
import assert from 'node:assert/strict';
import type { Message } from '@google-cloud/pubsub';
import { conformanceSuite } from './conformance.ts';
import { assertCode, collect, elapse, topicAndSubscription, waitUntil } from './support.ts';

const INVALID_ARGUMENT = 3;

async function publishKey(
  topic: { publishMessage(m: { data: Buffer; orderingKey: string }): Promise<string> },
  key: string,
  count: number,
) {
  for (let i = 1; i <= count; i++)
    await topic.publishMessage({ data: Buffer.from(`${key}-${i}`), orderingKey: key });
}

conformanceSuite(import.meta.filename, 'Pub/Sub ordering keys', (ctx, item) => {
  item(27, 'messages of a key arrive in publish order; the flag cannot be changed', async (t) => {
    const { topic, subscription } = await topicAndSubscription(
      ctx,
      'order',
      { enableMessageOrdering: true },
      { messageOrdering: true },
    );
    const keys = 10;
    const perKey = 100;
    await Promise.all(
      Array.from({ length: keys * perKey }, (_, i) =>
        topic.publishMessage({
          data: Buffer.from(String(Math.floor(i / keys))),
          orderingKey: `key-${i % keys}`,
        }),
      ),
    );
    const firstSeen = new Map<string, number[]>();
    const ids = new Set<string>();
    const collector = collect(t, subscription, (message) => {
      if (!ids.has(message.id)) {
        ids.add(message.id);
        const key = message.orderingKey ?? '';
        const sequence = firstSeen.get(key) ?? [];
        sequence.push(Number(message.data.toString()));
        firstSeen.set(key, sequence);
      }
      message.ack();
    });
    await waitUntil(() => ids.size === keys * perKey, 'every message', 30_000);
    await collector.close();
    for (const [key, sequence] of firstSeen) {
      assert.deepEqual(
        sequence,
        [...sequence].sort((a, b) => a - b),
        `key ${key} in order`,
      );
      assert.equal(sequence.length, perKey);
    }
    await assertCode(
      subscription.setMetadata({ enableMessageOrdering: false }),
      INVALID_ARGUMENT,
      'flag change',
    );
  });

  item(
    28,
    'a nack or an expiry redelivers that message and every later message of its key',
    async (t) => {
      const { topic, subscription } = await topicAndSubscription(
        ctx,
        'rewind',
        { enableMessageOrdering: true },
        { messageOrdering: true },
      );
      await publishKey(topic, 'k', 8);
      let nacked = false;
      const collector = collect(t, subscription, (message) => {
        if (message.data.toString() === 'k-3' && !nacked) {
          nacked = true;
          message.nack();
        } else {
          message.ack();
        }
      });
      const order = () => collector.received.map((r) => r.message.data.toString());
      await waitUntil(() => order().filter((d) => d === 'k-8').length >= 2, 'k-8 delivered twice');
      await elapse(500);
      const deliveries = order();
      const redelivery = deliveries.slice(deliveries.indexOf('k-3') + 1);
      const again = redelivery.slice(redelivery.indexOf('k-3'));
      assert.deepEqual(
        again.slice(0, 6),
        ['k-3', 'k-4', 'k-5', 'k-6', 'k-7', 'k-8'],
        'k-3..k-8 again, in order',
      );
      assert.equal(
        deliveries.filter((d) => d === 'k-1').length,
        1,
        'k-1 (before the nack) is not redelivered',
      );
      await collector.close();

      // Expiry: the same with a unary Pull and a message left to expire.
      const expiring = await topicAndSubscription(
        ctx,
        'rewind-exp',
        { enableMessageOrdering: true },
        { messageOrdering: true },
      );
      await publishKey(expiring.topic, 'e', 5);
      const subscriber = await ctx.subscriberClient();
      const pulled: { data: string; ackId: string }[] = [];
      await waitUntil(async () => {
        const [response] = await subscriber.pull({
          subscription: expiring.subscription.name,
          maxMessages: 10,
        });
        for (const r of response.receivedMessages ?? []) {
          pulled.push({ data: Buffer.from(r.message!.data as Uint8Array).toString(), ackId: r.ackId! });
        }
        return pulled.length >= 5;
      }, 'the key e-1..e-5');
      const expiredAt = Date.now();
      const keep = pulled.filter((p) => p.data !== 'e-2').map((p) => p.ackId);
      await subscriber.acknowledge({ subscription: expiring.subscription.name, ackIds: keep });
      const back: string[] = [];
      await waitUntil(
        async () => {
          const [response] = await subscriber.pull({
            subscription: expiring.subscription.name,
            maxMessages: 10,
          });
          for (const r of response.receivedMessages ?? [])
            back.push(Buffer.from(r.message!.data as Uint8Array).toString());
          return back.length >= 4;
        },
        'e-2..e-5 after e-2 expired',
        25_000,
      );
      assert.deepEqual(back.slice(0, 4), ['e-2', 'e-3', 'e-4', 'e-5']);
      assert.ok(Date.now() - expiredAt >= 9000, 'only after the ack deadline');
    },
    { slow: true },
  );

  item(29, 'a key delivers its next batch only once the outstanding one is resolved', async () => {
    const { topic, subscription } = await topicAndSubscription(
      ctx,
      'holdback',
      { enableMessageOrdering: true },
      { messageOrdering: true },
    );
    await publishKey(topic, 'h', 8);
    const subscriber = await ctx.subscriberClient();
    const pull = async (max: number) => {
      const [response] = await subscriber.pull({
        subscription: subscription.name,
        maxMessages: max,
        returnImmediately: true,
      });
      return (response.receivedMessages ?? []).map((r) => ({
        data: Buffer.from(r.message!.data as Uint8Array).toString(),
        ackId: r.ackId!,
      }));
    };
    const first = await waitUntil(async () => {
      const got = await pull(3);
      return got.length > 0 ? got : undefined;
    }, 'a first batch');
    assert.deepEqual(
      first.map((m) => m.data),
      ['h-1', 'h-2', 'h-3'].slice(0, first.length),
      'a batch starts at the head of the key',
    );
    const held = first[first.length - 1]!;
    await subscriber.acknowledge({
      subscription: subscription.name,
      ackIds: first.slice(0, -1).map((m) => m.ackId),
    });
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(
        await pull(10),
        [],
        'nothing more of the key while one of its messages is outstanding',
      );
      await elapse(200);
    }
    await subscriber.acknowledge({ subscription: subscription.name, ackIds: [held.ackId] });
    const next = await waitUntil(async () => {
      const got = await pull(10);
      return got.length > 0 ? got : undefined;
    }, 'the key after the held message is acked');
    const following = Number(held.data.split('-')[1]) + 1;
    assert.equal(next[0]!.data, `h-${following}`, 'the next batch continues after the acked message');
    assert.ok(next.length > 1, 'several messages of one key may come in one response');
  });

  item(30, 'the Node client hands several messages of a key to the handler before any ack', async (t) => {
    const { topic, subscription } = await topicAndSubscription(
      ctx,
      'inflight',
      { enableMessageOrdering: true },
      { messageOrdering: true },
    );
    await publishKey(topic, 'f', 8);
    const pending: Message[] = [];
    const collector = collect(t, subscription, (message) => pending.push(message));
    await collector.waitFor(8);
    assert.deepEqual(
      pending.map((m) => m.data.toString()),
      ['f-1', 'f-2', 'f-3', 'f-4', 'f-5', 'f-6', 'f-7', 'f-8'],
      'all eight in order, none acked yet',
    );
    for (const message of pending) message.ack();
  });

  item(31, 'ordering with a dead-letter policy: one DLQ copy, then the key moves on', async (t) => {
    const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('odlq'));
    const [dlqSubscription] = await deadLetters.createSubscription(ctx.id('odlq-s'));
    const { topic, subscription, subscriptionId } = await topicAndSubscription(
      ctx,
      'ordered-dlq',
      {
        enableMessageOrdering: true,
        deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
      },
      { messageOrdering: true },
    );
    await publishKey(topic, 'd', 3);
    const collector = collect(t, subscription, (message) => {
      if (message.data.toString() === 'd-1') message.nack();
      else message.ack();
    });
    const dead = collect(t, dlqSubscription);
    await dead.waitFor(1, 30_000);
    await waitUntil(
      () => ['d-2', 'd-3'].every((d) => collector.received.some((r) => r.message.data.toString() === d)),
      'd-2 and d-3 after d-1 was dead-lettered',
      15_000,
    );
    await elapse(1000);
    assert.equal(dead.received.length, 1, 'exactly one dead-letter copy');
    const copy = dead.received[0]!.message;
    assert.equal(copy.data.toString(), 'd-1');
    assert.equal(copy.attributes.CloudPubSubDeadLetterSourceSubscription, subscriptionId);
    const attempts = collector.received.filter((r) => r.message.data.toString() === 'd-1');
    assert.equal(attempts.length, 5, 'd-1 was delivered max_delivery_attempts times');
    assert.notEqual(copy.id, attempts[0]!.message.id, 'the copy is a new message');
  });
});
