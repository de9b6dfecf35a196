import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKeyedSerializer, createLimiter } from '#shared/functions/concurrency.ts';

/** A promise resolved from outside. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('createLimiter', () => {
  it('runs at most `max` tasks at once, the rest in arrival order', async () => {
    const limit = createLimiter(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, index) =>
      limit(async () => {
        started.push(index);
        await g.opened;
        return index;
      }),
    );
    await Promise.resolve();
    assert.deepEqual(started, [0, 1]);
    gates[1]!.open();
    await runs[1];
    await Promise.resolve();
    assert.deepEqual(started, [0, 1, 2]);
    for (const g of gates) g.open();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
  });

  it('frees the slot of a task that fails', async () => {
    const limit = createLimiter(1);
    await assert.rejects(
      limit(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await limit(() => Promise.resolve('next')), 'next');
  });

  it('refuses a limit below one', () => {
    assert.throws(() => createLimiter(0), RangeError);
  });
});

describe('createKeyedSerializer', () => {
  it('runs one key’s tasks one after the other, other keys alongside', async () => {
    const serially = createKeyedSerializer();
    const first = gate();
    const log: string[] = [];
    const a1 = serially('a', async () => {
      log.push('a1 start');
      await first.opened;
      log.push('a1 end');
    });
    const a2 = serially('a', () => {
      log.push('a2');
      return Promise.resolve();
    });
    const b1 = serially('b', () => {
      log.push('b1');
      return Promise.resolve();
    });
    await b1;
    assert.deepEqual(log, ['a1 start', 'b1']);
    first.open();
    await Promise.all([a1, a2]);
    assert.deepEqual(log, ['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('goes on after a failed task of the key', async () => {
    const serially = createKeyedSerializer();
    const failed = serially('k', () => Promise.reject(new Error('boom')));
    const next = serially('k', () => Promise.resolve('ran'));
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 'ran');
  });
});
