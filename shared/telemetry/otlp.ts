/**
 * The receiving side of the local stack's telemetry: an OTLP/HTTP JSON receiver for spans
 * (POST /v1/traces) and metrics (POST /v1/metrics), which the API mounts so that every process
 * of the local stack (the API itself, each function under the launcher) reaches one console.
 * The functions export with the standard OTLP/HTTP exporters pointed at the API
 * (OTEL_EXPORTER_OTLP_ENDPOINT), so nothing here is Conveyor-specific on the wire, and any OTLP
 * client (a collector, another language) can send too.
 *
 * Spans go into the bounded span store. Metrics are cumulative, so the latest export of each
 * process (service.name + service.instance.id) is its whole state: it replaces the previous one,
 * and a process silent for `staleAfterMs` drops out of /metrics.
 * https://opentelemetry.io/docs/specs/otlp/#otlphttp (JSON: hex ids, int64 as string or number)
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { z } from 'zod';
import { SERVICE_INSTANCE_ID } from './attributes.ts';
import type { MetricSource } from './prometheus.ts';
import {
  createSpanStore,
  cut,
  SPAN_LIMITS,
  type AttributeValue,
  type SpanKindName,
  type SpanStore,
  type StoredSpan,
} from './span-store.ts';

const Int64 = z.union([z.number(), z.string().regex(/^-?\d+$/)]);
const Double = z.union([
  z.number(),
  z.string().regex(/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^(NaN|-?Infinity)$/),
]);

interface AnyValueShape {
  stringValue?: string | undefined;
  boolValue?: boolean | undefined;
  intValue?: number | string | undefined;
  doubleValue?: number | string | undefined;
  bytesValue?: string | undefined;
  arrayValue?: { values?: AnyValueShape[] | undefined } | undefined;
  kvlistValue?: { values?: { key: string; value?: AnyValueShape | undefined }[] | undefined } | undefined;
}
const AnyValueSchema: z.ZodType<AnyValueShape> = z.lazy(() =>
  z.object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: Int64.optional(),
    doubleValue: Double.optional(),
    bytesValue: z.string().optional(),
    arrayValue: z.object({ values: z.array(AnyValueSchema).optional() }).optional(),
    kvlistValue: z
      .object({ values: z.array(z.object({ key: z.string(), value: AnyValueSchema.optional() })).optional() })
      .optional(),
  }),
);
const KeyValueSchema = z.object({ key: z.string(), value: AnyValueSchema.optional() });
const AttributesSchema = z.array(KeyValueSchema).optional();
/** Hex as OTLP/JSON requires; base64 (the plain protobuf JSON mapping) is accepted too. */
const IdSchema = (bytes: number) =>
  z.string().transform((value, ctx) => {
    const id = toHexId(value, bytes);
    if (!id) ctx.addIssue({ code: 'custom', message: `expected a ${bytes}-byte id in hex` });
    return id ?? '';
  });
const EnumSchema = z.union([z.number().int(), z.string()]);

const SpanSchema = z.object({
  traceId: IdSchema(16),
  spanId: IdSchema(8),
  parentSpanId: z.string().optional(),
  name: z.string(),
  kind: EnumSchema.optional(),
  startTimeUnixNano: Int64,
  endTimeUnixNano: Int64,
  attributes: AttributesSchema,
  events: z
    .array(z.object({ timeUnixNano: Int64, name: z.string(), attributes: AttributesSchema }))
    .optional(),
  links: z
    .array(z.object({ traceId: IdSchema(16), spanId: IdSchema(8), attributes: AttributesSchema }))
    .optional(),
  status: z.object({ code: EnumSchema.optional(), message: z.string().optional() }).optional(),
});

const ResourceSchema = z.object({ attributes: AttributesSchema }).optional();

/** The request's frame; spans and metrics are checked one by one, so one bad item costs only itself. */
export const ExportTraceRequestSchema = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: ResourceSchema,
        scopeSpans: z.array(z.object({ spans: z.array(z.unknown()).optional() })).optional(),
      }),
    )
    .optional(),
});

