/** Checklist B (items 7–12): publishing. */
import assert from 'node:assert/strict';
import { conformanceSuite } from './conformance.ts';
import { assertCode, codeOf, collect, topicAndSubscription } from './support.ts';

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

conformanceSuite(import.meta.filename, 'Pub/Sub publish', (ctx, item) => {
  item(7, 'message_id and publish_time are assigned by the server, ids in request order', async () => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'ids');
    const publisher = await ctx.publisherClient();
    const before = Date.now();
    const [response] = await publisher.publish({
      topic: topic.name,
      messages: Array.from({ length: 20 }, (_, i) => ({
        data: Buffer.from(`m${i}`),
        messageId: `client-set-${i}`,
        publishTime: { seconds: 946684800 }, // 2000-01-01: must be ignored
      })),
    });
    const after = Date.now();
    const ids = response.messageIds ?? [];
    assert.equal(ids.length, 20);
    assert.equal(new Set(ids).size, 20, 'ids are unique');
    assert.ok(
      ids.every((id) => !id.startsWith('client-set')),
      'a client-set message_id is ignored',
    );

    const subscriber = await ctx.subscriberClient();
    const byData = new Map<string, { id: string; publishMs: number }>();
    for (let attempt = 0; attempt < 50 && byData.size < 20; attempt++) {
      const [pulled] = await subscriber.pull({ subscription: subscription.name, maxMessages: 20 });
      for (const received of pulled.receivedMessages ?? []) {
        const message = received.message!;
        const publishMs =
          Number(message.publishTime!.seconds) * 1000 + (message.publishTime!.nanos ?? 0) / 1e6;
        byData.set(Buffer.from(message.data as Uint8Array).toString(), { id: message.messageId!, publishMs });
      }
    }
    assert.equal(byData.size, 20);
    ids.forEach((id, i) => assert.equal(byData.get(`m${i}`)?.id, id, `id ${i} belongs to message ${i}`));
    for (const { publishMs } of byData.values()) {
      assert.ok(publishMs >= before - 1000 && publishMs <= after + 1000, 'publish_time is set by the server');
    }
  });

  item(8, 'empty messages and empty requests are INVALID_ARGUMENT; the client checks types', async () => {
    const topicId = ctx.id('empty');
    const [topic] = await ctx.pubsub.createTopic(topicId);
    const publisher = await ctx.publisherClient();
    await assertCode(
      publisher.publish({ topic: topic.name, messages: [{}] }),
      INVALID_ARGUMENT,
      'empty message',
    );
    await assertCode(
      publisher.publish({
        topic: topic.name,
        messages: [{ data: Buffer.from('ok') }, { data: Buffer.alloc(0) }],
      }),
      INVALID_ARGUMENT,
      'one empty message among others',
    );
    await assertCode(publisher.publish({ topic: topic.name, messages: [] }), INVALID_ARGUMENT, 'no messages');
    const [onlyAttributes] = await publisher.publish({
      topic: topic.name,
      messages: [{ attributes: { a: '1' } }],
    });
    assert.equal(onlyAttributes.messageIds?.length, 1, 'attributes without data are a message');
    await assert.rejects(async () => topic.publishMessage({ data: 'text' }), TypeError);
    await assert.rejects(async () => topic.publishMessage({}), TypeError);
    await assert.rejects(
      async () => topic.publishMessage({ data: Buffer.from('x'), attributes: { n: 1 as unknown as string } }),
      TypeError,
    );
  });

  item(9, 'publish limits: messages, attributes, sizes, ordering key', async () => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('limits'));
    const publisher = await ctx.publisherClient();
    const publish = (messages: object[]) => publisher.publish({ topic: topic.name, messages });
    const data = Buffer.from('x');
    const attributes = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

    assert.equal(
      await codeOf(publish(Array.from({ length: 1000 }, () => ({ data })))),
      undefined,
      '1000 messages',
    );
    await assertCode(
      publish(Array.from({ length: 1001 }, () => ({ data }))),
      INVALID_ARGUMENT,
      '1001 messages',
    );
    assert.equal(await codeOf(publish([{ data, attributes: attributes(100) }])), undefined, '100 attributes');
    await assertCode(publish([{ data, attributes: attributes(101) }]), INVALID_ARGUMENT, '101 attributes');
    assert.equal(
      await codeOf(publish([{ data, attributes: { ['k'.repeat(256)]: 'v' } }])),
      undefined,
      'key 256 B',
    );
    await assertCode(
      publish([{ data, attributes: { ['k'.repeat(257)]: 'v' } }]),
      INVALID_ARGUMENT,
      'key 257 B',
    );
    assert.equal(
      await codeOf(publish([{ data, attributes: { k: 'v'.repeat(1024) } }])),
      undefined,
      'value 1024 B',
    );
    await assertCode(
      publish([{ data, attributes: { k: 'v'.repeat(1025) } }]),
      INVALID_ARGUMENT,
      'value 1025 B',
    );
    assert.equal(
      await codeOf(publish([{ data, orderingKey: 'o'.repeat(1024) }])),
      undefined,
      'ordering key 1 KB',
    );
    await assertCode(
      publish([{ data, orderingKey: 'o'.repeat(1025) }]),
      INVALID_ARGUMENT,
      'ordering key > 1 KB',
    );
    assert.equal(
      await codeOf(publish([{ data: Buffer.alloc(9_500_000, 'a') }])),
      undefined,
      '9.5 MB message',
    );
    await assertCode(
      publish([{ data: Buffer.alloc(10 * 1024 * 1024 + 10, 'a') }]),
      INVALID_ARGUMENT,
      '10 MiB + 10 B',
    );
    await assertCode(
      publish(Array.from({ length: 3 }, () => ({ data: Buffer.alloc(4_000_000, 'a') }))),
      INVALID_ARGUMENT,
      'a 12 MB request',
    );
  });

  item(10, 'all messages of a request share one ordering key', async () => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('onekey'));
    const publisher = await ctx.publisherClient();
    const data = Buffer.from('x');
    await assertCode(
      publisher.publish({
        topic: topic.name,
        messages: [
          { data, orderingKey: 'a' },
          { data, orderingKey: 'b' },
        ],
      }),
      INVALID_ARGUMENT,
      'two keys',
    );
    await assertCode(
      publisher.publish({ topic: topic.name, messages: [{ data, orderingKey: 'a' }, { data }] }),
      INVALID_ARGUMENT,
      'a key and no key',
    );
    const [same] = await publisher.publish({
      topic: topic.name,
      messages: [
        { data, orderingKey: 'a' },
        { data, orderingKey: 'a' },
      ],
    });
    assert.equal(same.messageIds?.length, 2);
  });

  item(11, 'many concurrent Publish RPCs from client batching all succeed', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'batching');
    const count = 5000;
    const ids = await Promise.all(
      Array.from({ length: count }, (_, i) => topic.publishMessage({ data: Buffer.from(`m${i}`) })),
    );
    assert.equal(new Set(ids).size, count, 'every publish got its own id');
    const seen = new Set<string>();
    const collector = collect(t, subscription, (message) => {
      seen.add(message.id);
      message.ack();
    });
    await collector.waitFor(count, 30_000);
    assert.equal(seen.size, count, 'every message was delivered');
  });

  item(
    12,
    'an ordering key failing to publish rejects its queue and resumes with resumePublishing',
    async (t) => {
      const topicId = ctx.id('resume');
      const ordered = ctx.pubsub.topic(topicId, { messageOrdering: true });
      const failures = await Promise.allSettled(
        [1, 2, 3].map((i) => ordered.publishMessage({ data: Buffer.from(`early-${i}`), orderingKey: 'k' })),
      );
      for (const failure of failures) {
        assert.equal(failure.status, 'rejected');
        assert.equal(
          (failure.reason as { code?: number }).code,
          NOT_FOUND,
          'each queued message fails with NOT_FOUND',
        );
      }
      await ctx.pubsub.createTopic(topicId);
      const subscriptionId = ctx.id('resume-s');
      await ctx.pubsub.topic(topicId).createSubscription(subscriptionId, { enableMessageOrdering: true });
      ordered.resumePublishing('k');
      for (let i = 1; i <= 5; i++)
        await ordered.publishMessage({ data: Buffer.from(`k-${i}`), orderingKey: 'k' });
      const collector = collect(t, ctx.pubsub.subscription(subscriptionId));
      const received = await collector.waitFor(5);
      assert.deepEqual(
        received.slice(0, 5).map((r) => r.message.data.toString()),
        ['k-1', 'k-2', 'k-3', 'k-4', 'k-5'],
      );
    },
  );
});
