/**
 * Checklist I (items 43–44): how Cloud Functions receive Pub/Sub messages. Conveyor's functions
 * are reached by explicit push subscriptions, so they receive the standard push request (item 36),
 * which @google-cloud/functions-framework converts into a CloudEvent for `cloudEvent` handlers.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { conformanceSuite, PROJECT } from './conformance.ts';
import { waitUntil } from './support.ts';

interface PubSubCloudEvent {
  id: string;
  type: string;
  source: string;
  specversion: string;
  data?: {
    message?: { data?: string; attributes?: Record<string, string>; messageId?: string };
    subscription?: string;
  };
}

conformanceSuite(import.meta.filename, 'Pub/Sub to Cloud Functions', (ctx, item) => {
  item(
    43,
    'Eventarc delivers binary-mode CloudEvents to Pub/Sub-triggered services',
    () => Promise.resolve(),
    {
      notApplicable:
        'Eventarc, not Pub/Sub, sends these; Conveyor reaches its functions through explicit push subscriptions, ' +
        'so the emulator sends the standard push request (items 36-40)',
    },
  );

  item(
    44,
    'functions-framework turns the push request into a CloudEvent; a thrown error is retried',
    async (t) => {
      const name = ctx.id('function');
      const events: PubSubCloudEvent[] = [];
      functions.cloudEvent(name, (event: PubSubCloudEvent) => {
        events.push(event);
        if (events.length === 1) throw new Error('first attempt fails on purpose');
      });
      const server = getTestServer(name);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const { port } = server.address() as AddressInfo;

      const topicId = ctx.id('fn-topic');
      await ctx.pubsub.createTopic(topicId);
      const subscriptionId = ctx.id('fn-push');
      await ctx.pubsub.topic(topicId).createSubscription(subscriptionId, {
        pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/projects/${PROJECT}/topics/${topicId}` },
      });
      const payload = JSON.stringify({ hello: 'function' });
      const id = await ctx.pubsub
        .topic(topicId)
        .publishMessage({ data: Buffer.from(payload), attributes: { kind: 'k' } });
      await waitUntil(() => events.length >= 2, 'the retry after the function threw', 20_000);
      for (const event of events.slice(0, 2)) {
        assert.equal(event.id, id);
        assert.equal(event.specversion, '1.0');
        assert.equal(event.type, 'google.cloud.pubsub.topic.v1.messagePublished');
        assert.equal(event.source, `//pubsub.googleapis.com/projects/${PROJECT}/topics/${topicId}`);
        assert.equal(Buffer.from(event.data?.message?.data ?? '', 'base64').toString(), payload);
        assert.deepEqual(event.data?.message?.attributes, { kind: 'k' });
        assert.equal(event.data?.message?.messageId, id);
      }
    },
  );
});
