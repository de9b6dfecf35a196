/** Checklist L (items 47–50): retention, seek and snapshots, expiration, detaching. */
import assert from 'node:assert/strict';
import type { Subscription } from '@google-cloud/pubsub';
import { conformanceSuite } from './conformance.ts';
import {
  assertCode,
  codeOf,
  collect,
  elapse,
  openRawStream,
  pushEndpoint,
  topicAndSubscription,
} from './support.ts';

const INVALID_ARGUMENT = 3;
const FAILED_PRECONDITION = 9;
const DAY = 24 * 60 * 60;

/** Receives with the high-level client until `count` deliveries arrived; returns their data. */
async function receive(t: Parameters<typeof collect>[0], subscription: Subscription, count: number) {
  const collector = collect(t, subscription);
  await collector.waitFor(count);
  await elapse(500);
  await collector.close();
  return collector.received.map((r) => r.message.data.toString());
}

conformanceSuite(import.meta.filename, 'Pub/Sub retention and seek', (ctx, item) => {
  item(47, 'message retention: 10 min-31 d, retain_acked_messages, topic retention', async (t) => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('retention'));
    const [defaults] = await topic.createSubscription(ctx.id('r'));
    assert.equal(Number((await defaults.getMetadata())[0].messageRetentionDuration?.seconds), 7 * DAY);
    await assertCode(
      topic.createSubscription(ctx.id('r'), { messageRetentionDuration: 5 * 60 }),
      INVALID_ARGUMENT,
      '5 minutes',
    );
    await assertCode(
      topic.createSubscription(ctx.id('r'), { messageRetentionDuration: 32 * DAY }),
      INVALID_ARGUMENT,
      '32 days',
    );

    const retaining = await topicAndSubscription(ctx, 'retain', { retainAckedMessages: true });
    const before = new Date(Date.now() - 1000);
    await retaining.topic.publishMessage({ data: Buffer.from('kept') });
    assert.deepEqual(await receive(t, retaining.subscription, 1), ['kept']);
    await retaining.subscription.seek(before);
    assert.deepEqual(
      await receive(t, retaining.subscription, 1),
      ['kept'],
      'an acked, retained message comes back',
    );

    const forgetting = await topicAndSubscription(ctx, 'forget');
    const earlier = new Date(Date.now() - 1000);
    await forgetting.topic.publishMessage({ data: Buffer.from('gone') });
    assert.deepEqual(await receive(t, forgetting.subscription, 1), ['gone']);
    await forgetting.subscription.seek(earlier);
    const subscriber = await ctx.subscriberClient();
    await elapse(500);
    const [none] = await subscriber.pull({
      subscription: forgetting.subscription.name,
      maxMessages: 5,
      returnImmediately: true,
    });
    assert.equal(none.receivedMessages?.length ?? 0, 0, 'without retention an acked message is gone');

    const topicId = ctx.id('topic-retention');
    await ctx.pubsub.createTopic({
      name: ctx.topicPath(topicId),
      messageRetentionDuration: { seconds: 3600 },
    });
    const retainedTopic = ctx.pubsub.topic(topicId);
    const start = new Date(Date.now() - 1000);
    await retainedTopic.publishMessage({ data: Buffer.from('before the subscription') });
    const [late] = await retainedTopic.createSubscription(ctx.id('late'));
    assert.equal(Number((await retainedTopic.getMetadata())[0].messageRetentionDuration?.seconds), 3600);
    await late.seek(start);
    assert.deepEqual(
      await receive(t, late, 1),
      ['before the subscription'],
      'topic retention lets a new subscription seek back',
    );
  });

  item(48, 'seek to a time and to a snapshot', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'seek', { retainAckedMessages: true });
    await topic.publishMessage({ data: Buffer.from('first') });
    // A whole second: Subscription#seek(Date) sends the milliseconds as microseconds (nanos =
    // ms * 1000), so only whole seconds arrive intact.
    const between = new Date(Math.ceil((Date.now() + 100) / 1000) * 1000);
    await elapse(between.getTime() - Date.now() + 100);
    await topic.publishMessage({ data: Buffer.from('second') });
    assert.deepEqual((await receive(t, subscription, 2)).sort(), ['first', 'second']);
    await subscription.seek(between);
    const afterSeek = await receive(t, subscription, 1);
    assert.deepEqual(afterSeek, ['second'], `only the message after the time (got ${afterSeek.join(', ')})`);

    await topic.publishMessage({ data: Buffer.from('third') });
    const [snapshot] = await subscription.createSnapshot(ctx.id('snap'));
    const [snapshots] = await ctx.pubsub.getSnapshots();
    assert.equal(snapshots.find((s) => s.name === snapshot.name)?.metadata?.topic, topic.name);
    await topic.publishMessage({ data: Buffer.from('fourth') });
    assert.deepEqual((await receive(t, subscription, 2)).sort(), ['fourth', 'third']);
    await subscription.seek(snapshot.name);
    assert.deepEqual(
      (await receive(t, subscription, 2)).sort(),
      ['fourth', 'third'],
      'the snapshot backlog and what was published after it',
    );
    const other = await topicAndSubscription(ctx, 'seek-other');
    assert.notEqual(
      await codeOf(other.subscription.seek(snapshot.name)),
      undefined,
      'a snapshot of another topic',
    );
  });

  item(49, 'expiration policy: 31 days by default, at least 1 day, none means never', async () => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('expiry'));
    const [defaults] = await topic.createSubscription(ctx.id('x'));
    assert.equal(Number((await defaults.getMetadata())[0].expirationPolicy?.ttl?.seconds), 31 * DAY);
    await assertCode(
      topic.createSubscription(ctx.id('x'), { expirationPolicy: { ttl: { seconds: 3600 } } }),
      INVALID_ARGUMENT,
      'a one-hour TTL',
    );
    const [never] = await topic.createSubscription(ctx.id('x'), { expirationPolicy: {} });
    const policy = (await never.getMetadata())[0].expirationPolicy;
    assert.ok(policy, 'the policy is reported');
    assert.ok(!policy.ttl, 'without a TTL: never expires');
    await defaults.setMetadata({ expirationPolicy: { ttl: { seconds: 2 * DAY } } });
    assert.equal(Number((await defaults.getMetadata())[0].expirationPolicy?.ttl?.seconds), 2 * DAY);
  });

  item(50, 'a detached subscription fails Pull and StreamingPull and gets no more pushes', async (t) => {
    const { topic, subscription, subscriptionId } = await topicAndSubscription(ctx, 'detach');
    const endpoint = await pushEndpoint(t);
    const push = await topicAndSubscription(ctx, 'detach-push', {
      pushConfig: { pushEndpoint: endpoint.url },
    });
    await topic.publishMessage({ data: Buffer.from('before') });
    await ctx.pubsub.detachSubscription(subscriptionId);
    assert.equal((await subscription.getMetadata())[0].detached, true);
    const [names] = await topic.getSubscriptions();
    assert.ok(!names.some((s) => s.name === subscription.name), 'no longer attached to its topic');
    const subscriber = await ctx.subscriberClient();
    await assertCode(
      subscriber.pull({ subscription: subscription.name, maxMessages: 1, returnImmediately: true }),
      FAILED_PRECONDITION,
      'Pull',
    );
    const stream = await openRawStream(t, ctx, {
      subscription: subscription.name,
      streamAckDeadlineSeconds: 10,
    });
    assert.equal((await stream.status())?.code, FAILED_PRECONDITION, 'StreamingPull');

    await push.topic.publishMessage({ data: Buffer.from('pushed') });
    await endpoint.waitFor(1);
    await ctx.pubsub.detachSubscription(push.subscriptionId);
    await push.topic.publishMessage({ data: Buffer.from('not pushed') });
    await elapse(1500);
    assert.deepEqual(
      endpoint.requests.map(
        (r) => (JSON.parse(r.body.toString()) as { message: { data: string } }).message.data,
      ),
      [Buffer.from('pushed').toString('base64')],
      'no push after detaching',
    );
  });
});
