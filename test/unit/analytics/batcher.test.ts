import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createRowBatcher, InvalidRowError } from '#shared/analytics/batcher.ts';
import type { StreamRow } from '#shared/analytics/rows.ts';
import type { AnalyticsSink, RowOutcome } from '#shared/analytics/sink.ts';
import { DependencyError, isRetryable } from '#shared/errors.ts';

/** A sink whose calls the test answers by hand. */
function manualSink() {
  const calls: {
    table: string;
    rows: readonly StreamRow[];
    answer(outcomes: RowOutcome[] | ((row: StreamRow) => RowOutcome)): void;
    fail(error: Error): void;
  }[] = [];
  const sink: AnalyticsSink = {
    insert: (table, rows) =>
      new Promise((resolve, reject) => {
        calls.push({
          table,
          rows,
          answer: (outcomes) => resolve(typeof outcomes === 'function' ? rows.map(outcomes) : outcomes),
          fail: reject,
        });
      }),
  };
  return { sink, calls };
}

const row = (id: string): StreamRow => ({ insertId: id, json: { event_id: id } });
const inserted = (): RowOutcome => ({ status: 'inserted' });
const settled = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};
const timers = (t: TestContext) => t.mock.timers.enable({ apis: ['setTimeout'] });

describe('row batcher', () => {
  it('an idle batcher sends at once, with the rows that arrived in the same turn', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 10, maxDelayMs: 60_000, maxInFlight: 2 });
    const writes = [batcher.write(row('a')), batcher.write(row('b'))];
    await settled();
    assert.deepEqual(
      calls.map((call) => call.rows.map((r) => r.insertId)),
      [['a', 'b']],
      'no timer needed',
    );
    assert.equal(calls[0]!.table, 'events');
    calls[0]!.answer(inserted);
    await Promise.all(writes);
  });

  it('while a batch is in flight, rows gather until it returns, maxRows is reached or maxDelayMs passes', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 3, maxDelayMs: 1_000, maxInFlight: 3 });
    const done: string[] = [];
    const write = (id: string) => batcher.write(row(id)).then(() => done.push(id));
    const writes = [write('a')];
    await settled();
    writes.push(write('b'), write('c'));
    await settled();
    assert.deepEqual(
      calls.map((call) => call.rows.map((r) => r.insertId)),
      [['a']],
      'b and c wait for the batch in flight',
    );
    writes.push(write('d'));
    await settled();
    assert.deepEqual(
      calls[1]!.rows.map((r) => r.insertId),
      ['b', 'c', 'd'],
      'a full batch goes at once',
    );
    writes.push(write('e'));
    await settled();
    assert.equal(calls.length, 2);
    t.mock.timers.tick(1_000);
    await settled();
    assert.deepEqual(
      calls[2]!.rows.map((r) => r.insertId),
      ['e'],
      'after maxDelayMs it goes beside the others',
    );
    assert.deepEqual(done, [], 'nobody is answered before its insert');
    calls[1]!.answer(inserted);
    await settled();
    assert.deepEqual(done, ['b', 'c', 'd']);
    writes.push(write('f'), write('g'));
    await settled();
    calls[0]!.answer(inserted);
    calls[2]!.answer(inserted);
    await settled();
    assert.deepEqual(
      calls[3]!.rows.map((r) => r.insertId),
      ['f', 'g'],
      'the rest goes when the batches return',
    );
    calls[3]!.answer(inserted);
    await Promise.all(writes);
    assert.deepEqual(batcher.stats(), { rows: 7, batches: 4, coalesced: 0, waiting: 0, inFlight: 0 });
  });

  it('keeps at most maxInFlight batches in flight; the next one goes when one returns', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 2, maxDelayMs: 10, maxInFlight: 1 });
    const writes = ['a', 'b', 'c', 'd', 'e'].map((id) => batcher.write(row(id)));
    t.mock.timers.tick(10);
    await settled();
    assert.equal(calls.length, 1);
    assert.equal(batcher.stats().waiting, 3);
    calls[0]!.answer(inserted);
    await settled();
    assert.deepEqual(
      calls.map((call) => call.rows.map((r) => r.insertId)),
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
    );
    calls[1]!.answer(inserted);
    await settled();
    assert.deepEqual(
      calls[2]!.rows.map((r) => r.insertId),
      ['e'],
      'overdue rows go as soon as a slot frees',
    );
    calls[2]!.answer(inserted);
    await Promise.all(writes);
  });

  it('rejects a row BigQuery calls invalid with a permanent error, a row not inserted with a transient one', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 3, maxDelayMs: 10, maxInFlight: 1 });
    const [ok, bad, later] = ['ok', 'bad', 'later'].map((id) => batcher.write(row(id)));
    await settled();
    calls[0]!.answer([
      { status: 'inserted' },
      { status: 'invalid', reason: 'invalid at payload: Invalid JSON string' },
      { status: 'failed', reason: 'backendError' },
    ]);
    await ok;
    const invalid = await bad!.catch((error: unknown) => error);
    assert.ok(invalid instanceof InvalidRowError);
    assert.equal(isRetryable(invalid), false);
    assert.match(invalid.message, /row bad of events: invalid at payload/);
    const failed = await later!.catch((error: unknown) => error);
    assert.ok(failed instanceof DependencyError);
    assert.equal(isRetryable(failed), true);
  });

  it('a sink that throws fails every row of the batch transiently', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 2, maxDelayMs: 10, maxInFlight: 1 });
    const writes = ['a', 'b'].map((id) => batcher.write(row(id)).catch((error: unknown) => error));
    await settled();
    calls[0]!.fail(new Error('socket hang up'));
    for (const error of await Promise.all(writes)) {
      assert.ok(error instanceof DependencyError);
      assert.match(error.message, /bigquery: socket hang up/);
    }
  });

  it('a row whose insertId is already on its way shares its outcome instead of being sent twice', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 10, maxDelayMs: 10, maxInFlight: 2 });
    const first = batcher.write(row('a'));
    t.mock.timers.tick(10);
    await settled();
    const redelivery = batcher.write(row('a'));
    const waitingTwin = [batcher.write(row('b')), batcher.write(row('b'))];
    t.mock.timers.tick(10);
    await settled();
    assert.deepEqual(
      calls.map((call) => call.rows.map((r) => r.insertId)),
      [['a'], ['b']],
    );
    calls[0]!.answer(inserted);
    calls[1]!.answer(inserted);
    await Promise.all([first, redelivery, ...waitingTwin]);
    assert.equal(batcher.stats().coalesced, 2);
    batcher.write(row('a')).catch(() => {});
    assert.equal(batcher.stats().waiting, 1, 'once settled, the same id is a new write (a later delivery)');
    await settled();
  });

  it('flush() sends what waits and resolves once every write has settled', async (t) => {
    timers(t);
    const { sink, calls } = manualSink();
    const batcher = createRowBatcher(sink, 'events', { maxRows: 10, maxDelayMs: 60_000, maxInFlight: 1 });
    const write = batcher.write(row('a')).catch((error: unknown) => error);
    let flushed = false;
    const flush = batcher.flush().then(() => (flushed = true));
    await settled();
    assert.equal(calls.length, 1);
    assert.equal(flushed, false);
    calls[0]!.answer([{ status: 'failed', reason: 'timeout' }]);
    await flush;
    assert.ok((await write) instanceof DependencyError);
  });
});
