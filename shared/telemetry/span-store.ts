/**
 * The local trace store: the most recent spans of every process of the local stack, in memory,
 * for the operations console (one trace by id; the traces of an order or correlation id). Spans
 * arrive from this process's exporter and, through the OTLP receiver (otlp.ts), from the others.
 *
 * Bounded: at most `maxSpans` spans (the oldest received go first) and, per span, a bounded number
 * of attributes, events and links with bounded string lengths. A span received twice (an exporter
 * retrying) is stored once.
 */
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { CONVEYOR_ATTRIBUTE, SERVICE_INSTANCE_ID } from './attributes.ts';

export type AttributeValue = string | number | boolean | readonly (string | number | boolean | null)[];
export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** A finished span as the console reads it: plain JSON, times in epoch milliseconds. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKindName;
  /** service.name of the process that recorded it. */
  service: string;
  /** service.instance.id of that process. */
  instance: string | undefined;
  /** Epoch milliseconds (fractional). */
  startTime: number;
  durationMs: number;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  attributes: Record<string, AttributeValue>;
  events: { name: string; time: number; attributes: Record<string, AttributeValue> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, AttributeValue> }[];
}

export interface TraceSummary {
  traceId: string;
  /** The earliest span without a parent in the store (the request or the first hop we hold). */
  root: { name: string; service: string };
  startTime: number;
  durationMs: number;
  spans: number;
  errors: number;
  services: string[];
  correlationIds: string[];
  orderIds: string[];
}

export interface TraceQuery {
  correlationId?: string;
  orderId?: string;
  /** Newest first; default 50. */
  limit?: number;
}

export interface SpanStore {
  add(spans: readonly StoredSpan[]): void;
  /** The spans of one trace, by start time; empty when unknown (or evicted). */
  trace(traceId: string): StoredSpan[];
  /** Traces, newest first, optionally those touching one order or correlation id. */
  traces(query?: TraceQuery): TraceSummary[];
  stats(): { spans: number; traces: number; capacity: number; evicted: number };
  clear(): void;
}

export const SPAN_LIMITS = { attributes: 64, events: 64, links: 64, stringLength: 2_048 } as const;

interface TraceEntry {
  spans: Map<string, StoredSpan>;
  correlationIds: Set<string>;
  orderIds: Set<string>;
}

/** A store that holds at most `maxSpans` spans. */
export function createSpanStore(options: { maxSpans?: number } = {}): SpanStore {
  const capacity = Math.max(1, options.maxSpans ?? 20_000);
  const traces = new Map<string, TraceEntry>();
  const byCorrelation = new Map<string, Set<string>>();
  const byOrder = new Map<string, Set<string>>();
  // Insertion order of span keys, as a ring: slots[head] is the oldest once full.
  const slots = new Array<{ traceId: string; spanId: string } | undefined>(capacity);
  let head = 0;
  let size = 0;
  let evicted = 0;

  const index = (map: Map<string, Set<string>>, key: string, traceId: string) => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(traceId);
  };
  const unindex = (map: Map<string, Set<string>>, key: string, traceId: string) => {
    const set = map.get(key);
    set?.delete(traceId);
    if (set?.size === 0) map.delete(key);
  };

  function evictOldest(): void {
    const oldest = slots[head];
    slots[head] = undefined;
    head = (head + 1) % capacity;
    size--;
    if (!oldest) return;
    const entry = traces.get(oldest.traceId);
    if (!entry) return;
    entry.spans.delete(oldest.spanId);
    evicted++;
    if (entry.spans.size > 0) return;
    traces.delete(oldest.traceId);
    for (const id of entry.correlationIds) unindex(byCorrelation, id, oldest.traceId);
    for (const id of entry.orderIds) unindex(byOrder, id, oldest.traceId);
  }

  function addOne(span: StoredSpan): void {
    let entry = traces.get(span.traceId);
    if (entry?.spans.has(span.spanId)) {
      entry.spans.set(span.spanId, span);
      return;
    }
    if (size === capacity) {
      evictOldest();
      entry = traces.get(span.traceId);
    }
    if (!entry) {
      entry = { spans: new Map(), correlationIds: new Set(), orderIds: new Set() };
      traces.set(span.traceId, entry);
    }
    entry.spans.set(span.spanId, span);
    slots[(head + size) % capacity] = { traceId: span.traceId, spanId: span.spanId };
    size++;
    const correlationId = span.attributes[CONVEYOR_ATTRIBUTE.correlationId];
    if (typeof correlationId === 'string' && !entry.correlationIds.has(correlationId)) {
      entry.correlationIds.add(correlationId);
      index(byCorrelation, correlationId, span.traceId);
    }
    const orderId = span.attributes[CONVEYOR_ATTRIBUTE.orderId];
    if (typeof orderId === 'string' && !entry.orderIds.has(orderId)) {
      entry.orderIds.add(orderId);
      index(byOrder, orderId, span.traceId);
    }
  }

  function summarize(traceId: string, entry: TraceEntry): TraceSummary {
    const spans = [...entry.spans.values()];
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    let errors = 0;
    let root: StoredSpan | undefined;
    for (const span of spans) {
      start = Math.min(start, span.startTime);
      end = Math.max(end, span.startTime + span.durationMs);
      if (span.status.code === 'error') errors++;
      const orphan = !span.parentSpanId || !entry.spans.has(span.parentSpanId);
      if (orphan && (!root || span.startTime < root.startTime)) root = span;
    }
    root ??= spans[0]!;
    return {
      traceId,
      root: { name: root.name, service: root.service },
      startTime: start,
      durationMs: end - start,
      spans: spans.length,
      errors,
      services: [...new Set(spans.map((span) => span.service))].sort(),
      correlationIds: [...entry.correlationIds],
      orderIds: [...entry.orderIds],
    };
  }

  return {
    add(spans) {
      for (const span of spans) addOne(span);
    },
    trace(traceId) {
      const entry = traces.get(traceId);
      if (!entry) return [];
      return [...entry.spans.values()].sort((a, b) => a.startTime - b.startTime);
    },
    traces(query = {}) {
      const limit = Math.max(1, query.limit ?? 50);
      let ids: Iterable<string> = traces.keys();
      if (query.correlationId !== undefined || query.orderId !== undefined) {
        const wanted = [
          ...(query.correlationId !== undefined ? [byCorrelation.get(query.correlationId) ?? new Set()] : []),
          ...(query.orderId !== undefined ? [byOrder.get(query.orderId) ?? new Set()] : []),
        ];
        ids = [...wanted[0]!].filter((id) => wanted.every((set) => set.has(id)));
      }
      const summaries: TraceSummary[] = [];
      for (const id of ids) summaries.push(summarize(id, traces.get(id)!));
      return summaries.sort((a, b) => b.startTime - a.startTime).slice(0, limit);
    },
    stats: () => ({ spans: size, traces: traces.size, capacity, evicted }),
    clear() {
      traces.clear();
      byCorrelation.clear();
      byOrder.clear();
      slots.fill(undefined);
      head = 0;
      size = 0;
    },
  };
}

