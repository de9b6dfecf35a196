/**
 * From snapshots of cumulative metrics (GET /v1/operations/overview, polled) to what the overview
 * charts draw: rates between consecutive snapshots, latency percentiles of the observations made
 * between them (as PromQL's histogram_quantile does), gauges as they are. No DOM: unit-tested.
 */
import type { HistogramSnapshot, Overview } from '../../../routes/operations/overview.ts';

export interface Point {
  /** Epoch ms. */
  t: number;
  /** null where there is nothing to say (no observation in the interval). */
  v: number | null;
}

export interface Series {
  name: string;
  points: Point[];
}

/** Per second between two cumulative readings; a reset (a process restarted) counts from zero. */
export function rate(previous: number, next: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return (next >= previous ? next - previous : next) / seconds;
}

/** The observations made between two readings of one histogram. */
export function histogramDelta(previous: HistogramSnapshot, next: HistogramSnapshot): HistogramSnapshot {
  const comparable = previous.boundaries.length === next.boundaries.length && next.count >= previous.count;
  if (!comparable) return next;
  return {
    boundaries: next.boundaries,
    counts: next.counts.map((count, index) => Math.max(0, count - (previous.counts[index] ?? 0))),
    count: next.count - previous.count,
    sum: next.sum - previous.sum,
  };
}

/**
 * The q-quantile (0–1) of a histogram: linear within the bucket it falls in, from 0 for the first
 * bucket; in the unbounded last bucket, its lower bound. null without observations.
 */
export function quantile(histogram: HistogramSnapshot, q: number): number | null {
  const total = histogram.counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let index = 0; index < histogram.counts.length; index++) {
    const count = histogram.counts[index]!;
    if (count > 0 && seen + count >= rank) {
      const lower = index === 0 ? 0 : histogram.boundaries[index - 1]!;
      const upper = histogram.boundaries[index];
      if (upper === undefined) return lower;
      return lower + (upper - lower) * ((rank - seen) / count);
    }
    seen += count;
  }
  return histogram.boundaries.at(-1) ?? null;
}

/** Adds histograms with the same buckets (several consumers' latency, for instance). */
export function mergeHistograms(histograms: readonly HistogramSnapshot[]): HistogramSnapshot {
  const base = histograms.find((h) => h.counts.length > 0);
  if (!base) return { boundaries: [], counts: [], count: 0, sum: 0 };
  const merged = { boundaries: base.boundaries, counts: base.counts.map(() => 0), count: 0, sum: 0 };
  for (const histogram of histograms) {
    if (histogram.counts.length !== merged.counts.length) continue;
    histogram.counts.forEach((count, index) => (merged.counts[index]! += count));
    merged.count += histogram.count;
    merged.sum += histogram.sum;
  }
  return merged;
}

const PERCENTILES = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

export interface OverviewSeries {
  /** events/s: published to order-events, and consumed per consumer. */
  throughput: Series[];
  /** Processing latency of every consumer's deliveries, ms. */
  processing: Series[];
  /** Order accepted → completed, ms. */
  endToEnd: Series[];
  /** Oldest unacked message per subscription, s. */
  lag: Series[];
  /** Outbox rows committed and not yet published. */
  outbox: Series[];
}

/** The chart series over consecutive snapshots (oldest first). */
export function overviewSeries(snapshots: readonly Overview[]): OverviewSeries {
  const throughput = new Map<string, Point[]>();
  const processing = new Map<string, Point[]>(PERCENTILES.map(([name]) => [name, []]));
  const endToEnd = new Map<string, Point[]>(PERCENTILES.map(([name]) => [name, []]));
  const lag = new Map<string, Point[]>();
  const outbox = new Map<string, Point[]>([['backlog', []]]);
  const push = (map: Map<string, Point[]>, name: string, point: Point) => {
    const points = map.get(name) ?? [];
    points.push(point);
    map.set(name, points);
  };

  for (let i = 0; i < snapshots.length; i++) {
    const next = snapshots[i]!;
    const t = next.at;
    for (const [subscription, seconds] of Object.entries(next.gauges.consumerLagSeconds)) {
      if (!subscription.endsWith('-replay')) push(lag, subscription, { t, v: seconds });
    }
    push(outbox, 'backlog', { t, v: next.gauges.outboxBacklog });
    const previous = snapshots[i - 1];
    if (!previous) continue;
    const seconds = (next.at - previous.at) / 1000;
    push(throughput, 'published', {
      t,
      v: rate(
        previous.published.byTopic['order-events'] ?? 0,
        next.published.byTopic['order-events'] ?? 0,
        seconds,
      ),
    });
    for (const [consumer, entry] of Object.entries(next.consumed)) {
      push(throughput, consumer, {
        t,
        v: rate(previous.consumed[consumer]?.total ?? 0, entry.total, seconds),
      });
    }
    const latencies = Object.entries(next.consumed).map(([consumer, entry]) => {
      const before = previous.consumed[consumer]?.latency;
      return before ? histogramDelta(before, entry.latency) : entry.latency;
    });
    const interval = mergeHistograms(latencies);
    const completed = histogramDelta(previous.orders.completed, next.orders.completed);
    for (const [name, q] of PERCENTILES) {
      const processed = quantile(interval, q);
      push(processing, name, { t, v: processed === null ? null : processed * 1000 });
      const ended = quantile(completed, q);
      push(endToEnd, name, { t, v: ended === null ? null : ended * 1000 });
    }
  }
  const list = (map: Map<string, Point[]>): Series[] => [...map].map(([name, points]) => ({ name, points }));
  return {
    throughput: list(throughput),
    processing: list(processing),
    endToEnd: list(endToEnd),
    lag: list(lag),
    outbox: list(outbox),
  };
}
