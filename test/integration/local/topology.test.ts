import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import { FUNCTION, SUBSCRIPTIONS, TOPICS } from '#shared/contracts/catalogue.ts';
import { ensureTopology } from '../../../local/launcher/topology.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { pubsubClient, startEmulator } from '../../helpers/pubsub.ts';

describe('ensureTopology', () => {
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  before(async () => {
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
  });
  after(async () => {
    await pubsub.close();
    await emulator.stop();
  });

  it('creates the catalogue as infra does, for the functions that run, and is idempotent', async () => {
    const endpoints = {
      [FUNCTION.saga]: 'http://127.0.0.1:1/saga',
      [FUNCTION.deadLetter]: 'http://127.0.0.1:1/dl',
    };
    const created = await ensureTopology({
      pubsub,
      endpoints,
      pushServiceAccount: 'invoker@p.iam.gserviceaccount.com',
    });
    const [topics] = await pubsub.getTopics();
    assert.deepEqual(topics.map((t) => t.name.split('/').pop()).sort(), TOPICS.map((t) => t.name).sort());

    const expected = SUBSCRIPTIONS.filter((s) => !s.pushTo || s.pushTo in endpoints).map((s) => s.name);
    const [subscriptions] = await pubsub.getSubscriptions();
    assert.deepEqual(subscriptions.map((s) => s.name.split('/').pop()).sort(), [...expected].sort());

    const [saga] = await pubsub.subscription(FUNCTION.saga).getMetadata();
    assert.equal(saga.enableMessageOrdering, true);
    assert.equal(saga.pushConfig?.pushEndpoint, endpoints.saga);
    assert.equal(saga.pushConfig?.oidcToken?.audience, endpoints.saga);
    assert.equal(saga.deadLetterPolicy?.maxDeliveryAttempts, 10);
    assert.match(saga.deadLetterPolicy?.deadLetterTopic ?? '', /\/topics\/dead-letters$/);
    assert.equal(Number(saga.retryPolicy?.minimumBackoff?.seconds), 1);

    const [replay] = await pubsub.subscription('saga-replay').getMetadata();
    assert.equal(replay.filter, 'attributes.conveyor-replay-consumer = "saga"');

    assert.deepEqual(await ensureTopology({ pubsub, endpoints }), [], 'a second run creates nothing');
    assert.ok(created.length === TOPICS.length + expected.length);
  });
});
