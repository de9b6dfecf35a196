import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEAD_LETTER_STATUSES,
  DEAD_LETTER_SUBSCRIPTIONS,
  ORDER_STATUSES,
  REPLAY_CONSUMERS,
  REPLAY_STATUSES,
} from '../../../api/console/src/lib/constants.ts';
import { REPLAYABLE_CONSUMERS, SUBSCRIPTIONS, TOPIC } from '#shared/contracts/catalogue.ts';
import { ORDER_STATUSES as DOMAIN_ORDER_STATUSES } from '#shared/domain/order/index.ts';
import { REPLAY_STATUSES as STORED_REPLAY_STATUSES } from '#shared/replay/store.ts';
import { DEAD_LETTER_STATUSES as STORED_DEAD_LETTER_STATUSES } from '#shared/store/dead-letters.ts';

describe("console: the names it offers are the server's", () => {
  it('order, dead-letter and replay statuses', () => {
    assert.deepEqual([...ORDER_STATUSES], [...DOMAIN_ORDER_STATUSES]);
    assert.deepEqual([...DEAD_LETTER_STATUSES], [...STORED_DEAD_LETTER_STATUSES]);
    assert.deepEqual([...REPLAY_STATUSES], [...STORED_REPLAY_STATUSES]);
  });

  it('the subscriptions that dead-letter into the table, and the replayable consumers', () => {
    const dead = SUBSCRIPTIONS.filter(
      (s) => 'topic' in s.deadLetter && s.deadLetter.topic === TOPIC.deadLetters,
    );
    assert.deepEqual([...DEAD_LETTER_SUBSCRIPTIONS].sort(), dead.map((s) => s.name).sort());
    assert.deepEqual([...REPLAY_CONSUMERS], [...REPLAYABLE_CONSUMERS]);
  });
});
