/**
 * /v1/operations and the order timeline: what the console reads, from a stack traced as locally.
 * One order completes; another's parcel fails, so the saga compensates (refund, release, cancel).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import type { Overview } from '../../../api/routes/operations/overview.ts';
import type { TimelineEntry } from '../../../api/routes/operations/timeline.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

type Timeline = {
  order: { id: string; status: string };
  entries: TimelineEntry[];
  traces: { traceId: string }[];
};

describe('operations API', () => {
  let stack: Stack;
  let completed: string;
  let compensated: string;

  before(async () => {
    stack = await startStack({ functions: ['saga', 'dead-letter'], telemetry: true });
    completed = await stack.placeOrder([{ sku: 'LAMP-1', quantity: 1 }]);
    await stack.waitForOrder(completed, 'completed');
    stack.shipping.configure({ shipmentFailureRate: 1 });
    compensated = await stack.placeOrder([{ sku: 'PEN-1', quantity: 3 }]);
    await stack.waitForOrder(compensated, 'cancelled');
    stack.shipping.configure({ shipmentFailureRate: 0 });
  });
  after(() => stack.stop());

  const get = async <T>(path: string, key?: string | null): Promise<{ status: number; body: T }> => {
    const answer = await stack.api.request('GET', path, key === undefined ? {} : { key });
    return { status: answer.status, body: answer.body as T };
  };

  /** The timeline once the order's last span has reached the store. */
  async function timeline(orderId: string, until: (timeline: Timeline) => boolean): Promise<Timeline> {
    return waitUntil(
      async () => {
        await stack.telemetry!.flush();
        const answer = await get<Timeline>(`/v1/orders/${orderId}/timeline`);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        return until(answer.body) ? answer.body : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: `the timeline of ${orderId}` },
    );
  }

  it('says who is signed in and that traces are kept here; only for admin keys', async () => {
    const session = await get<{ client: string; traces: string }>('/v1/operations/session');
    assert.equal(session.status, 200);
    assert.deepEqual([session.body.client, session.body.traces], ['ops', 'here']);
    assert.equal((await get('/v1/operations/session', stack.api.keys.writer)).status, 403);
    assert.equal((await get('/v1/operations/session', null)).status, 401);
    assert.equal((await get(`/v1/orders/${completed}/timeline`, stack.api.keys.writer)).status, 403);
  });

  it("shows an order's events, saga steps, provider calls and webhooks in time order, with traces", async () => {
    const { order, entries, traces } = await timeline(completed, ({ entries }) =>
      entries.some((e) => e.kind === 'saga-step' && e.eventType === EVENT_TYPE.orderCompleted),
    );
    assert.equal(order.status, 'completed');
    const times = entries.map((entry) => Date.parse(entry.at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'in time order',
    );

    const events = entries.filter((e) => e.kind === 'event').map((e) => e.eventType);
    const { rows } = await stack.pool.query(`SELECT type FROM events WHERE order_id = $1 ORDER BY sequence`, [
      completed,
    ]);
    assert.deepEqual(
      events,
      rows.map((row: { type: string }) => row.type),
    );

    const step = entries.find((e) => e.kind === 'saga-step' && e.eventType === EVENT_TYPE.inventoryReserved);
    assert.equal(step?.title, 'saga: inventory.reserved → payment.requested');
    assert.ok(step.durationMs !== undefined && step.durationMs >= 0);

    const calls = entries.filter((e) => e.kind === 'provider-call');
    assert.deepEqual(calls.map((e) => e.title).sort(), [
      'POST payment (payment)',
      'POST shipping (shipping)',
    ]);
    for (const call of calls) {
      assert.equal(call.detail, 'answered 201');
      assert.ok(call.traceId && call.spanId && call.durationMs! >= 0);
    }
    const webhooks = entries.filter((e) => e.kind === 'webhook').map((e) => e.title);
    assert.deepEqual(webhooks, [
      'payment webhook payment.succeeded',
      'shipping webhook shipment.dispatched',
      'shipping webhook shipment.delivered',
    ]);
    assert.equal(entries.filter((e) => e.compensation).length, 0);

    // Every entry with a trace names the one trace of this order, which the trace routes serve.
    assert.equal(traces.length, 1);
    const traceId = traces[0]!.traceId;
    for (const entry of entries.filter((e) => e.kind === 'event')) assert.equal(entry.traceId, traceId);
    const listed = await get<{ items: { traceId: string }[] }>(`/v1/operations/traces?orderId=${completed}`);
    assert.deepEqual(
      listed.body.items.map((t) => t.traceId),
      [traceId],
    );
    const trace = await get<{ spans: { spanId: string; parentSpanId?: string; name: string }[] }>(
      `/v1/operations/traces/${traceId.toUpperCase()}`,
    );
    assert.equal(trace.status, 200);
    assert.ok(trace.body.spans.some((span) => span.name === 'POST /v1/orders' && !span.parentSpanId));
    assert.equal((await get(`/v1/operations/traces/${'0'.repeat(31)}1`)).status, 404);
    assert.equal((await get('/v1/operations/traces/not-a-trace')).status, 400);
  });

  it('marks the compensations of an order whose parcel failed', async () => {
    const { order, entries } = await timeline(compensated, ({ entries }) =>
      entries.some((e) => e.kind === 'saga-step' && e.eventType === EVENT_TYPE.orderCancelled),
    );
    assert.equal(order.status, 'cancelled');
    const compensations = entries.filter((e) => e.kind === 'event' && e.compensation).map((e) => e.eventType);
    assert.ok(compensations.includes(EVENT_TYPE.paymentRefunded), compensations.join());
    assert.ok(compensations.includes(EVENT_TYPE.inventoryReleased), compensations.join());
    assert.ok(compensations.includes(EVENT_TYPE.orderCancelled), compensations.join());
    const failedAt = Date.parse(entries.find((e) => e.eventType === EVENT_TYPE.shipmentFailed)!.at);
    const refund = entries.find(
      (e) => e.kind === 'provider-call' && e.title.includes('payment') && Date.parse(e.at) > failedAt,
    );
    assert.ok(refund, 'the refund call is on the timeline');
    assert.equal((await get(`/v1/orders/01a203e9-f4d5-7767-be37-260ccdd98a35/timeline`)).status, 404);
  });

  it('serves a live overview: counts that grow, latency buckets, gauges', async () => {
    const first = await get<Overview>('/v1/operations/overview');
    assert.equal(first.status, 200);
    const before = first.body;
    assert.ok(before.sources.some((source) => source.service === 'saga'));
    const orderId = await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }]);
    await stack.waitForOrder(orderId, 'completed');
    const after = await waitUntil(
      async () => {
        await stack.telemetry!.flush();
        const { body } = await get<Overview>('/v1/operations/overview');
        return body.orders.completed.count > before.orders.completed.count ? body : undefined;
      },
      { timeoutMs: 20_000, what: 'the overview to count the new order' },
    );
    assert.ok(after.at >= before.at);
    assert.ok(after.published.total > before.published.total);
    assert.ok(after.consumed.saga!.total > before.consumed.saga!.total);
    const latency = after.consumed.saga!.latency;
    assert.equal(latency.counts.length, latency.boundaries.length + 1);
    assert.equal(
      latency.counts.reduce((sum, count) => sum + count, 0),
      latency.count,
    );
    assert.equal(after.orders.completed.count, before.orders.completed.count + 1);
    assert.ok(after.http.requests > before.http.requests);
    assert.equal(after.gauges.deadLettersOpen.saga, 0);
    assert.deepEqual(after.gauges.circuits, { payment: 0, shipping: 0 });
    assert.equal(typeof after.gauges.consumerLagSeconds.saga, 'number');
    assert.equal(typeof after.gauges.outboxBacklog, 'number');
  });
});
