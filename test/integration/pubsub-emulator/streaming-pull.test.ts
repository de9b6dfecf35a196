/** Checklist D (items 19–26): StreamingPull as the Node client uses it, and exactly-once ack errors. */
import assert from 'node:assert/strict';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { startPubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { conformanceSuite, PROJECT } from './conformance.ts';
import { collect, elapse, openRawStream, topicAndSubscription, waitUntil } from './support.ts';

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;

conformanceSuite(import.meta.filename, 'Pub/Sub StreamingPull', (ctx, item) => {
  item(19, 'the opening request and the rules for later requests', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'open');
    const open = { subscription: subscription.name, streamAckDeadlineSeconds: 10 };
    const cases: [string, Record<string, unknown>, Record<string, unknown> | undefined, number][] = [
      ['no subscription', { streamAckDeadlineSeconds: 10 }, undefined, INVALID_ARGUMENT],
      ['no stream_ack_deadline_seconds', { subscription: subscription.name }, undefined, INVALID_ARGUMENT],
      [
        'stream deadline 5 s',
        { subscription: subscription.name, streamAckDeadlineSeconds: 5 },
        undefined,
        INVALID_ARGUMENT,
      ],
      [
        'missing subscription',
        { ...open, subscription: ctx.subscriptionPath(ctx.id('nope')) },
        undefined,
        NOT_FOUND,
      ],
      ['subscription set again', open, { subscription: subscription.name }, INVALID_ARGUMENT],
      ['max_outstanding_messages later', open, { maxOutstandingMessages: 5 }, INVALID_ARGUMENT],
      [
        'mismatched modify arrays',
        open,
        { modifyDeadlineAckIds: ['a', 'b'], modifyDeadlineSeconds: [10] },
        INVALID_ARGUMENT,
      ],
    ];
    for (const [what, first, second, code] of cases) {
      const stream = await openRawStream(t, ctx, first);
      if (second) stream.write(second);
      assert.equal((await stream.status())?.code, code, what);
    }
    // What the Node client sends first: subscription, deadline, flow control, client id, protocol version.
    const stream = await openRawStream(t, ctx, {
      ...open,
      maxOutstandingMessages: 1000,
      maxOutstandingBytes: 100 * 1024 * 1024,
      clientId: 'client-1',
      protocolVersion: 1,
    });
    await topic.publishMessage({ data: Buffer.from('hello') });
    await waitUntil(() => stream.received().length > 0, 'a message on a well-formed stream');
  });

  item(20, 'keepalives and stream deadline updates are accepted; the stream stays open', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'keepalive');
    const stream = await openRawStream(t, ctx, {
      subscription: subscription.name,
      streamAckDeadlineSeconds: 10,
    });
    stream.write({});
    stream.write({ streamAckDeadlineSeconds: 60 });
    stream.write({});
    assert.equal(await stream.status(1000), undefined, 'still open after keepalives');
    await topic.publishMessage({ data: Buffer.from('after keepalive') });
    await waitUntil(() => stream.received().length > 0, 'a message after keepalives');
    assert.equal(await stream.status(100), undefined);
  });

  item(21, 'acks and nacks work as unary RPCs (the Node client) and inside the stream', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'acks');
    await topic.publishMessage({ data: Buffer.from('client') });
    const deliveries: Message[] = [];
    const collector = collect(t, subscription, (message) => {
      deliveries.push(message);
      if (deliveries.length === 1) message.nack();
      else message.ack();
    });
    await collector.waitFor(2);
    assert.equal(deliveries[1]!.id, deliveries[0]!.id, 'a nack (ModifyAckDeadline 0) redelivers at once');
    await elapse(1500);
    assert.equal(deliveries.length, 2, 'an acked message is not delivered again');
    await collector.close();

    const other = await topicAndSubscription(ctx, 'acks-stream');
    const stream = await openRawStream(t, ctx, {
      subscription: other.subscription.name,
      streamAckDeadlineSeconds: 10,
    });
    await other.topic.publishMessage({ data: Buffer.from('stream') });
    const first = (await waitUntil(() => stream.received()[0], 'the first delivery')).ackId;
    stream.write({ modifyDeadlineAckIds: [first], modifyDeadlineSeconds: [0] });
    const second = (await waitUntil(() => stream.received()[1], 'a redelivery after an in-stream nack'))
      .ackId;
    stream.write({ ackIds: [second] });
    stream.write({ modifyDeadlineAckIds: [second], modifyDeadlineSeconds: [0] });
    await elapse(1500);
    assert.equal(stream.received().length, 2, 'an in-stream ack sticks: a later nack changes nothing');
  });

  item(22, 'every response carries subscription_properties', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'props', {
      enableMessageOrdering: true,
      enableExactlyOnceDelivery: true,
    });
    const stream = await openRawStream(t, ctx, {
      subscription: subscription.name,
      streamAckDeadlineSeconds: 60,
    });
    for (let i = 0; i < 3; i++) await topic.publishMessage({ data: Buffer.from(`m${i}`) });
    await waitUntil(() => stream.received().length >= 3, 'three messages');
    const withMessages = stream.responses.filter((r) => (r.receivedMessages?.length ?? 0) > 0);
    for (const response of withMessages) {
      assert.equal(response.subscriptionProperties?.exactlyOnceDeliveryEnabled, true);
      assert.equal(response.subscriptionProperties?.messageOrderingEnabled, true);
    }
  });

  item(
    23,
    'streams end with retryable codes the client reconnects on; NOT_FOUND stops the subscriber',
    async (t) => {
      const { topic, subscription } = await topicAndSubscription(ctx, 'ends');
      const errors: { code?: number }[] = [];
      const seen: string[] = [];
      subscription.on('message', (message: Message) => {
        seen.push(message.data.toString());
        message.ack();
      });
      subscription.on('error', (error: { code?: number }) => errors.push(error));
      t.after(() => subscription.close());
      await topic.publishMessage({ data: Buffer.from('before') });
      await waitUntil(() => seen.includes('before'), 'a message before the delete');
      // Deleted through another handle: Subscription#delete() would close this subscriber first.
      await ctx.pubsub.subscription(subscription.name).delete();
      await waitUntil(() => errors.length > 0, 'the subscriber error after its subscription is deleted');
      assert.equal(errors[0]!.code, NOT_FOUND);

      if (!ctx.emulator) {
        throw new Error(
          "cannot make Google's emulator end a stream with UNAVAILABLE to exercise a reconnect",
        );
      }
      const recycling = await startPubSubEmulator({ host: '127.0.0.1', port: 0, streamRecycleMs: 700 });
      const client = new PubSub({ projectId: PROJECT, apiEndpoint: recycling.address });
      t.after(async () => {
        await client.close();
        await recycling.stop();
      });
      const [recycledTopic] = await client.createTopic(ctx.id('recycle'));
      const [recycled] = await recycledTopic.createSubscription(ctx.id('recycle-s'));
      const got = new Set<string>();
      const recycleErrors: unknown[] = [];
      recycled.on('message', (message: Message) => {
        got.add(message.data.toString());
        message.ack();
      });
      recycled.on('error', (error) => recycleErrors.push(error));
      t.after(() => recycled.close());
      for (let round = 0; round < 4; round++) {
        await recycledTopic.publishMessage({ data: Buffer.from(`round-${round}`) });
        await waitUntil(() => got.has(`round-${round}`), `message of round ${round} after stream recycles`);
        await elapse(800); // let every stream be recycled (UNAVAILABLE) at least once more
      }
      assert.deepEqual(recycleErrors, [], 'UNAVAILABLE is retried: the subscriber never errors');
    },
  );

  item(24, 'server-side flow control: max_outstanding_messages and max_outstanding_bytes', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'flow');
    for (let i = 0; i < 10; i++) await topic.publishMessage({ data: Buffer.from(`m${i}`) });
    const stream = await openRawStream(t, ctx, {
      subscription: subscription.name,
      streamAckDeadlineSeconds: 60,
      maxOutstandingMessages: 3,
    });
    await waitUntil(() => stream.received().length >= 3, 'the first three messages');
    await elapse(1000);
    assert.equal(stream.received().length, 3, 'no more than max_outstanding_messages before an ack');
    stream.write({ ackIds: [stream.received()[0]!.ackId] });
    await waitUntil(() => stream.received().length >= 4, 'one more message after one ack');
    await elapse(500);
    assert.equal(stream.received().length, 4, 'one ack frees room for one message');

    const bytes = await topicAndSubscription(ctx, 'flow-bytes');
    for (let i = 0; i < 5; i++) await bytes.topic.publishMessage({ data: Buffer.alloc(100, 'b') });
    const small = await openRawStream(t, ctx, {
      subscription: bytes.subscription.name,
      streamAckDeadlineSeconds: 60,
      maxOutstandingBytes: 150,
    });
    await waitUntil(() => small.received().length >= 1, 'a first message');
    await elapse(1000);
    assert.ok(small.received().length <= 2, 'max_outstanding_bytes holds back the rest');
  });

  item(
    25,
    'the stream ack deadline, not the subscription’s, is the first deadline of a message',
    async (t) => {
      const { topic, subscription } = await topicAndSubscription(ctx, 'streamdeadline', {
        ackDeadlineSeconds: 600,
      });
      const stream = await openRawStream(t, ctx, {
        subscription: subscription.name,
        streamAckDeadlineSeconds: 10,
      });
      await topic.publishMessage({ data: Buffer.from('m') });
      await waitUntil(() => stream.received().length >= 1, 'the first delivery');
      const firstAt = Date.now();
      await waitUntil(() => stream.received().length >= 2, 'a redelivery after the stream deadline', 20_000);
      const after = (Date.now() - firstAt) / 1000;
      assert.ok(after >= 9 && after <= 16, `redelivered after ${after.toFixed(1)} s (stream deadline 10 s)`);
    },
    { slow: true },
  );

  item(26, 'exactly-once ack failures carry ErrorInfo the client understands', async (t) => {
    const { topic, subscription } = await topicAndSubscription(ctx, 'eod-errors', {
      enableExactlyOnceDelivery: true,
    });
    await topic.publishMessage({ data: Buffer.from('m') });
    const subscriber = await ctx.subscriberClient();
    const pull = async () =>
      waitUntil(async () => {
        const [response] = await subscriber.pull({ subscription: subscription.name, maxMessages: 1 });
        return response.receivedMessages?.[0];
      }, 'a pulled message');
    const stale = (await pull()).ackId!;
    await subscriber.modifyAckDeadline({
      subscription: subscription.name,
      ackIds: [stale],
      ackDeadlineSeconds: 0,
    });
    const current = (await pull()).ackId!;
    assert.notEqual(current, stale);
    const error = await subscriber.acknowledge({ subscription: subscription.name, ackIds: [stale] }).then(
      () => undefined,
      (e: { code?: number; reason?: string; domain?: string; errorInfoMetadata?: Record<string, string> }) =>
        e,
    );
    assert.ok(error, 'acking a stale ack id fails');
    assert.equal(error.code, INVALID_ARGUMENT);
    assert.equal(error.reason, 'EXACTLY_ONCE_ACKID_FAILURE');
    assert.equal(error.domain, 'pubsub.googleapis.com');
    assert.equal(error.errorInfoMetadata?.[stale], 'PERMANENT_FAILURE_INVALID_ACK_ID');
    await subscriber.acknowledge({ subscription: subscription.name, ackIds: [current] });

    await topic.publishMessage({ data: Buffer.from('with response') });
    const responses: string[] = [];
    const collector = collect(t, ctx.pubsub.subscription(subscription.name), (message) => {
      void message.ackWithResponse().then((response) => responses.push(response));
    });
    await collector.waitFor(1);
    await waitUntil(() => responses.length > 0, 'the ack response');
    assert.equal(responses[0], 'SUCCESS');
  });
});
