/** Checklist A (items 1–6): resource names, admin RPCs, update masks, emulator detection. */
import assert from 'node:assert/strict';
import { PubSub } from '@google-cloud/pubsub';
import { conformanceSuite, PROJECT } from './conformance.ts';
import { assertCode, codeOf, topicAndSubscription } from './support.ts';

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

conformanceSuite(import.meta.filename, 'Pub/Sub admin', (ctx, item) => {
  item(1, 'invalid topic and subscription ids are INVALID_ARGUMENT', async () => {
    const topicId = ctx.id('names');
    await ctx.pubsub.createTopic(topicId);
    const base = ctx.id('long');
    const longest = base + 'a'.repeat(255 - base.length); // 255 characters: the limit
    for (const bad of ['1bad', 'goog-abc', 'x', 'has space', `${longest}a`]) {
      await assertCode(ctx.pubsub.createTopic(bad), INVALID_ARGUMENT, `topic "${bad.slice(0, 20)}"`);
      await assertCode(
        ctx.pubsub.topic(topicId).createSubscription(bad),
        INVALID_ARGUMENT,
        `subscription "${bad.slice(0, 20)}"`,
      );
    }
    await ctx.pubsub.createTopic(longest);
    await ctx.pubsub.createTopic(`Ok.~+%_-${ctx.id('chars')}`);
  });

  item(2, 'topics: ALREADY_EXISTS, NOT_FOUND, and subscriptions outlive their topic', async () => {
    const { topic, subscription, topicId } = await topicAndSubscription(ctx, 'topics');
    await assertCode(ctx.pubsub.createTopic(topicId), ALREADY_EXISTS, 'second CreateTopic');
    const missing = ctx.pubsub.topic(ctx.id('missing'));
    await assertCode(missing.getMetadata(), NOT_FOUND, 'GetTopic on a missing topic');
    await assertCode(missing.delete(), NOT_FOUND, 'DeleteTopic on a missing topic');
    await assertCode(
      missing.publishMessage({ data: Buffer.from('x') }),
      NOT_FOUND,
      'Publish to a missing topic',
    );
    await topic.delete();
    const [metadata] = await subscription.getMetadata();
    assert.equal(metadata.topic, '_deleted-topic_');
  });

  item(3, 'subscriptions: ALREADY_EXISTS, NOT_FOUND, and deleting drops the backlog', async () => {
    const { topic, subscription, topicId, subscriptionId } = await topicAndSubscription(ctx, 'subs');
    await assertCode(topic.createSubscription(subscriptionId), ALREADY_EXISTS, 'second CreateSubscription');
    await assertCode(
      ctx.pubsub.topic(ctx.id('missing')).createSubscription(ctx.id('orphan')),
      NOT_FOUND,
      'CreateSubscription on a missing topic',
    );
    await topic.publishMessage({ data: Buffer.from('backlog') });
    await subscription.delete();
    const subscriber = await ctx.subscriberClient();
    await assertCode(
      subscriber.pull({
        subscription: ctx.subscriptionPath(subscriptionId),
        maxMessages: 1,
        returnImmediately: true,
      }),
      NOT_FOUND,
      'Pull after DeleteSubscription',
    );
    await ctx.pubsub.topic(topicId).createSubscription(subscriptionId);
    const [response] = await subscriber.pull({
      subscription: ctx.subscriptionPath(subscriptionId),
      maxMessages: 10,
      returnImmediately: true,
    });
    assert.equal(response.receivedMessages?.length ?? 0, 0, 'the recreated subscription has no old backlog');
  });

  item(4, 'updates use snake_case field masks and reject immutable fields', async () => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'masks');
    const [updated] = await subscription.setMetadata({ ackDeadlineSeconds: 42 });
    assert.equal(updated.ackDeadlineSeconds, 42);
    await subscription.setMetadata({ labels: { team: 'orders' } });
    const [metadata] = await subscription.getMetadata();
    assert.equal(metadata.ackDeadlineSeconds, 42);
    assert.deepEqual(metadata.labels, { team: 'orders' });
    await subscription.setMetadata({
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 5 } },
    });
    const [withRetry] = await subscription.getMetadata();
    assert.equal(Number(withRetry.retryPolicy?.minimumBackoff?.seconds), 1);
    await assertCode(subscription.setMetadata({ enableMessageOrdering: true }), INVALID_ARGUMENT, 'ordering');
    await assertCode(subscription.setMetadata({ topic: topic.name }), INVALID_ARGUMENT, 'topic');
    await topic.setMetadata({ labels: { env: 'test' } });
    const [topicMetadata] = await topic.getMetadata();
    assert.deepEqual(topicMetadata.labels, { env: 'test' });
  });

  item(5, 'the RPCs the Node client calls all work', async () => {
    const { topic, subscription, subscriptionId } = await topicAndSubscription(ctx, 'rpcs');
    assert.equal((await topic.exists())[0], true);
    assert.equal((await ctx.pubsub.topic(ctx.id('nope')).exists())[0], false);
    assert.equal((await ctx.pubsub.subscription(ctx.id('nope')).exists())[0], false);
    await topic.setMetadata({ labels: { a: 'b' } });
    await topic.publishMessage({ data: Buffer.from('one') });

    const [topics] = await ctx.pubsub.getTopics();
    assert.ok(
      topics.some((t) => t.name === topic.name),
      'ListTopics lists it',
    );
    const [subscriptions] = await topic.getSubscriptions();
    assert.ok(
      subscriptions.some((s) => s.name === subscription.name),
      'ListTopicSubscriptions lists it',
    );
    const [allSubscriptions] = await ctx.pubsub.getSubscriptions();
    assert.ok(
      allSubscriptions.some((s) => s.name === subscription.name),
      'ListSubscriptions lists it',
    );

    const subscriber = await ctx.subscriberClient();
    const [pulled] = await subscriber.pull({ subscription: subscription.name, maxMessages: 10 });
    const ackId = pulled.receivedMessages?.[0]?.ackId;
    assert.ok(ackId, 'Pull returned the message');
    await subscriber.modifyAckDeadline({
      subscription: subscription.name,
      ackIds: [ackId],
      ackDeadlineSeconds: 30,
    });
    await subscriber.acknowledge({ subscription: subscription.name, ackIds: [ackId] });

    await subscription.modifyPushConfig({ pushEndpoint: 'http://127.0.0.1:9/push' });
    await subscription.modifyPushConfig({});
    const [snapshot] = await subscription.createSnapshot(ctx.id('snap'));
    const [snapshots] = await ctx.pubsub.getSnapshots();
    assert.ok(
      snapshots.some((s) => s.name === snapshot.name),
      'ListSnapshots lists it',
    );
    await subscription.seek(snapshot.name);
    await subscription.seek(new Date());
    await snapshot.delete();

    const [policy] = await topic.iam.getPolicy();
    await topic.iam.setPolicy({
      bindings: [{ role: 'roles/pubsub.publisher', members: ['allUsers'] }],
      etag: policy.etag,
    });
    const [permissions] = await subscription.iam.testPermissions(['pubsub.subscriptions.consume']);
    assert.equal(permissions['pubsub.subscriptions.consume'], true);

    await ctx.pubsub.detachSubscription(subscriptionId);
    const [detached] = await ctx.pubsub.subscription(subscriptionId).getMetadata();
    assert.equal(detached.detached, true);

    // Paging: page_size / page_token, with an empty next_page_token on the last page.
    const publisher = await ctx.publisherClient();
    const seen: string[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const [list, , response] = await publisher.listTopics(
        { project: `projects/${PROJECT}`, pageSize: 2, ...(pageToken ? { pageToken } : {}) },
        { autoPaginate: false },
      );
      assert.ok(list.length <= 2, 'a page holds at most page_size topics');
      seen.push(...list.map((t) => t.name ?? ''));
      pageToken = response?.nextPageToken ?? '';
      if (!pageToken) break;
    }
    assert.equal(pageToken, '', 'the last page has an empty next_page_token');
    assert.ok(seen.includes(topic.name), 'paging reaches every topic');
    await subscription.delete();
    await topic.delete();
  });

  item(6, 'the client uses plaintext gRPC with only PUBSUB_EMULATOR_HOST set', async () => {
    const saved = { host: process.env.PUBSUB_EMULATOR_HOST, project: process.env.PUBSUB_PROJECT_ID };
    process.env.PUBSUB_EMULATOR_HOST = ctx.address;
    process.env.PUBSUB_PROJECT_ID = PROJECT;
    const client = new PubSub();
    try {
      assert.equal(client.isEmulator, true);
      const topicId = ctx.id('detect');
      const [topic] = await client.createTopic(topicId);
      assert.equal(topic.name, ctx.topicPath(topicId));
      assert.equal(await codeOf(topic.delete()), undefined);
    } finally {
      await client.close();
      if (saved.host === undefined) delete process.env.PUBSUB_EMULATOR_HOST;
      else process.env.PUBSUB_EMULATOR_HOST = saved.host;
      if (saved.project === undefined) delete process.env.PUBSUB_PROJECT_ID;
      else process.env.PUBSUB_PROJECT_ID = saved.project;
    }
  });
});
