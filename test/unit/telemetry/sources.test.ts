import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import type { Queryable } from '#shared/store/pool.ts';
import { createPostgresGaugeSource } from '#shared/telemetry/sources.ts';

/** Answers the two statements the source runs, by name, with the rows given. */
function fakeDb(rows: { subscription: string | null; open: number; events: string }[]): Queryable {
  const query = (config: { name?: string }) => {
    if (config.name === 'conveyor.outbox.stats')
      return Promise.resolve({ rows: [{ backlog: 4, oldest_age_ms: 2_500 }] });
    if (config.name === 'conveyor.telemetry.gauges') return Promise.resolve({ rows });
    return Promise.reject(new Error(`unexpected query ${config.name}`));
  };
  return { query } as unknown as Queryable;
}

describe('the Postgres gauge source', () => {
  const withDeadLetterPolicy = SUBSCRIPTIONS.filter((spec) => 'topic' in spec.deadLetter).map(
    (spec) => spec.name,
  );

  it('reads the outbox, open dead letters per subscription (0 where none) and the event store', async () => {
    const readings = await createPostgresGaugeSource(
      fakeDb([
        { subscription: 'saga', open: 3, events: '1200' },
        { subscription: 'retired-sub', open: 1, events: '1200' },
      ]),
    )();
    assert.deepEqual(readings.outbox, { backlog: 4, oldestAgeSeconds: 2.5 });
    assert.equal(readings.eventStoreEvents, 1_200);
    assert.equal(readings.deadLettersOpen?.saga, 3);
    assert.equal(
      readings.deadLettersOpen?.['retired-sub'],
      1,
      'a subscription no longer catalogued still shows',
    );
    for (const name of withDeadLetterPolicy.filter((n) => n !== 'saga'))
      assert.equal(readings.deadLettersOpen?.[name], 0, name);
  });

  it('reports zeros on an empty database', async () => {
    const readings = await createPostgresGaugeSource(
      fakeDb([{ subscription: null, open: 0, events: '0' }]),
    )();
    assert.equal(readings.eventStoreEvents, 0);
    assert.deepEqual(Object.keys(readings.deadLettersOpen ?? {}).sort(), [...withDeadLetterPolicy].sort());
  });
});
