/**
 * Every metric Conveyor records, written once: name, unit, kind, description and labels. The
 * telemetry SDK creates its instruments from this table, /metrics names its Prometheus series
 * from it, and infra/ declares the Cloud Monitoring descriptors, dashboard and alerts from it.
 *
 * Pure data and name functions, no SDK import: infra/ imports this file and must stay free of
 * runtime code. Units are UCUM as OpenTelemetry writes them (`s`, `{event}`); names follow the
 * OpenTelemetry conventions (dots, no unit in the name), and the Prometheus and Cloud Monitoring
 * names are derived from them below.
 */

export const METRIC_KIND = { counter: 'counter', histogram: 'histogram', gauge: 'gauge' } as const;
export type MetricKind = (typeof METRIC_KIND)[keyof typeof METRIC_KIND];

export interface MetricSpec {
  /** The OpenTelemetry instrument name. */
  readonly name: string;
  readonly kind: MetricKind;
  /** UCUM unit; `{…}` is an annotation (a count of something), not a unit. */
  readonly unit: string;
  /** Whole numbers (INT64 in Cloud Monitoring) or fractional (DOUBLE); histograms are distributions. */
  readonly valueType: 'int' | 'double';
  readonly description: string;
  /** Attribute (label) keys a data point may carry, and no others (http.route is left out when no route matched). */
  readonly labels: readonly string[];
  /** Histogram bucket upper bounds, in `unit`. */
  readonly buckets?: readonly number[];
  /**
   * Google measures the same thing for us in production: dashboards and alerts use this metric
   * there, and the deployables do not report ours to Cloud Monitoring (locally ours is all there is).
   */
  readonly builtIn?: string;
}

/** Latency buckets (seconds) of one message's processing by a consumer. */
const PROCESSING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/**
 * Order accepted → completed or cancelled (seconds). Fine around the 1 s objective (1 must be a
 * bound: the SLO counts orders at or under it), then minutes to a week for real carriers.
 */
const ORDER_BUCKETS = [
  0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30, 60, 300, 3_600, 86_400, 604_800,
] as const;

/** OpenTelemetry's recommended buckets for http.server.request.duration. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

/** Label values of `outcome` on consumed events: what the push endpoint answered Pub/Sub. */
export const CONSUME_OUTCOME = {
  /** Acked: processed, or already processed. */
  processed: 'processed',
  /** Acked after sending it to dead-letters (a permanent error). */
  deadLettered: 'dead-lettered',
  /** Nacked: Pub/Sub will redeliver it. */
  retry: 'retry',
} as const;
export type ConsumeOutcome = (typeof CONSUME_OUTCOME)[keyof typeof CONSUME_OUTCOME];

/** Label values of `outcome` on order durations: how the order ended. */
export const ORDER_OUTCOME = { completed: 'completed', cancelled: 'cancelled' } as const;
export type OrderOutcome = (typeof ORDER_OUTCOME)[keyof typeof ORDER_OUTCOME];

/** The circuit breaker gauge's values (shared/providers/http.ts BREAKER_STATE). */
export const BREAKER_STATE_VALUE: Readonly<Record<'closed' | 'half-open' | 'open', number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};

