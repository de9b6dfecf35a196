import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { eventAttributes } from '#shared/messaging/codec.ts';
import { SAMPLED_FIELD, SPAN_FIELD, TRACE_FIELD } from '#shared/logging/index.ts';
import {
  currentTraceparent,
  formatTraceparent,
  httpContext,
  injectHttpHeaders,
  injectTraceparent,
  messageContext,
  messageSpanContext,
  outsideTrace,
  parseTraceparent,
  spanLogFields,
} from '#shared/telemetry/context.ts';
import { localTelemetry, PROJECT } from './helpers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const REMOTE: SpanContext = {
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
};

describe('trace context through message attributes and envelopes', () => {
  it('round-trips a span context through ce-traceparent', () => {
    const attributes = injectTraceparent(
      { [ATTRIBUTE.id]: 'e-1' },
      trace.setSpanContext(ROOT_CONTEXT, REMOTE),
    );
    assert.equal(attributes[ATTRIBUTE.traceparent], `00-${TRACE_ID}-${SPAN_ID}-01`);
    assert.equal(attributes[ATTRIBUTE.id], 'e-1');
    assert.deepEqual(messageSpanContext(attributes), REMOTE);
    assert.deepEqual(trace.getSpanContext(messageContext(attributes)), REMOTE);
  });

  it('keeps the sampled flag both ways', () => {
    const unsampled = { ...REMOTE, traceFlags: TraceFlags.NONE };
    const attributes = injectTraceparent({}, trace.setSpanContext(ROOT_CONTEXT, unsampled));
    assert.equal(attributes[ATTRIBUTE.traceparent], `00-${TRACE_ID}-${SPAN_ID}-00`);
    assert.equal(messageSpanContext(attributes)?.traceFlags, TraceFlags.NONE);
  });

  it('matches what the event store writes: eventAttributes of an envelope with EventMeta.traceparent', () => {
    const traceparent = formatTraceparent(REMOTE);
    const attributes = eventAttributes({
      specversion: '1.0',
      id: 'e-1',
      source: '//conveyor/api',
      type: 'order.created.v1',
      subject: 'o-1',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      sequence: 1,
      correlationid: 'c-1',
      traceparent,
      data: {},
    });
    assert.deepEqual(messageSpanContext(attributes), REMOTE);
  });

  it('falls back to the envelope when the attribute is missing, and the attribute wins when both are there', () => {
    const envelope = { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` };
    assert.deepEqual(messageSpanContext({}, envelope), REMOTE);
    const other = '00-11111111111111111111111111111111-2222222222222222-01';
    assert.equal(messageSpanContext({ [ATTRIBUTE.traceparent]: other }, envelope)?.traceId, '1'.repeat(32));
  });

  it('finds nothing in messages without a usable traceparent', () => {
    for (const value of [
      '',
      'garbage',
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    ]) {
      assert.equal(messageSpanContext({ [ATTRIBUTE.traceparent]: value }), undefined, value);
      assert.equal(parseTraceparent(value), undefined, value);
    }
    assert.equal(messageSpanContext({}, 'not an object'), undefined);
    assert.equal(messageContext({}), ROOT_CONTEXT);
  });

  it('leaves attributes alone outside a trace', () => {
    assert.deepEqual(injectTraceparent({ a: 'b' }, ROOT_CONTEXT), { a: 'b' });
    assert.equal(currentTraceparent(ROOT_CONTEXT), undefined);
  });
});

describe('trace context of the active span', () => {
  let telemetry: Awaited<ReturnType<typeof localTelemetry>>;
  before(async () => {
    telemetry = await localTelemetry();
  });
  after(() => telemetry.shutdown());

  it('is what EventMeta.traceparent gets, inside a span and across awaits', async () => {
    await telemetry.tracer.startActiveSpan('request', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      assert.equal(currentTraceparent(), formatTraceparent(span.spanContext()));
      const { traceId, spanId, traceFlags } = span.spanContext();
      assert.deepEqual(messageSpanContext(injectTraceparent({})), {
        traceId,
        spanId,
        traceFlags,
        isRemote: true,
      });
      span.end();
    });
    assert.equal(currentTraceparent(), undefined);
  });

  it('is left behind by outsideTrace, for work started on behalf of many (the relay)', async () => {
    await telemetry.tracer.startActiveSpan('request', async (span) => {
      const later = outsideTrace(
        () =>
          new Promise<string | undefined>((resolve) => setTimeout(() => resolve(currentTraceparent()), 1)),
      );
      assert.equal(await later, undefined);
      assert.equal(currentTraceparent(), formatTraceparent(span.spanContext()));
      span.end();
    });
  });

  it('goes out in HTTP headers', () => {
    const headers = injectHttpHeaders(
      { accept: 'application/json' },
      trace.setSpanContext(ROOT_CONTEXT, REMOTE),
    );
    assert.deepEqual(headers, { accept: 'application/json', traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
  });

  it('gives the Cloud Logging fields of a span', () => {
    const span = telemetry.tracer.startSpan('x');
    const fields = spanLogFields(PROJECT, span);
    span.end();
    assert.deepEqual(fields, {
      [TRACE_FIELD]: `projects/${PROJECT}/traces/${span.spanContext().traceId}`,
      [SPAN_FIELD]: span.spanContext().spanId,
      [SAMPLED_FIELD]: true,
    });
    assert.deepEqual(spanLogFields(PROJECT, undefined), {});
    assert.deepEqual(spanLogFields(PROJECT, { ...REMOTE, traceId: '0'.repeat(32) }), {});
  });
});

describe('trace context from HTTP headers', () => {
  it('reads traceparent', () => {
    assert.deepEqual(
      trace.getSpanContext(httpContext({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` })),
      REMOTE,
    );
  });

  it('reads X-Cloud-Trace-Context when there is no traceparent (span id in decimal)', () => {
    const spanContext = trace.getSpanContext(httpContext({ 'x-cloud-trace-context': `${TRACE_ID}/123;o=1` }));
    assert.deepEqual(spanContext, {
      traceId: TRACE_ID,
      spanId: '000000000000007b',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
  });

  it('starts afresh without either, or with a cloud header that names no span', () => {
    assert.equal(httpContext({}), ROOT_CONTEXT);
    assert.equal(httpContext({ traceparent: 'nonsense' }), ROOT_CONTEXT);
    assert.equal(httpContext({ 'x-cloud-trace-context': TRACE_ID }), ROOT_CONTEXT);
  });
});