const NumberPointSchema = z.object({
  attributes: AttributesSchema,
  startTimeUnixNano: Int64.optional(),
  timeUnixNano: Int64,
  asInt: Int64.optional(),
  asDouble: Double.optional(),
});
const HistogramPointSchema = z.object({
  attributes: AttributesSchema,
  startTimeUnixNano: Int64.optional(),
  timeUnixNano: Int64,
  count: Int64,
  sum: Double.optional(),
  min: Double.optional(),
  max: Double.optional(),
  bucketCounts: z.array(Int64).optional(),
  explicitBounds: z.array(Double).optional(),
});
const MetricSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  unit: z.string().optional(),
  sum: z
    .object({
      dataPoints: z.array(NumberPointSchema).optional(),
      aggregationTemporality: EnumSchema.optional(),
      isMonotonic: z.boolean().optional(),
    })
    .optional(),
  gauge: z.object({ dataPoints: z.array(NumberPointSchema).optional() }).optional(),
  histogram: z
    .object({
      dataPoints: z.array(HistogramPointSchema).optional(),
      aggregationTemporality: EnumSchema.optional(),
    })
    .optional(),
});

export const ExportMetricsRequestSchema = z.object({
  resourceMetrics: z
    .array(
      z.object({
        resource: ResourceSchema,
        scopeMetrics: z.array(z.object({ metrics: z.array(z.unknown()).optional() })).optional(),
      }),
    )
    .optional(),
});

export type OtlpSignal = 'traces' | 'metrics';

/** What to answer the exporter: 200 with an ExportServiceResponse (maybe partial), or 4xx. */
export interface OtlpAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface LocalCollectorOptions {
  /** An existing store (the API's own local exporter writes into the same one). */
  spans?: SpanStore;
  maxSpans?: number;
  /** A process that has not sent metrics for this long drops out of /metrics. Default 3 min. */
  staleAfterMs?: number;
  /** At most this many processes' metrics are kept (the least recently heard from go). Default 64. */
  maxSources?: number;
  now?: () => number;
}

export interface LocalCollector {
  readonly spans: SpanStore;
  /** Handles one OTLP/HTTP request body (already parsed from JSON). */
  receive(signal: OtlpSignal, body: unknown): OtlpAnswer;
  /** The latest metrics of each process that reported recently. */
  metricSources(): MetricSource[];
}

export function createLocalCollector(options: LocalCollectorOptions = {}): LocalCollector {
  const spans = options.spans ?? createSpanStore({ maxSpans: options.maxSpans ?? 20_000 });
  const staleAfterMs = options.staleAfterMs ?? 180_000;
  const maxSources = options.maxSources ?? 64;
  const now = options.now ?? Date.now;
  const sources = new Map<string, MetricSource & { receivedAt: number }>();

  function receiveTraces(body: unknown): OtlpAnswer {
    const request = ExportTraceRequestSchema.safeParse(body);
    if (!request.success) return invalid(request.error);
    const accepted: StoredSpan[] = [];
    let rejected = 0;
    let firstProblem: string | undefined;
    for (const resourceSpans of request.data.resourceSpans ?? []) {
      const resource = toAttributes(resourceSpans.resource?.attributes);
      for (const scope of resourceSpans.scopeSpans ?? [])
        for (const raw of scope.spans ?? []) {
          const span = SpanSchema.safeParse(raw);
          if (span.success) accepted.push(toStoredSpan(span.data, resource));
          else {
            rejected++;
            firstProblem ??= z.prettifyError(span.error);
          }
        }
    }
    spans.add(accepted);
    return partial('rejectedSpans', rejected, firstProblem);
  }

  function receiveMetrics(body: unknown): OtlpAnswer {
    const request = ExportMetricsRequestSchema.safeParse(body);
    if (!request.success) return invalid(request.error);
    let rejected = 0;
    let firstProblem: string | undefined;
    for (const resourceMetrics of request.data.resourceMetrics ?? []) {
      const resource = toAttributes(resourceMetrics.resource?.attributes);
      const metrics: MetricData[] = [];
      for (const scope of resourceMetrics.scopeMetrics ?? [])
        for (const raw of scope.metrics ?? []) {
          const metric = MetricSchema.safeParse(raw);
          const converted = metric.success ? toMetricData(metric.data) : undefined;
          if (converted && typeof converted !== 'string') metrics.push(converted);
          else {
            const points = countPoints(raw);
            rejected += points;
            firstProblem ??= metric.success ? String(converted) : z.prettifyError(metric.error);
          }
        }
      const service = String(resource['service.name'] ?? 'unknown');
      const instance = String(resource[SERVICE_INSTANCE_ID] ?? 'unknown');
      const key = `${service}\n${instance}`;
      sources.delete(key);
      sources.set(key, { service, instance, metrics, receivedAt: now() });
      while (sources.size > maxSources) sources.delete(sources.keys().next().value!);
    }
    return partial('rejectedDataPoints', rejected, firstProblem);
  }

  return {
    spans,
    receive(signal, body) {
      return signal === 'traces' ? receiveTraces(body) : receiveMetrics(body);
    },
    metricSources() {
      const cutoff = now() - staleAfterMs;
      for (const [key, source] of sources) if (source.receivedAt < cutoff) sources.delete(key);
      return [...sources.values()].map(({ service, instance, metrics }) => ({ service, instance, metrics }));
    },
  };
}

