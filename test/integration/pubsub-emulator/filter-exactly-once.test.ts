/** Checklist J and K (items 45–46): subscription filters and exactly-once delivery. */
import assert from 'node:assert/strict';
import type { Message } from '@google-cloud/pubsub';
import { conformanceSuite } from './conformance.ts';
import { assertCode, collect, elapse, topicAndSubscription, waitUntil } from './support.ts';

const INVALID_ARGUMENT = 3;

const MESSAGES: [string, Record<string, string>][] = [
  ['m1', { lang: 'en', region: 'eu' }],
  ['m2', { lang: 'fr' }],
  ['m3', { region: 'us-east' }],
  ['m4', { lang: 'en', region: 'us-west', 'odd key': 'x' }],
  ['m5', {}],
];

const FILTERS: [string, string[]][] = [
  ['attributes.lang = "en"', ['m1', 'm4']],
  ['attributes.lang != "en"', ['m2', 'm3', 'm5']],
  ['attributes:region', ['m1', 'm3', 'm4']],
  ['NOT attributes:region', ['m2', 'm5']],
  ['hasPrefix(attributes.region, "us")', ['m3', 'm4']],
  ['attributes.lang = "en" AND attributes.region = "eu"', ['m1']],
  ['attributes.lang = "fr" OR attributes:region', ['m1', 'm2', 'm3', 'm4']],
  ['(attributes.lang = "en" OR attributes.lang = "fr") AND NOT attributes:region', ['m2']],
  ['attributes."odd key" = "x"', ['m4']],
];

const INVALID_FILTERS = [
  'attributes.lang == "en"',
  'data = "x"',
  'attributes.lang = en',
  'attributes.lang = "en" and attributes:region',
  `attributes.k = "${'v'.repeat(300)}"`,
  'hasPrefix(attributes.lang)',
  '(attributes:lang',
];

conformanceSuite(import.meta.filename, 'Pub/Sub filters and exactly-once', (ctx, item) => {
  item(
    45,
    'filters: the documented syntax, bad filters rejected, non-matching messages auto-acked',
    async (t) => {
      const [topic] = await ctx.pubsub.createTopic(ctx.id('filter'));
      for (const filter of INVALID_FILTERS) {
        await assertCode(
          topic.createSubscription(ctx.id('bad'), { filter }),
          INVALID_ARGUMENT,
          `filter ${filter.slice(0, 40)}`,
        );
      }
      const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('filter-dlq'));
      const [dlq] = await deadLetters.createSubscription(ctx.id('filter-dlq-s'));
      const subscriptions = await Promise.all(
        FILTERS.map(async ([filter]) => {
          const [subscription] = await topic.createSubscription(ctx.id('f'), {
            filter,
            deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
          });
          assert.equal((await subscription.getMetadata())[0].filter, filter, 'the filter is stored as given');
          return subscription;
        }),
      );
      for (const [data, attributes] of MESSAGES)
        await topic.publishMessage({ data: Buffer.from(data), attributes });
      const collectors = subscriptions.map((subscription) => collect(t, subscription));
      const dead = collect(t, dlq);
      await Promise.all(collectors.map((collector, i) => collector.waitFor(FILTERS[i]![1].length)));
      await elapse(1500);
      collectors.forEach((collector, i) => {
        const got = collector.received.map((r) => r.message.data.toString()).sort();
        assert.deepEqual(got, FILTERS[i]![1], `filter ${FILTERS[i]![0]}`);
      });
      assert.equal(dead.received.length, 0, 'filtered-out messages are acked, never dead-lettered');
      await assertCode(
        subscriptions[0]!.setMetadata({ filter: 'attributes:lang' }),
        INVALID_ARGUMENT,
        'filter update',
      );
    },
  );

  item(
    46,
    'exactly-once: no redelivery while outstanding or after an ack; only the latest ack id works',
    async (t) => {
      const { topic, subscription } = await topicAndSubscription(ctx, 'eod', {
        enableExactlyOnceDelivery: true,
      });
      assert.equal((await subscription.getMetadata())[0].enableExactlyOnceDelivery, true);
      await topic.publishMessage({ data: Buffer.from('once') });
      const subscriber = await ctx.subscriberClient();
      const pull = async () => {
        const [response] = await subscriber.pull({
          subscription: subscription.name,
          maxMessages: 5,
          returnImmediately: true,
        });
        return response.receivedMessages ?? [];
      };
      const [first] = await waitUntil(async () => {
        const got = await pull();
        return got.length > 0 ? got : undefined;
      }, 'the message');
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await pull(), [], 'no redelivery while outstanding');
        await elapse(200);
      }
      await subscriber.modifyAckDeadline({
        subscription: subscription.name,
        ackIds: [first!.ackId!],
        ackDeadlineSeconds: 0,
      });
      const [second] = await waitUntil(async () => {
        const got = await pull();
        return got.length > 0 ? got : undefined;
      }, 'the redelivery after a nack');
      assert.notEqual(second!.ackId, first!.ackId, 'a redelivery has a new ack id');
      await assertCode(
        subscriber.acknowledge({ subscription: subscription.name, ackIds: [first!.ackId!] }),
        INVALID_ARGUMENT,
        'the old ack id',
      );
      await subscriber.acknowledge({ subscription: subscription.name, ackIds: [second!.ackId!] });
      await elapse(1000);
      assert.deepEqual(await pull(), [], 'no redelivery after a successful ack');

      await topic.publishMessage({ data: Buffer.from('client') });
      const outcomes: string[] = [];
      let nacked = false;
      const collector = collect(t, ctx.pubsub.subscription(subscription.name), (message: Message) => {
        if (!nacked) {
          nacked = true;
          void message.nackWithResponse().then((response) => outcomes.push(`nack ${response}`));
        } else {
          void message.ackWithResponse().then((response) => outcomes.push(`ack ${response}`));
        }
      });
      await collector.waitFor(2);
      await waitUntil(() => outcomes.length >= 2, 'both responses');
      assert.deepEqual(outcomes, ['nack SUCCESS', 'ack SUCCESS']);
    },
  );
});
