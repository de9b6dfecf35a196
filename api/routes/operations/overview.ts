/**
 * The console's live overview: the catalogued metrics of every process that reports here (this
 * API's own, and locally the functions' received over OTLP) folded into one snapshot. Counters and
 * histograms are cumulative, so the console turns two snapshots into rates and the latency
 * percentiles of the interval between them; gauges are the current value (the largest reported,
 * where several processes report one).
 */
import { DataPointType, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import { METRICS } from '#shared/telemetry/metrics-catalogue.ts';
import type { MetricSource } from '#shared/telemetry/prometheus.ts';

export const HistogramSchema = z.object({
  /** Upper bounds of the buckets; the last bucket (counts has one more entry) is unbounded. */
  boundaries: z.array(z.number()),
  /** Observations per bucket (not cumulative). */
  counts: z.array(z.number().int().min(0)),
  count: z.number().int().min(0),
  sum: z.number(),
});
export type HistogramSnapshot = z.infer<typeof HistogramSchema>;

const Counts = z.record(z.string(), z.number());

export const OverviewSchema = z
  .object({
    /** When it was collected (epoch ms). */
    at: z.number(),
    /** The processes whose numbers are in it. */
    sources: z.array(z.object({ service: z.string(), instance: z.string() })),
    published: z.object({ total: z.number(), byTopic: Counts, byType: Counts }),
    consumed: z.record(
      z.string(),
      z.object({ total: z.number(), byOutcome: Counts, latency: HistogramSchema }),
    ),
    orders: z.object({ completed: HistogramSchema, cancelled: HistogramSchema }),
    http: z.object({ requests: z.number(), serverErrors: z.number(), latency: HistogramSchema }),
    gauges: z.object({
      outboxBacklog: z.number().nullable(),
      outboxOldestAgeSeconds: z.number().nullable(),
      eventStoreEvents: z.number().nullable(),
      deadLettersOpen: Counts,
      consumerLagSeconds: Counts,
      /** 0 closed, 1 half-open, 2 open. */
      circuits: Counts,
    }),
  })
  .meta({ id: 'Overview' });
export type Overview = z.infer<typeof OverviewSchema>;

const emptyHistogram = (): HistogramSnapshot => ({ boundaries: [], counts: [], count: 0, sum: 0 });

function addHistogram(into: HistogramSnapshot, value: Histogram): void {
  const { boundaries, counts } = value.buckets;
  if (into.count === 0 && into.counts.length === 0) {
    into.boundaries = [...boundaries];
    into.counts = counts.map(() => 0);
  }
  // Every process builds a metric from the same catalogue entry: the same buckets.
  if (into.boundaries.length !== boundaries.length || into.boundaries.some((b, i) => b !== boundaries[i]))
    return;
  counts.forEach((count, index) => (into.counts[index] = (into.counts[index] ?? 0) + count));
  into.count += value.count;
  into.sum += value.sum ?? 0;
}

const add = (counts: Record<string, number>, key: string, value: number) => {
  counts[key] = (counts[key] ?? 0) + value;
};
const max = (counts: Record<string, number>, key: string, value: number) => {
  counts[key] = Math.max(counts[key] ?? Number.NEGATIVE_INFINITY, value);
};
const label = (point: DataPoint<unknown>, key: string) => {
  const value = point.attributes[key];
  return value === undefined ? 'none' : String(value);
};

/** One snapshot from the collected metrics of every source. */
export function buildOverview(sources: readonly MetricSource[], at: number): Overview {
  const overview: Overview = {
    at,
    sources: sources.map(({ service, instance }) => ({ service, instance })),
    published: { total: 0, byTopic: {}, byType: {} },
    consumed: {},
    orders: { completed: emptyHistogram(), cancelled: emptyHistogram() },
    http: { requests: 0, serverErrors: 0, latency: emptyHistogram() },
    gauges: {
      outboxBacklog: null,
      outboxOldestAgeSeconds: null,
      eventStoreEvents: null,
      deadLettersOpen: {},
      consumerLagSeconds: {},
      circuits: {},
    },
  };
  const gauge = (current: number | null, value: number) =>
    current === null ? value : Math.max(current, value);
  const consumer = (name: string) =>
    (overview.consumed[name] ??= { total: 0, byOutcome: {}, latency: emptyHistogram() });

  for (const source of sources) {
    for (const metric of source.metrics) each(metric);
  }
  return overview;

  function each(metric: MetricData): void {
    const name = metric.descriptor.name;
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      for (const point of metric.dataPoints) {
        if (name === METRICS.processingDuration.name)
          addHistogram(consumer(label(point, 'consumer')).latency, point.value);
        else if (name === METRICS.orderDuration.name) {
          const outcome = label(point, 'outcome');
          if (outcome === 'completed' || outcome === 'cancelled')
            addHistogram(overview.orders[outcome], point.value);
        } else if (name === METRICS.httpServerDuration.name) {
          addHistogram(overview.http.latency, point.value);
          overview.http.requests += point.value.count;
          if (Number(point.attributes['http.response.status_code']) >= 500)
            overview.http.serverErrors += point.value.count;
        }
      }
      return;
    }
    for (const point of metric.dataPoints as DataPoint<number>[]) {
      const value = point.value;
      switch (name) {
        case METRICS.eventsPublished.name:
          overview.published.total += value;
          add(overview.published.byTopic, label(point, 'topic'), value);
          add(overview.published.byType, label(point, 'type'), value);
          break;
        case METRICS.eventsConsumed.name: {
          const entry = consumer(label(point, 'consumer'));
          entry.total += value;
          add(entry.byOutcome, label(point, 'outcome'), value);
          break;
        }
        case METRICS.outboxBacklog.name:
          overview.gauges.outboxBacklog = gauge(overview.gauges.outboxBacklog, value);
          break;
        case METRICS.outboxOldestAge.name:
          overview.gauges.outboxOldestAgeSeconds = gauge(overview.gauges.outboxOldestAgeSeconds, value);
          break;
        case METRICS.eventStoreEvents.name:
          overview.gauges.eventStoreEvents = gauge(overview.gauges.eventStoreEvents, value);
          break;
        case METRICS.deadLettersOpen.name:
          max(overview.gauges.deadLettersOpen, label(point, 'subscription'), value);
          break;
        case METRICS.subscriptionOldestUnackedAge.name:
          max(overview.gauges.consumerLagSeconds, label(point, 'subscription'), value);
          break;
        case METRICS.circuitState.name:
          max(overview.gauges.circuits, label(point, 'provider'), value);
          break;
      }
    }
  }
}