/**
 * Answers one OTLP/HTTP request: 415 unless the body is JSON (protobuf is not spoken here),
 * 400 when it is not an export request, else 200 with the (partial) success.
 */
export function handleOtlpRequest(
  collector: LocalCollector,
  signal: OtlpSignal,
  request: { contentType: string | undefined; body: unknown },
): OtlpAnswer {
  if (!/^application\/json\b/i.test(request.contentType ?? ''))
    return { status: 415, body: { error: 'only OTLP/HTTP JSON (application/json) is accepted here' } };
  return collector.receive(signal, request.body);
}

function invalid(error: z.ZodError): OtlpAnswer {
  return { status: 400, body: { error: `not an OTLP export request: ${z.prettifyError(error)}` } };
}

function partial(field: string, rejected: number, problem: string | undefined): OtlpAnswer {
  if (rejected === 0) return { status: 200, body: {} };
  return { status: 200, body: { partialSuccess: { [field]: rejected, errorMessage: problem ?? '' } } };
}

function countPoints(raw: unknown): number {
  const metric = (raw ?? {}) as Record<string, { dataPoints?: unknown[] } | undefined>;
  const points = metric.sum?.dataPoints ?? metric.gauge?.dataPoints ?? metric.histogram?.dataPoints;
  return Math.max(1, Array.isArray(points) ? points.length : 0);
}

/** A 16- or 8-byte id as lowercase hex, from hex or base64; undefined when it is neither. */
export function toHexId(value: string, bytes: number): string | undefined {
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value.toLowerCase();
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const decoded = Buffer.from(value, 'base64');
    if (decoded.length === bytes) return decoded.toString('hex');
  }
  return undefined;
}

function toValue(value: AnyValueShape | undefined): AttributeValue | undefined {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return cut(value.stringValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.bytesValue !== undefined) return cut(value.bytesValue);
  if (value.arrayValue)
    return (value.arrayValue.values ?? []).slice(0, SPAN_LIMITS.attributes).map((item) => {
      const converted = toValue(item);
      return converted === undefined || Array.isArray(converted)
        ? null
        : (converted as string | number | boolean);
    });
  if (value.kvlistValue) return cut(JSON.stringify(value.kvlistValue.values ?? []));
  return undefined;
}

function toAttributes(list: readonly { key: string; value?: AnyValueShape | undefined }[] | undefined) {
  const result: Record<string, AttributeValue> = {};
  for (const { key, value } of (list ?? []).slice(0, SPAN_LIMITS.attributes)) {
    const converted = toValue(value);
    if (converted !== undefined) result[key] = converted;
  }
  return result;
}

/** Nanoseconds since the epoch (OTLP) → milliseconds, keeping microseconds. */
function nanosToMillis(nanos: number | string): number {
  return typeof nanos === 'string' ? Number(BigInt(nanos) / 1_000n) / 1_000 : nanos / 1e6;
}

const SPAN_KINDS: readonly SpanKindName[] = [
  'internal',
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
];
const STATUS_CODES = ['unset', 'ok', 'error'] as const;

function enumIndex(value: number | string | undefined, names: readonly string[], prefix: string): number {
  if (typeof value === 'number') return value;
  if (value === undefined) return 0;
  const index = names.indexOf(value.replace(prefix, '').toLowerCase());
  return Math.max(0, index);
}

