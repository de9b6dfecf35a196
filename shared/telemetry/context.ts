/**
 * W3C trace context across Conveyor's boundaries: the `ce-traceparent` Pub/Sub attribute and the
 * envelope's `traceparent` extension (both written when an event is appended, from the span that
 * appended it), HTTP headers, and the Cloud Logging fields that join a log line to its span.
 * https://www.w3.org/TR/trace-context/
 */
import {
  context as contextApi,
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { parseTraceHeaders, traceLogFields } from '#shared/logging/index.ts';

/** The one propagator: the contract names W3C trace context, whatever is registered globally. */
export const propagator = new W3CTraceContextPropagator();

type Attributes = Record<string, string>;
type Headers = Record<string, string | string[] | undefined>;

/** Reads and writes `traceparent` as the `ce-traceparent` message attribute. */
const attributeGetter: TextMapGetter<Attributes> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => (key === 'traceparent' ? carrier[ATTRIBUTE.traceparent] : undefined),
};
const attributeSetter: TextMapSetter<Attributes> = {
  set: (carrier, key, value) => {
    if (key === 'traceparent') carrier[ATTRIBUTE.traceparent] = value;
  },
};

/** Reads HTTP headers (lowercase keys, as Node gives them). */
const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

function isSampled(spanContext: SpanContext): boolean {
  return (spanContext.traceFlags & 1) === 1; // TraceFlags.SAMPLED
}

/** `00-<trace id>-<span id>-<flags>` for a span context. */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = isSampled(spanContext) ? '01' : '00';
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** The remote span context a traceparent names; undefined when absent or malformed. */
export function parseTraceparent(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  return trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent }, headerGetter));
}

/**
 * The traceparent of the active span (or of `ctx`), for EventMeta.traceparent when appending
 * events: the events' consumers continue this trace. Undefined outside any trace.
 */
export function currentTraceparent(ctx: Context = contextApi.active()): string | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && isSpanContextValid(spanContext) ? formatTraceparent(spanContext) : undefined;
}

/**
 * Runs `work` outside any trace. For work a request or delivery only starts on behalf of many
 * (waking the outbox relay): without it, the relay's cycle would inherit the triggering span and
 * file its queries and sends under one unrelated request.
 */
export function outsideTrace<T>(work: () => T): T {
  return contextApi.with(ROOT_CONTEXT, work);
}

/** A copy of `attributes` carrying the context's traceparent in `ce-traceparent` (unchanged outside a trace). */
export function injectTraceparent(
  attributes: Readonly<Attributes>,
  ctx: Context = contextApi.active(),
): Attributes {
  const carrier = { ...attributes };
  propagator.inject(ctx, carrier, attributeSetter);
  return carrier;
}

/**
 * The span context a message was created in: its `ce-traceparent` attribute, or else the
 * envelope's `traceparent` (a message published by hand with the body only). Undefined if neither.
 */
export function messageSpanContext(
  attributes: Readonly<Attributes>,
  envelope?: unknown,
): SpanContext | undefined {
  const fromAttribute = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, attributes, attributeGetter));
  if (fromAttribute) return fromAttribute;
  const traceparent =
    envelope !== null && typeof envelope === 'object'
      ? (envelope as { traceparent?: unknown }).traceparent
      : undefined;
  return typeof traceparent === 'string' ? parseTraceparent(traceparent) : undefined;
}

/** A context whose parent is the message's creation span (ROOT_CONTEXT when it has none). */
export function messageContext(attributes: Readonly<Attributes>, envelope?: unknown): Context {
  const spanContext = messageSpanContext(attributes, envelope);
  return spanContext ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}

/**
 * The caller's context from HTTP headers: W3C `traceparent`, or Google's X-Cloud-Trace-Context
 * (sent by Google front ends and older clients). ROOT_CONTEXT when neither is usable.
 */
export function httpContext(headers: Readonly<Headers>): Context {
  const w3c = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
  if (trace.getSpanContext(w3c)) return w3c;
  const google = parseTraceHeaders(headers);
  if (!google) return ROOT_CONTEXT;
  const spanContext: SpanContext = {
    traceId: google.traceId,
    spanId: google.spanId,
    traceFlags: google.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT;
}

/** Adds `traceparent` (and `tracestate`) of the context to outgoing HTTP headers. */
export function injectHttpHeaders(
  headers: Record<string, string>,
  ctx: Context = contextApi.active(),
): Record<string, string> {
  const setter: TextMapSetter<Record<string, string>> = {
    set: (carrier, key, value) => {
      carrier[key] = value;
    },
  };
  propagator.inject(ctx, headers, setter);
  return headers;
}

/**
 * The Cloud Logging fields (logging.googleapis.com/trace, spanId, trace_sampled) that join a log
 * line to `span` in Cloud Trace; empty for a span that is not part of a valid trace.
 */
export function spanLogFields(
  projectId: string,
  span: Span | SpanContext | undefined,
): Record<string, unknown> {
  const spanContext = span && 'spanContext' in span ? span.spanContext() : span;
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  return traceLogFields(projectId, {
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    sampled: isSampled(spanContext),
  });
}
