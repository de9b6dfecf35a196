/** Checklist F and G (items 32–35): dead-letter policy and retry policy. */
import assert from 'node:assert/strict';
import { conformanceSuite, PROJECT } from './conformance.ts';
import { assertCode, codeOf, collect, elapse, gaps, topicAndSubscription, waitUntil } from './support.ts';

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

conformanceSuite(import.meta.filename, 'Pub/Sub dead letters and retries', (ctx, item) => {
  item(32, 'max_delivery_attempts is 5-100 (0 means 5) and the dead-letter topic must exist', async () => {
    const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('dlq-range'));
    const [topic] = await ctx.pubsub.createTopic(ctx.id('range'));
    const create = (maxDeliveryAttempts: number, deadLetterTopic = deadLetters.name) =>
      topic.createSubscription(ctx.id('r'), { deadLetterPolicy: { deadLetterTopic, maxDeliveryAttempts } });
    const [zero] = await create(0);
    assert.equal((await zero.getMetadata())[0].deadLetterPolicy?.maxDeliveryAttempts, 5);
    assert.equal(await codeOf(create(5)), undefined, '5 attempts');
    assert.equal(await codeOf(create(100)), undefined, '100 attempts');
    await assertCode(create(4), INVALID_ARGUMENT, '4 attempts');
    await assertCode(create(101), INVALID_ARGUMENT, '101 attempts');
    await assertCode(
      create(5, `projects/${PROJECT}/topics/${ctx.id('absent')}`),
      NOT_FOUND,
      'a missing topic',
    );
    await assertCode(
      zero.setMetadata({ deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 101 } }),
      INVALID_ARGUMENT,
      '101 attempts on update',
    );
  });

  item(
    33,
    'attempts = 1 + nacks + deadline expiries',
    async (t) => {
      const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('count-dlq'));
      const [dlq] = await deadLetters.createSubscription(ctx.id('count-dlq-s'));
      const policy = { deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 } };

      const nacking = await topicAndSubscription(ctx, 'count', policy);
      await nacking.topic.publishMessage({ data: Buffer.from('nack me') });
      const collector = collect(t, nacking.subscription, (message) => message.nack());
      const dead = collect(t, dlq);
      await dead.waitFor(1, 20_000);
      assert.deepEqual(
        collector.received.map((r) => r.message.deliveryAttempt),
        [1, 2, 3, 4, 5],
        'one delivery per attempt, numbered 1..5',
      );
      await collector.close();

      // An expiry counts like a nack: let the first delivery expire, nack the rest.
      const expiring = await topicAndSubscription(ctx, 'count-exp', policy);
      await expiring.topic.publishMessage({ data: Buffer.from('expire me') });
      const subscriber = await ctx.subscriberClient();
      const attempts: number[] = [];
      const deadline = Date.now() + 30_000;
      while (attempts.length < 5 && Date.now() < deadline) {
        const [response] = await subscriber.pull({
          subscription: expiring.subscription.name,
          maxMessages: 1,
        });
        const received = response.receivedMessages?.[0];
        if (!received) continue;
        attempts.push(received.deliveryAttempt ?? 0);
        if (attempts.length > 1) {
          await subscriber.modifyAckDeadline({
            subscription: expiring.subscription.name,
            ackIds: [received.ackId!],
            ackDeadlineSeconds: 0,
          });
        }
      }
      assert.deepEqual(attempts, [1, 2, 3, 4, 5], 'the expiry of attempt 1 counted');
      // The copy may be forwarded when the message would next be delivered: keep pulling.
      let extra = 0;
      await waitUntil(
        async () => {
          const [response] = await subscriber.pull({
            subscription: expiring.subscription.name,
            maxMessages: 1,
            returnImmediately: true,
          });
          extra += response.receivedMessages?.length ?? 0;
          return dead.received.length >= 2;
        },
        'the dead-letter copy after the fifth attempt',
        10_000,
        200,
      );
      assert.equal(extra, 0, 'no sixth delivery');
    },
    { slow: true, timeout: 90_000 },
  );

  item(
    34,
    'the dead-letter copy keeps data and attributes and adds the four source attributes',
    async (t) => {
      const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('copy-dlq'));
      const [dlq] = await deadLetters.createSubscription(ctx.id('copy-dlq-s'));
      const { topic, subscription, subscriptionId } = await topicAndSubscription(ctx, 'copy', {
        deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
      });
      await topic.publishMessage({
        data: Buffer.from('poison'),
        attributes: { kind: 'test', 'ce-id': '42' },
      });
      const collector = collect(t, subscription, (message) => message.nack());
      const dead = collect(t, dlq);
      const [copy] = await dead.waitFor(1, 20_000);
      await elapse(1500);
      assert.equal(dead.received.length, 1, 'exactly one copy');
      assert.equal(collector.received.length, 5, 'the original is removed after the last attempt');
      const original = collector.received[0]!.message;
      const message = copy!.message;
      assert.equal(message.data.toString(), 'poison');
      assert.notEqual(message.id, original.id, 'a new message id');
      assert.equal(message.attributes.kind, 'test');
      assert.equal(message.attributes['ce-id'], '42');
      assert.equal(message.attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
      assert.equal(message.attributes.CloudPubSubDeadLetterSourceSubscription, subscriptionId);
      assert.equal(message.attributes.CloudPubSubDeadLetterSourceSubscriptionProject, PROJECT);
      const published = Date.parse(message.attributes.CloudPubSubDeadLetterSourceTopicPublishTime ?? '');
      assert.ok(Math.abs(published - original.publishTime.getTime()) < 1000, 'the original publish time');
    },
  );

  item(
    35,
    'retry policy: exponential from minimum to maximum, including the first redelivery',
    async (t) => {
      const [topic] = await ctx.pubsub.createTopic(ctx.id('retry'));
      await assertCode(
        topic.createSubscription(ctx.id('r'), {
          retryPolicy: { minimumBackoff: { seconds: 5 }, maximumBackoff: { seconds: 2 } },
        }),
        INVALID_ARGUMENT,
        'maximum below minimum',
      );
      await assertCode(
        topic.createSubscription(ctx.id('r'), { retryPolicy: { maximumBackoff: { seconds: 700 } } }),
        INVALID_ARGUMENT,
        'maximum over 600 s',
      );
      const [defaults] = await topic.createSubscription(ctx.id('r'), { retryPolicy: {} });
      const [defaultMetadata] = await defaults.getMetadata();
      assert.equal(Number(defaultMetadata.retryPolicy?.minimumBackoff?.seconds), 10);
      assert.equal(Number(defaultMetadata.retryPolicy?.maximumBackoff?.seconds), 600);

      const nackTimes = async (label: string, options: Record<string, unknown>, deliveries: number) => {
        const { topic: target, subscription } = await topicAndSubscription(ctx, label, options);
        await target.publishMessage({ data: Buffer.from(label) });
        const collector = collect(t, subscription, (message) => message.nack());
        const received = await collector.waitFor(deliveries, 30_000);
        await collector.close();
        return received.slice(0, deliveries).map((r) => r.at);
      };
      const [exponential, fixed, none] = await Promise.all([
        nackTimes(
          'exp',
          { retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 4 } } },
          5,
        ),
        nackTimes(
          'fixed',
          { retryPolicy: { minimumBackoff: { seconds: 2 }, maximumBackoff: { seconds: 2 } } },
          3,
        ),
        nackTimes('none', {}, 4),
      ]);
      const near = (actual: number[], expected: number[], what: string) =>
        actual.forEach((gap, i) =>
          assert.ok(
            gap >= expected[i]! * 0.9 && gap <= expected[i]! + 1.5,
            `${what}: gap ${i + 1} is ${gap.toFixed(2)} s, expected about ${expected[i]} s (all: ${actual.map((g) => g.toFixed(2)).join(', ')})`,
          ),
        );
      near(gaps(exponential), [1, 2, 4, 4], 'min 1 s / max 4 s');
      near(gaps(fixed), [2, 2], 'min 2 s / max 2 s');
      for (const gap of gaps(none))
        assert.ok(gap < 1, `no policy: redelivered at once (gap ${gap.toFixed(2)} s)`);
    },
    { slow: true, timeout: 90_000 },
  );
});