const KIND: Readonly<Record<number, SpanKindName>> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

const STATUS: Readonly<Record<number, StoredSpan['status']['code']>> = {
  [SpanStatusCode.UNSET]: 'unset',
  [SpanStatusCode.OK]: 'ok',
  [SpanStatusCode.ERROR]: 'error',
};

/** Attributes within SPAN_LIMITS: the first N keys, long strings cut. */
export function boundAttributes(attributes: Attributes | undefined): Record<string, AttributeValue> {
  const result: Record<string, AttributeValue> = {};
  if (!attributes) return result;
  let count = 0;
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (count++ >= SPAN_LIMITS.attributes) break;
    result[key] = boundValue(value);
  }
  return result;
}

function boundValue(value: NonNullable<Attributes[string]>): AttributeValue {
  if (typeof value === 'string') return cut(value);
  if (Array.isArray(value))
    return value
      .slice(0, SPAN_LIMITS.attributes)
      .map((item) => (typeof item === 'string' ? cut(item) : (item ?? null)));
  return value;
}

export function cut(text: string): string {
  return text.length > SPAN_LIMITS.stringLength ? `${text.slice(0, SPAN_LIMITS.stringLength)}…` : text;
}

/** A finished SDK span as the store keeps it. */
export function fromReadableSpan(span: ReadableSpan): StoredSpan {
  const context = span.spanContext();
  const resource = span.resource.attributes;
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: cut(span.name),
    kind: KIND[span.kind] ?? 'internal',
    service: String(resource[ATTR_SERVICE_NAME] ?? 'unknown'),
    instance: typeof resource[SERVICE_INSTANCE_ID] === 'string' ? resource[SERVICE_INSTANCE_ID] : undefined,
    startTime: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    status: {
      code: STATUS[span.status.code] ?? 'unset',
      ...(span.status.message ? { message: cut(span.status.message) } : {}),
    },
    attributes: boundAttributes(span.attributes),
    events: span.events.slice(0, SPAN_LIMITS.events).map((event) => ({
      name: cut(event.name),
      time: hrTimeToMilliseconds(event.time),
      attributes: boundAttributes(event.attributes),
    })),
    links: span.links.slice(0, SPAN_LIMITS.links).map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      attributes: boundAttributes(link.attributes),
    })),
  };
}

/** A span exporter that writes into a store in this process (the `local` trace exporter). */
export function createSpanStoreExporter(store: SpanStore): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      store.add(spans.map(fromReadableSpan));
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
}
