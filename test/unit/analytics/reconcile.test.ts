import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentTypeOf, reconcile, repairPlan } from '#shared/analytics/reconcile.ts';

const range = { from: '2024-03-01T06:00:00.000Z', to: '2024-03-04T00:00:00.000Z' };

describe('reconciliation', () => {
  it('finds days and types BigQuery misses or has extra, and totals them', () => {
    const report = reconcile(
      range,
      [
        { day: '2024-03-01', type: 'order.created.v1', events: 10 },
        { day: '2024-03-02', type: 'order.created.v1', events: 8 },
        { day: '2024-03-02', type: 'payment.processed.v1', events: 5 },
        { day: '2024-03-03', type: 'order.completed.v1', events: 4 },
      ],
      [
        { day: '2024-03-01', type: 'order.created.v1', events: 10 },
        { day: '2024-03-02', type: 'order.created.v1', events: 6 },
        { day: '2024-03-03', type: 'order.completed.v1', events: 4 },
        { day: '2024-03-03', type: 'order.cancelled.v2', events: 1 },
      ],
    );
    assert.deepEqual([report.stored, report.inBigQuery, report.missing, report.extra], [27, 21, 7, 1]);
    assert.deepEqual(
      report.gaps.map((day) => [day.day, day.missing, day.extra]),
      [
        ['2024-03-02', 7, 0],
        ['2024-03-03', 0, 1],
      ],
    );
    assert.deepEqual(report.gaps[0]!.types, [
      { type: 'order.created.v1', stored: 8, inBigQuery: 6, missing: 2, extra: 0 },
      { type: 'payment.processed.v1', stored: 5, inBigQuery: 0, missing: 5, extra: 0 },
    ]);
    assert.deepEqual(repairPlan(report), [
      {
        from: '2024-03-02T00:00:00.000Z',
        to: '2024-03-03T00:00:00.000Z',
        types: ['order.created.v1', 'payment.processed.v1'],
        consumer: 'analytics',
      },
    ]);
  });

  it('keeps a repair within the reconciled range', () => {
    const report = reconcile(range, [{ day: '2024-03-01', type: 'order.created.v1', events: 1 }], []);
    assert.deepEqual(repairPlan(report), [
      {
        from: range.from,
        to: '2024-03-02T00:00:00.000Z',
        types: ['order.created.v1'],
        consumer: 'analytics',
      },
    ]);
    assert.deepEqual(repairPlan(reconcile(range, [], [])), []);
  });

  it('compares types as analytics stores them (older versions upcast)', () => {
    assert.equal(currentTypeOf('order.cancelled.v1'), 'order.cancelled.v2');
    assert.equal(currentTypeOf('order.created.v1'), 'order.created.v1');
  });
});
