/**
 * Conveyor's metrics as calls with meaning (`published`, `consumed`, `orderEnded`…), over
 * OpenTelemetry instruments created from the catalogue, so no caller ever spells a metric name,
 * unit or label. Gauges that need Postgres or the emulator are read at collection time from the
 * sources each deployable passes in (see sources.ts for the Postgres one).
 */
import {
  ValueType,
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableGauge,
} from '@opentelemetry/api';
import { isEventType, UPCASTERS } from '#shared/contracts/events/index.ts';
import {
  BREAKER_STATE_VALUE,
  METRICS,
  type ConsumeOutcome,
  type MetricSpec,
  type OrderOutcome,
} from './metrics-catalogue.ts';

/** What a gauge source can see; each field is optional (a deployable reports what it can). */
export interface GaugeReadings {
  outbox?: { backlog: number; oldestAgeSeconds: number };
  /** Open dead letters per source subscription. */
  deadLettersOpen?: Readonly<Record<string, number>>;
  eventStoreEvents?: number;
  /** Age in seconds of the oldest unacked message, per subscription (local: the emulator). */
  subscriptionLag?: Readonly<Record<string, number>>;
}

/** Read at each metrics collection (export or /metrics); a failing or slow source is skipped. */
export type GaugeSource = () => Promise<GaugeReadings> | GaugeReadings;

export type BreakerStateName = keyof typeof BREAKER_STATE_VALUE;

export interface ConveyorMetrics {
  /** `count` messages of event type `type` accepted by Pub/Sub on `topic`. */
  published(topic: string, type: string | undefined, count?: number): void;
  /** One push delivery handled by `consumer`, with its outcome and how long it took. */
  consumed(consumer: string, type: string | undefined, outcome: ConsumeOutcome, seconds: number): void;
  /** An order ended: accepted at `acceptedAt` (order.created), ended at `endedAt` (ISO strings or dates). */
  orderEnded(outcome: OrderOutcome, times: { acceptedAt: string | Date; endedAt: string | Date }): void;
  /** One HTTP request served; `route` is the route template (undefined when nothing matched). */
  httpRequest(method: string, route: string | undefined, status: number, seconds: number): void;
  /** A provider client's circuit breaker is now in `state` (call once at start with `closed`). */
  breakerState(provider: string, state: BreakerStateName): void;
}

export interface ConveyorMetricsOptions {
  gauges?: readonly GaugeSource[];
  /** A gauge source that has not answered after this long is skipped for this collection. Default 5 s. */
  gaugeTimeoutMs?: number;
  onGaugeError?: (error: unknown) => void;
}

/** Metrics that record nothing: for code run without telemetry (tests, tools). */
export const NOOP_METRICS: ConveyorMetrics = {
  published: () => undefined,
  consumed: () => undefined,
  orderEnded: () => undefined,
  httpRequest: () => undefined,
  breakerState: () => undefined,
};

/** Distinct event type labels one process reports before it calls the rest `other`. */
const MAX_TYPE_LABELS = 100;

export function createConveyorMetrics(meter: Meter, options: ConveyorMetricsOptions = {}): ConveyorMetrics {
  const counter = (spec: MetricSpec): Counter =>
    meter.createCounter(spec.name, {
      unit: spec.unit,
      description: spec.description,
      valueType: spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE,
    });
  const histogram = (spec: MetricSpec): Histogram =>
    meter.createHistogram(spec.name, {
      unit: spec.unit,
      description: spec.description,
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: [...(spec.buckets ?? [])] },
    });
  const gauge = (spec: MetricSpec): ObservableGauge =>
    meter.createObservableGauge(spec.name, {
      unit: spec.unit,
      description: spec.description,
      valueType: spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE,
    });

  const published = counter(METRICS.eventsPublished);
  const consumed = counter(METRICS.eventsConsumed);
  const processing = histogram(METRICS.processingDuration);
  const orders = histogram(METRICS.orderDuration);
  const http = histogram(METRICS.httpServerDuration);
  const gauges = {
    outboxBacklog: gauge(METRICS.outboxBacklog),
    outboxOldestAge: gauge(METRICS.outboxOldestAge),
    lag: gauge(METRICS.subscriptionOldestUnackedAge),
    deadLetters: gauge(METRICS.deadLettersOpen),
    events: gauge(METRICS.eventStoreEvents),
    circuit: gauge(METRICS.circuitState),
  };
  const breakers = new Map<string, number>();
  const typeLabel = createTypeLabeller();
  const sources = options.gauges ?? [];
  const timeoutMs = options.gaugeTimeoutMs ?? 5_000;

  meter.addBatchObservableCallback(async (observer) => {
    for (const [provider, value] of breakers) observer.observe(gauges.circuit, value, { provider });
    const readings = await Promise.all(
      sources.map((source): Promise<GaugeReadings> =>
        withTimeout(Promise.resolve().then(source), timeoutMs).catch((error: unknown) => {
          options.onGaugeError?.(error);
          return {};
        }),
      ),
    );
    for (const reading of readings) {
      if (reading.outbox) {
        observer.observe(gauges.outboxBacklog, reading.outbox.backlog);
        observer.observe(gauges.outboxOldestAge, reading.outbox.oldestAgeSeconds);
      }
      if (reading.eventStoreEvents !== undefined) observer.observe(gauges.events, reading.eventStoreEvents);
      for (const [subscription, open] of Object.entries(reading.deadLettersOpen ?? {}))
        observer.observe(gauges.deadLetters, open, { subscription });
      for (const [subscription, age] of Object.entries(reading.subscriptionLag ?? {}))
        observer.observe(gauges.lag, age, { subscription });
    }
  }, Object.values(gauges));

  return {
    published(topic, type, count = 1) {
      if (count > 0) published.add(count, { topic, type: typeLabel(type) });
    },
    consumed(consumer, type, outcome, seconds) {
      const attributes: Attributes = { consumer, type: typeLabel(type), outcome };
      consumed.add(1, attributes);
      processing.record(Math.max(0, seconds), attributes);
    },
    orderEnded(outcome, times) {
      const seconds = (toMillis(times.endedAt) - toMillis(times.acceptedAt)) / 1000;
      if (Number.isFinite(seconds)) orders.record(Math.max(0, seconds), { outcome });
    },
    httpRequest(method, route, status, seconds) {
      http.record(Math.max(0, seconds), {
        'http.request.method': method,
        ...(route ? { 'http.route': route } : {}),
        'http.response.status_code': status,
      });
    },
    breakerState(provider, state) {
      breakers.set(provider, BREAKER_STATE_VALUE[state]);
    },
  };
}

/**
 * Event types as label values: known types (current and upcast ones) as themselves, none as
 * `none` (ticks), and at most MAX_TYPE_LABELS others before `other`: outside producers choose
 * ce-type, and a label must not grow without bound.
 */
export function createTypeLabeller(limit = MAX_TYPE_LABELS): (type: string | undefined) => string {
  const seen = new Set<string>();
  return (type) => {
    if (!type) return 'none';
    if (isEventType(type) || type in UPCASTERS || seen.has(type)) return type;
    if (seen.size >= limit || type.length > 100) return 'other';
    seen.add(type);
    return type;
  };
}

function toMillis(time: string | Date): number {
  return typeof time === 'string' ? Date.parse(time) : time.getTime();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // Not unref'd: a collection in progress should finish, and the timer is cleared when it does.
    timer = setTimeout(() => reject(new Error(`gauge source did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