function toStoredSpan(
  span: z.infer<typeof SpanSchema>,
  resource: Record<string, AttributeValue>,
): StoredSpan {
  const start = nanosToMillis(span.startTimeUnixNano);
  const end = nanosToMillis(span.endTimeUnixNano);
  const parent = span.parentSpanId ? toHexId(span.parentSpanId, 8) : undefined;
  const kind = enumIndex(
    span.kind,
    ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'],
    'SPAN_KIND_',
  );
  const status = enumIndex(span.status?.code, STATUS_CODES, 'STATUS_CODE_');
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: parent && !/^0+$/.test(parent) ? parent : undefined,
    name: cut(span.name),
    kind: SPAN_KINDS[kind] ?? 'internal',
    service: String(resource['service.name'] ?? 'unknown'),
    instance: typeof resource[SERVICE_INSTANCE_ID] === 'string' ? resource[SERVICE_INSTANCE_ID] : undefined,
    startTime: start,
    durationMs: Math.max(0, end - start),
    status: {
      code: STATUS_CODES[status] ?? 'unset',
      ...(span.status?.message ? { message: cut(span.status.message) } : {}),
    },
    attributes: toAttributes(span.attributes),
    events: (span.events ?? []).slice(0, SPAN_LIMITS.events).map((event) => ({
      name: cut(event.name),
      time: nanosToMillis(event.timeUnixNano),
      attributes: toAttributes(event.attributes),
    })),
    links: (span.links ?? []).slice(0, SPAN_LIMITS.links).map((link) => ({
      traceId: link.traceId,
      spanId: link.spanId,
      attributes: toAttributes(link.attributes),
    })),
  };
}

const CUMULATIVE = [2, 'AGGREGATION_TEMPORALITY_CUMULATIVE'];

/** An OTLP metric as the SDK's MetricData, or why it cannot be one. */
function toMetricData(metric: z.infer<typeof MetricSchema>): MetricData | string {
  const descriptor = (valueType: ValueType) => ({
    name: metric.name,
    description: metric.description ?? '',
    unit: metric.unit ?? '',
    valueType,
  });
  const times = (point: {
    startTimeUnixNano?: number | string | undefined;
    timeUnixNano: number | string;
  }) => ({
    startTime: hrTime(point.startTimeUnixNano ?? point.timeUnixNano),
    endTime: hrTime(point.timeUnixNano),
  });
  const numberPoints = (points: z.infer<typeof NumberPointSchema>[] | undefined) =>
    (points ?? []).map((point): DataPoint<number> => ({
      ...times(point),
      attributes: toAttributes(point.attributes) as Attributes,
      value: Number(point.asInt ?? point.asDouble ?? 0),
    }));
  const valueTypeOf = (points: z.infer<typeof NumberPointSchema>[] | undefined) =>
    points?.some((point) => point.asDouble !== undefined) ? ValueType.DOUBLE : ValueType.INT;
  const cumulative = { aggregationTemporality: AggregationTemporality.CUMULATIVE };

  if (metric.sum) {
    if (!CUMULATIVE.includes(metric.sum.aggregationTemporality ?? 2))
      return `${metric.name}: only cumulative temporality is kept here`;
    return {
      ...cumulative,
      descriptor: descriptor(valueTypeOf(metric.sum.dataPoints)),
      dataPointType: DataPointType.SUM,
      isMonotonic: metric.sum.isMonotonic ?? false,
      dataPoints: numberPoints(metric.sum.dataPoints),
    };
  }
  if (metric.gauge) {
    return {
      ...cumulative,
      descriptor: descriptor(valueTypeOf(metric.gauge.dataPoints)),
      dataPointType: DataPointType.GAUGE,
      dataPoints: numberPoints(metric.gauge.dataPoints),
    };
  }
  if (metric.histogram) {
    if (!CUMULATIVE.includes(metric.histogram.aggregationTemporality ?? 2))
      return `${metric.name}: only cumulative temporality is kept here`;
    return {
      ...cumulative,
      descriptor: descriptor(ValueType.DOUBLE),
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: (metric.histogram.dataPoints ?? []).map((point): DataPoint<Histogram> => ({
        ...times(point),
        attributes: toAttributes(point.attributes) as Attributes,
        value: {
          count: Number(point.count),
          ...(point.sum !== undefined ? { sum: Number(point.sum) } : {}),
          ...(point.min !== undefined ? { min: Number(point.min) } : {}),
          ...(point.max !== undefined ? { max: Number(point.max) } : {}),
          buckets: {
            boundaries: (point.explicitBounds ?? []).map(Number),
            counts: (point.bucketCounts ?? []).map(Number),
          },
        },
      })),
    };
  }
  return `${metric.name}: only sums, gauges and explicit-bucket histograms are kept here`;
}

function hrTime(nanos: number | string): HrTime {
  if (typeof nanos === 'number') return millisToHrTime(nanos / 1e6);
  const value = BigInt(nanos);
  return [Number(value / 1_000_000_000n), Number(value % 1_000_000_000n)];
}
