/** The emulator's consumer lag: the age of each subscription's oldest unacknowledged message. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Message, PubSub } from '@google-cloud/pubsub';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';

describe('pubsub emulator: oldest unacked message age', () => {
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

  it('is 0 without messages, the oldest open message age while some wait, 0 again once acked', async () => {
    const [topic] = await pubsub.createTopic('lag-topic');
    const [subscription] = await topic.createSubscription('lag-sub', { ackDeadlineSeconds: 10 });
    const name = `projects/${PROJECT_ID}/subscriptions/lag-sub`;
    assert.equal(emulator.oldestUnackedAges()[name], 0);

    const first = Date.now();
    await topic.publishMessage({ data: Buffer.from('first') });
    await topic.publishMessage({ data: Buffer.from('second') });
    const published = Date.now();
    // Measured from the first message's publish time: between those two clock readings.
    const lag = emulator.oldestUnackedAges(published + 5_000)[name]!;
    assert.ok(lag >= 5 && lag <= (published + 5_000 - first) / 1000, `lag ${lag}`);

    subscription.on('message', (message: Message) => message.ack());
    try {
      await waitUntil(() => emulator.oldestUnackedAges()[name] === 0, {
        timeoutMs: 10_000,
        what: 'both messages acknowledged',
      });
    } finally {
      await subscription.close();
    }
  });
});
