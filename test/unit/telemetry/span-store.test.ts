import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONVEYOR_ATTRIBUTE } from '#shared/telemetry/attributes.ts';
import {
  createSpanStore,
  SPAN_LIMITS,
  boundAttributes,
  type StoredSpan,
} from '#shared/telemetry/span-store.ts';

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

function span(trace: number, id: number, overrides: Partial<StoredSpan> = {}): StoredSpan {
  return {
    traceId: hex(trace, 32),
    spanId: hex(id, 16),
    parentSpanId: undefined,
    name: `span ${id}`,
    kind: 'internal',
    service: 'api',
    instance: 'i-1',
    startTime: 1_000 + id,
    durationMs: 1,
    status: { code: 'unset' },
    attributes: {},
    events: [],
    links: [],
    ...overrides,
  };
}

describe('the local span store', () => {
  it('gives a trace’s spans by start time, and summarises it from its root', () => {
    const store = createSpanStore({ maxSpans: 100 });
    store.add([
      span(1, 3, { parentSpanId: hex(1, 16), startTime: 1_010, durationMs: 5, service: 'saga' }),
      span(1, 1, { name: 'POST /orders', startTime: 1_000, durationMs: 20 }),
      span(1, 2, { parentSpanId: hex(1, 16), startTime: 1_005, status: { code: 'error', message: 'x' } }),
    ]);
    assert.deepEqual(
      store.trace(hex(1, 32)).map((s) => s.spanId),
      [1, 2, 3].map((n) => hex(n, 16)),
    );
    const [summary] = store.traces();
    assert.deepEqual(summary, {
      traceId: hex(1, 32),
      root: { name: 'POST /orders', service: 'api' },
      startTime: 1_000,
      durationMs: 20,
      spans: 3,
      errors: 1,
      services: ['api', 'saga'],
      correlationIds: [],
      orderIds: [],
    });
    assert.deepEqual(store.trace('f'.repeat(32)), []);
  });

  it('finds traces by correlation and order id, newest first, within a limit', () => {
    const store = createSpanStore();
    const tagged = (trace: number, correlation: string, order: string, start: number) =>
      span(trace, trace * 10, {
        startTime: start,
        attributes: { [CONVEYOR_ATTRIBUTE.correlationId]: correlation, [CONVEYOR_ATTRIBUTE.orderId]: order },
      });
    store.add([tagged(1, 'c-1', 'o-1', 100), tagged(2, 'c-1', 'o-1', 300), tagged(3, 'c-2', 'o-2', 200)]);
    store.add([span(4, 1, { startTime: 400 })]);
    assert.deepEqual(
      store.traces({ correlationId: 'c-1' }).map((t) => t.traceId),
      [hex(2, 32), hex(1, 32)],
    );
    assert.deepEqual(
      store.traces({ orderId: 'o-2' }).map((t) => t.traceId),
      [hex(3, 32)],
    );
    assert.deepEqual(store.traces({ orderId: 'o-1', correlationId: 'c-2' }), []);
    assert.deepEqual(store.traces({ correlationId: 'nobody' }), []);
    assert.deepEqual(
      store.traces({ limit: 2 }).map((t) => t.traceId),
      [hex(4, 32), hex(2, 32)],
    );
    assert.deepEqual(store.traces({ orderId: 'o-1' })[0]?.correlationIds, ['c-1']);
  });

  it('holds at most maxSpans, dropping the oldest received, and forgets their indexes', () => {
    const store = createSpanStore({ maxSpans: 5 });
    store.add([
      span(1, 1, { attributes: { [CONVEYOR_ATTRIBUTE.orderId]: 'o-1' } }),
      span(1, 2),
      span(2, 3, { attributes: { [CONVEYOR_ATTRIBUTE.orderId]: 'o-2' } }),
    ]);
    for (let id = 4; id <= 7; id++) store.add([span(3, id)]);
    assert.deepEqual(store.stats(), { spans: 5, traces: 2, capacity: 5, evicted: 2 });
    assert.deepEqual(store.trace(hex(1, 32)), [], 'trace 1 is gone entirely');
    assert.deepEqual(store.traces({ orderId: 'o-1' }), []);
    assert.equal(store.traces({ orderId: 'o-2' }).length, 1);
    for (let id = 8; id <= 100; id++) store.add([span(4, id)]);
    assert.deepEqual(store.stats(), { spans: 5, traces: 1, capacity: 5, evicted: 95 });
    assert.deepEqual(
      store.trace(hex(4, 32)).map((s) => s.spanId),
      [96, 97, 98, 99, 100].map((n) => hex(n, 16)),
    );
  });

  it('stores a span received twice once (an exporter retrying)', () => {
    const store = createSpanStore({ maxSpans: 3 });
    store.add([span(1, 1), span(1, 1, { name: 'again' }), span(1, 2)]);
    assert.deepEqual(store.stats(), { spans: 2, traces: 1, capacity: 3, evicted: 0 });
    assert.equal(store.trace(hex(1, 32))[0]?.name, 'again');
  });

  it('bounds attributes: their number and the length of strings', () => {
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'x'.repeat(10_000)]));
    const bounded = boundAttributes(many);
    assert.equal(Object.keys(bounded).length, SPAN_LIMITS.attributes);
    assert.equal((bounded.k0 as string).length, SPAN_LIMITS.stringLength + 1);
    assert.deepEqual(boundAttributes({ a: ['x', 'y'], n: 3, skip: undefined }), {
      a: ['x', 'y'],
      n: 3,
    });
  });

  it('empties on clear', () => {
    const store = createSpanStore({ maxSpans: 3 });
    store.add([span(1, 1), span(2, 2)]);
    store.clear();
    assert.deepEqual(store.traces(), []);
    store.add([span(3, 3), span(3, 4), span(3, 5), span(3, 6)]);
    assert.equal(store.stats().spans, 3);
  });
});