export const METRICS = {
  eventsPublished: {
    name: 'conveyor.events.published',
    kind: METRIC_KIND.counter,
    unit: '{event}',
    valueType: 'int',
    description:
      'Messages Pub/Sub accepted, per topic and event type (outbox relay, redrive, replay, dead letters).',
    labels: ['topic', 'type'],
  },
  eventsConsumed: {
    name: 'conveyor.events.consumed',
    kind: METRIC_KIND.counter,
    unit: '{event}',
    valueType: 'int',
    description:
      'Push deliveries handled, per consumer, event type and outcome (processed, dead-lettered, retry).',
    labels: ['consumer', 'type', 'outcome'],
  },
  processingDuration: {
    name: 'conveyor.consumer.duration',
    kind: METRIC_KIND.histogram,
    unit: 's',
    valueType: 'double',
    description: 'Time a consumer took to handle one message, per consumer, event type and outcome.',
    labels: ['consumer', 'type', 'outcome'],
    buckets: PROCESSING_BUCKETS,
  },
  orderDuration: {
    name: 'conveyor.order.duration',
    kind: METRIC_KIND.histogram,
    unit: 's',
    valueType: 'double',
    description: 'End to end: order accepted (order.created) to order.completed or order.cancelled.',
    labels: ['outcome'],
    buckets: ORDER_BUCKETS,
  },
  outboxBacklog: {
    name: 'conveyor.outbox.backlog',
    kind: METRIC_KIND.gauge,
    unit: '{row}',
    valueType: 'int',
    description: 'Outbox rows committed but not yet published.',
    labels: [],
  },
  outboxOldestAge: {
    name: 'conveyor.outbox.oldest_age',
    kind: METRIC_KIND.gauge,
    unit: 's',
    valueType: 'double',
    description: 'Age of the oldest unpublished outbox row; 0 when there is none.',
    labels: [],
  },
  subscriptionOldestUnackedAge: {
    name: 'conveyor.subscription.oldest_unacked_age',
    kind: METRIC_KIND.gauge,
    unit: 's',
    valueType: 'double',
    description: 'Consumer lag: age of the oldest message not yet acknowledged, per subscription.',
    labels: ['subscription'],
    builtIn: 'pubsub.googleapis.com/subscription/oldest_unacked_message_age',
  },
  deadLettersOpen: {
    name: 'conveyor.dead_letters.open',
    kind: METRIC_KIND.gauge,
    unit: '{message}',
    valueType: 'int',
    description: 'Dead letters waiting for an operator (status open), per source subscription.',
    labels: ['subscription'],
  },
  eventStoreEvents: {
    name: 'conveyor.event_store.events',
    kind: METRIC_KIND.gauge,
    unit: '{event}',
    valueType: 'int',
    description: 'Events in the event store (exact up to a million rows, the planner estimate above).',
    labels: [],
  },
  circuitState: {
    name: 'conveyor.provider.circuit_state',
    kind: METRIC_KIND.gauge,
    unit: '{state}',
    valueType: 'int',
    description: 'Circuit breaker of each provider client: 0 closed, 1 half-open, 2 open.',
    labels: ['provider'],
  },
  httpServerDuration: {
    name: 'http.server.request.duration',
    kind: METRIC_KIND.histogram,
    unit: 's',
    valueType: 'double',
    description: 'HTTP requests served, per method, route template and status code, with their latency.',
    labels: ['http.request.method', 'http.route', 'http.response.status_code'],
    buckets: HTTP_BUCKETS,
  },
} as const satisfies Record<string, MetricSpec>;
export type MetricKey = keyof typeof METRICS;

/** Every metric, in catalogue order. */
export const METRIC_LIST: readonly MetricSpec[] = Object.values(METRICS);

/** Cloud Monitoring type prefix of metrics written by OpenTelemetry (the exporter's default). */
export const CLOUD_MONITORING_PREFIX = 'workload.googleapis.com';
/**
 * The monitored resource our metrics are written against: the exporter maps a resource with
 * service.name and service.instance.id (and no cloud platform detected) to generic_task, with
 * job = service.name, namespace = service.namespace, task_id = service.instance.id.
 */
export const MONITORED_RESOURCE = 'generic_task';
/** service.namespace of every deployable (generic_task's `namespace` label). */
export const SERVICE_NAMESPACE = 'conveyor';

/** `workload.googleapis.com/conveyor.outbox.oldest_age`: the metric type in Cloud Monitoring. */
export function cloudMonitoringType(metric: MetricSpec): string {
  return `${CLOUD_MONITORING_PREFIX}/${metric.name}`;
}

/** A label key as Cloud Monitoring stores it: anything but letters, digits and _ becomes _. */
export function cloudMonitoringLabel(key: string): string {
  const sanitized = key.replace(/[^\p{L}\p{Nd}_]/gu, '_');
  return /^\p{Nd}/u.test(sanitized) ? `key_${sanitized}` : sanitized;
}

/** Metrics the deployables write to Cloud Monitoring (those without a built-in equivalent). */
export function cloudMonitoringMetrics(): MetricSpec[] {
  return METRIC_LIST.filter((metric) => !metric.builtIn);
}

/** UCUM units → the Prometheus suffix the OpenTelemetry compatibility spec appends. */
const PROMETHEUS_UNIT: Readonly<Record<string, string>> = {
  s: 'seconds',
  ms: 'milliseconds',
  By: 'bytes',
  '%': 'percent',
};

/**
 * The Prometheus family name (without `_total`, `_bucket`…): the name with `.` → `_`, plus the unit
 * suffix (`s` → `_seconds`; annotations like `{event}` add nothing).
 */
export function prometheusBaseName(metric: MetricSpec): string {
  const base = metric.name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
  const suffix = PROMETHEUS_UNIT[metric.unit];
  return suffix && !base.endsWith(`_${suffix}`) ? `${base}_${suffix}` : base;
}

/** The name of the metric's samples in /metrics: counters end in `_total`. */
export function prometheusName(metric: MetricSpec): string {
  const base = prometheusBaseName(metric);
  return metric.kind === METRIC_KIND.counter ? `${base}_total` : base;
}

/** A label key as /metrics writes it. */
export function prometheusLabel(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Labels /metrics adds to every series: which process reported it (resource attributes). */
export const PROMETHEUS_SOURCE_LABELS = { service: 'service_name', instance: 'service_instance_id' } as const;
