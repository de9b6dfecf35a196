import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistogramSnapshot, Overview } from '../../../api/routes/operations/overview.ts';
import {
  histogramDelta,
  mergeHistograms,
  overviewSeries,
  quantile,
  rate,
} from '../../../api/console/src/lib/series.ts';

const histogram = (counts: number[], boundaries = [0.01, 0.1, 1], sum = 0): HistogramSnapshot => ({
  boundaries,
  counts,
  count: counts.reduce((a, b) => a + b, 0),
  sum,
});

describe('console: metric series', () => {
  it('rates per second, counting a reset from zero', () => {
    assert.equal(rate(100, 160, 2), 30);
    assert.equal(rate(100, 10, 2), 5, 'a restarted process counts from zero');
    assert.equal(rate(1, 2, 0), 0);
  });

  it('quantiles interpolate within the bucket, like histogram_quantile', () => {
    // 10 observations: 5 in (0, 0.01], 5 in (0.01, 0.1].
    const h = histogram([5, 5, 0, 0]);
    assert.equal(quantile(h, 0.5), 0.01);
    assert.ok(Math.abs(quantile(h, 0.9)! - (0.01 + 0.09 * 0.8)) < 1e-12);
    assert.equal(quantile(histogram([0, 0, 0, 3]), 0.99), 1, 'the unbounded bucket: its lower bound');
    assert.equal(quantile(histogram([0, 0, 0, 0]), 0.5), null);
  });

  it('takes the observations between two readings, or the new reading after a reset', () => {
    assert.deepEqual(
      histogramDelta(histogram([1, 2, 0, 0], undefined, 1), histogram([3, 2, 1, 0], undefined, 2)),
      {
        boundaries: [0.01, 0.1, 1],
        counts: [2, 0, 1, 0],
        count: 3,
        sum: 1,
      },
    );
    const reset = histogram([1, 0, 0, 0]);
    assert.deepEqual(histogramDelta(histogram([5, 5, 0, 0]), reset), reset);
  });

  it('merges histograms with the same buckets', () => {
    assert.deepEqual(
      mergeHistograms([histogram([1, 0, 0, 0], undefined, 1), histogram([0, 2, 0, 0], undefined, 2)]),
      {
        boundaries: [0.01, 0.1, 1],
        counts: [1, 2, 0, 0],
        count: 3,
        sum: 3,
      },
    );
    assert.equal(mergeHistograms([]).count, 0);
  });

  it('turns snapshots into chart series: rates and percentiles between them, gauges as they are', () => {
    const snapshot = (
      at: number,
      published: number,
      sagaCounts: number[],
      completed: number[],
    ): Overview => ({
      at,
      sources: [],
      published: { total: published, byTopic: { 'order-events': published }, byType: {} },
      consumed: {
        saga: { total: sagaCounts.reduce((a, b) => a + b, 0), byOutcome: {}, latency: histogram(sagaCounts) },
      },
      orders: { completed: histogram(completed, [0.5, 1]), cancelled: histogram([0, 0, 0], [0.5, 1]) },
      http: { requests: 0, serverErrors: 0, latency: histogram([0, 0, 0, 0]) },
      gauges: {
        outboxBacklog: at / 1000,
        outboxOldestAgeSeconds: 0,
        eventStoreEvents: 0,
        deadLettersOpen: {},
        consumerLagSeconds: { saga: 0.5, 'saga-replay': 9 },
        circuits: {},
      },
    });
    const series = overviewSeries([
      snapshot(1_000, 10, [2, 0, 0, 0], [0, 0, 0]),
      snapshot(3_000, 30, [2, 4, 0, 0], [2, 0, 0]),
    ]);
    const points = (name: string, list: typeof series.throughput) =>
      list.find((s) => s.name === name)!.points.map((p) => p.v);
    assert.deepEqual(points('published', series.throughput), [10]);
    assert.deepEqual(points('saga', series.throughput), [2]);
    // The 4 new observations are all in (0.01, 0.1]: p50 is half way, in ms.
    assert.ok(Math.abs(points('p50', series.processing)[0]! - 55) < 1e-9);
    assert.deepEqual(points('p50', series.endToEnd), [250]);
    assert.deepEqual(points('saga', series.lag), [0.5, 0.5]);
    assert.equal(series.lag.length, 1, 'replay feeds are left out');
    assert.deepEqual(points('backlog', series.outbox), [1, 3]);
  });
});
