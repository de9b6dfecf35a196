import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  FUNCTION,
  isEventOf,
  NOTIFIABLE_EVENTS,
  REPLAY_CONSUMER_ATTRIBUTE,
  REPLAYABLE_CONSUMERS,
  SUBSCRIPTIONS,
  TOPIC,
  TOPICS,
} from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { DEFAULT_NOTIFIED_EVENTS } from '../../../functions/notifier/handler.ts';
import { compileFilter } from '../../../local/pubsub-emulator/filter.ts';

describe('catalogue', () => {
  it('names are unique and valid Pub/Sub ids', () => {
    const names = [...TOPICS.map((t) => t.name), ...SUBSCRIPTIONS.map((s) => s.name)];
    for (const name of names) assert.match(name, /^[a-z][a-z0-9-]{2,254}$/);
    assert.equal(new Set(TOPICS.map((t) => t.name)).size, TOPICS.length);
    assert.equal(new Set(SUBSCRIPTIONS.map((s) => s.name)).size, SUBSCRIPTIONS.length);
  });

  it('every subscription reads a catalogued topic and dead-letters to one, or says why not', () => {
    const topics = new Set(TOPICS.map((t) => t.name));
    for (const spec of SUBSCRIPTIONS) {
      assert.ok(topics.has(spec.topic), `${spec.name} reads ${spec.topic}`);
      if ('topic' in spec.deadLetter) {
        assert.ok(topics.has(spec.deadLetter.topic));
        assert.notEqual(
          spec.deadLetter.topic,
          spec.topic,
          `${spec.name} must not dead-letter into its own topic`,
        );
        assert.ok(spec.deadLetter.maxDeliveryAttempts >= 5 && spec.deadLetter.maxDeliveryAttempts <= 100);
      } else {
        assert.ok(spec.deadLetter.exempt.length > 10, `${spec.name} explains its exemption`);
        assert.equal(spec.pushTo, undefined, 'a push consumer always has a dead-letter policy');
      }
    }
  });

  it('every function consumes exactly one live subscription named after it', () => {
    for (const name of Object.values(FUNCTION)) {
      const live = SUBSCRIPTIONS.filter((s) => s.pushTo === name && s.topic !== TOPIC.replays);
      assert.deepEqual(
        live.map((s) => s.name),
        [name],
      );
    }
  });

  it('order events are consumed in order by the saga; replay feeds address one consumer', () => {
    assert.equal(SUBSCRIPTIONS.find((s) => s.name === FUNCTION.saga)?.ordering, true);
    for (const name of REPLAYABLE_CONSUMERS) {
      const feed = SUBSCRIPTIONS.find((s) => s.name === `${name}-replay`);
      assert.equal(feed?.topic, TOPIC.replays);
      assert.equal(feed?.pushTo, name);
      assert.equal(feed?.filter, `attributes.${REPLAY_CONSUMER_ATTRIBUTE} = "${name}"`);
    }
  });

  it("the notifier's subscription delivers only the events it may announce, every version of them", () => {
    const spec = SUBSCRIPTIONS.find((s) => s.name === FUNCTION.notifier)!;
    const passes = compileFilter(spec.filter!); // Pub/Sub's syntax and 256-byte limit
    const delivered = Object.values(EVENT_TYPE).filter((type) => passes({ [ATTRIBUTE.type]: type }));
    assert.deepEqual(
      delivered,
      Object.values(EVENT_TYPE).filter((type) => isEventOf(NOTIFIABLE_EVENTS, type)),
    );
    assert.deepEqual(delivered.toSorted(), [...DEFAULT_NOTIFIED_EVENTS].toSorted());
    assert.ok(passes({ [ATTRIBUTE.type]: 'order.cancelled.v1' }), 'an older version too (upcast on arrival)');
    assert.ok(!passes({ [ATTRIBUTE.type]: 'order.completedish.v1' }));
    assert.ok(!passes({}), 'a message without a type');
  });

  it('production retries back off from 10 s to 600 s, local ones faster', () => {
    for (const spec of SUBSCRIPTIONS) {
      assert.deepEqual(spec.retry, { minimumBackoffSeconds: 10, maximumBackoffSeconds: 600 });
      assert.ok(spec.localRetry.maximumBackoffSeconds < spec.retry.maximumBackoffSeconds);
    }
  });

  it('function folders, where they exist, are named from the catalogue', () => {
    const folders = readdirSync('functions', { withFileTypes: true }).filter((d) => d.isDirectory());
    const names = new Set<string>(Object.values(FUNCTION));
    for (const folder of folders)
      assert.ok(names.has(folder.name), `functions/${folder.name} is in the catalogue`);
  });
});
