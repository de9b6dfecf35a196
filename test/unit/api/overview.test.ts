import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { buildOverview } from '../../../api/routes/operations/overview.ts';
import { createConveyorMetrics, type GaugeSource } from '#shared/telemetry/metrics.ts';
import type { MetricSource } from '#shared/telemetry/prometheus.ts';

class Reader extends MetricReader {
  protected override onShutdown = () => Promise.resolve();
  protected override onForceFlush = () => Promise.resolve();
}

/** One process's metrics after `record`, as /metrics and the overview receive them. */
async function source(
  service: string,
  record: (metrics: ReturnType<typeof createConveyorMetrics>) => void,
  gauges: GaugeSource[] = [],
): Promise<MetricSource> {
  const reader = new Reader();
  const provider = new MeterProvider({ readers: [reader] });
  record(createConveyorMetrics(provider.getMeter('test'), { gauges }));
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return {
    service,
    instance: `${service}-1`,
    metrics: resourceMetrics.scopeMetrics.flatMap((s) => s.metrics),
  };
}

describe('the operations overview', () => {
  it('sums counters and merges histograms across processes; gauges take the largest report', async () => {
    const api = await source(
      'api',
      (metrics) => {
        metrics.published('order-events', 'order.created.v1', 3);
        metrics.httpRequest('POST', '/v1/orders', 202, 0.01);
        metrics.httpRequest('GET', '/v1/orders', 503, 0.2);
      },
      [
        () => ({
          outbox: { backlog: 4, oldestAgeSeconds: 1.5 },
          deadLettersOpen: { saga: 2 },
          eventStoreEvents: 9,
        }),
      ],
    );
    const sagaA = await source('saga', (metrics) => {
      metrics.consumed('saga', 'order.created.v1', 'processed', 0.004);
      metrics.consumed('saga', 'order.created.v1', 'retry', 0.3);
      metrics.orderEnded('completed', {
        acceptedAt: '2026-01-01T00:00:00Z',
        endedAt: '2026-01-01T00:00:00.400Z',
      });
      metrics.breakerState('payment', 'closed');
    });
    const sagaB = await source('saga', (metrics) => {
      metrics.consumed('saga', 'payment.processed.v1', 'processed', 0.02);
      metrics.breakerState('payment', 'open');
    });

    const overview = buildOverview([api, sagaA, sagaB], 1_000);
    assert.equal(overview.at, 1_000);
    assert.deepEqual(overview.published, {
      total: 3,
      byTopic: { 'order-events': 3 },
      byType: { 'order.created.v1': 3 },
    });
    const saga = overview.consumed.saga!;
    assert.equal(saga.total, 3);
    assert.deepEqual(saga.byOutcome, { processed: 2, retry: 1 });
    assert.equal(saga.latency.count, 3);
    assert.ok(Math.abs(saga.latency.sum - 0.324) < 1e-9);
    assert.equal(saga.latency.counts.length, saga.latency.boundaries.length + 1);
    assert.equal(
      saga.latency.counts.reduce((a, b) => a + b, 0),
      3,
    );
    assert.equal(overview.orders.completed.count, 1);
    assert.equal(overview.orders.cancelled.count, 0);
    assert.deepEqual([overview.http.requests, overview.http.serverErrors], [2, 1]);
    assert.deepEqual(overview.gauges, {
      outboxBacklog: 4,
      outboxOldestAgeSeconds: 1.5,
      eventStoreEvents: 9,
      deadLettersOpen: { saga: 2 },
      consumerLagSeconds: {},
      circuits: { payment: 2 },
    });
  });
});
