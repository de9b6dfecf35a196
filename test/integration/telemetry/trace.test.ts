/**
 * One order, one trace: every hop from the HTTP request to order.completed is a span of one tree
 * (issue 9), read back from the API's span store the way the console reads it. The stack runs as
 * the local one does: the functions export their spans to the API over OTLP/HTTP, the providers are
 * called with traceparent and echo it on their webhooks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { CONVEYOR_ATTRIBUTE, type StoredSpan } from '#shared/telemetry/index.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

describe('tracing: one order is one trace', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ functions: ['saga'], telemetry: true });
  });
  after(() => stack.stop());

  it('links every hop from POST /v1/orders to order.completed into one tree', async () => {
    const orderId = await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }]);
    await stack.waitForOrder(orderId, 'completed');
    const telemetry = stack.telemetry!;
    const spans = telemetry.collector.spans;

    // The last hop (the saga processing order.completed) ends after the order is completed.
    const trace = await waitUntil(
      async () => {
        await telemetry.flush();
        const traces = spans.traces({ orderId });
        const one = traces.length === 1 ? spans.trace(traces[0]!.traceId) : [];
        return one.some((span) => isProcessOf(span, EVENT_TYPE.orderCompleted)) ? one : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: `one trace of order ${orderId} reaching order.completed` },
    );

    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const parentOf = (span: StoredSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const ancestors = (span: StoredSpan): StoredSpan[] => {
      const chain: StoredSpan[] = [];
      for (let at = parentOf(span); at; at = parentOf(at)) chain.push(at);
      return chain;
    };
    const describeTree = (): string => {
      const lines: string[] = [];
      const walk = (span: StoredSpan, depth: number) => {
        lines.push(`${'  '.repeat(depth)}${span.service}: ${span.name} (${span.kind})`);
        for (const child of trace.filter((other) => other.parentSpanId === span.spanId))
          walk(child, depth + 1);
      };
      for (const span of trace.filter((one) => !parentOf(one))) walk(span, 0);
      return lines.join('\n');
    };

    // One root, the request; every other span's parent is in the trace.
    const roots = trace.filter((span) => !span.parentSpanId);
    assert.equal(roots.length, 1, describeTree());
    const root = roots[0]!;
    assert.deepEqual([root.name, root.kind, root.service], ['POST /v1/orders', 'server', 'api']);
    for (const span of trace) {
      if (span !== root)
        assert.ok(parentOf(span), `${span.name} has its parent in the trace\n${describeTree()}`);
      assert.equal(span.attributes[CONVEYOR_ATTRIBUTE.orderId], orderId, `${span.name} names the order`);
    }

    /** The one span matching, asserting there is exactly one. */
    const only = (what: string, match: (span: StoredSpan) => boolean): StoredSpan => {
      const found = trace.filter(match);
      assert.equal(found.length, 1, `one ${what}\n${describeTree()}`);
      return found[0]!;
    };
    const processOf = (type: string) => only(`process ${type}`, (span) => isProcessOf(span, type));
    const under = (child: StoredSpan, parent: StoredSpan, how: 'parent' | 'ancestor' = 'parent') => {
      const ok = how === 'parent' ? parentOf(child) === parent : ancestors(child).includes(parent);
      assert.ok(ok, `${child.name} is under ${parent.name} (${how})\n${describeTree()}`);
    };

    // The request creates order.created; the saga's delivery continues from the request.
    const created = processOf(EVENT_TYPE.orderCreated);
    assert.equal(created.service, 'saga');
    under(created, root);
    const sentCreated = only('send order.created', (span) => isSendOf(span, EVENT_TYPE.orderCreated));
    under(sentCreated, root);

    // Each step's events are created under the delivery that decided them, and consumed under that.
    const chain = [
      EVENT_TYPE.orderCreated,
      EVENT_TYPE.inventoryReserved,
      EVENT_TYPE.paymentRequested,
    ] as const;
    for (let i = 1; i < chain.length; i++) {
      const previous = processOf(chain[i - 1]!);
      const next = processOf(chain[i]!);
      const creation = parentOf(next)!;
      assert.deepEqual([creation.name, creation.kind], ['create order-events', 'producer']);
      under(creation, previous);
    }

    // The charge: a client span under the delivery that requested it; the provider's webhook is a
    // server span whose parent is that call (the provider echoed its traceparent).
    const charge = only(
      'payment call',
      (span) => span.kind === 'client' && span.attributes['peer.service'] === 'payment',
    );
    under(charge, processOf(EVENT_TYPE.inventoryReserved), 'ancestor');
    // A webhook that arrives before the saga committed the step is answered 409 and delivered
    // again: every delivery is a span under the call.
    const paymentWebhooks = trace.filter((span) => span.name === 'POST /v1/webhooks/payments');
    assert.ok(paymentWebhooks.length >= 1, describeTree());
    for (const webhook of paymentWebhooks) {
      assert.equal(webhook.kind, 'server');
      under(webhook, charge);
    }
    const processed = processOf(EVENT_TYPE.paymentProcessed);
    assert.ok(
      paymentWebhooks.some((webhook) => ancestors(processed).includes(webhook)),
      describeTree(),
    );

    // The shipment: the same through the carrier's two webhooks.
    const shipmentCall = only(
      'shipping call',
      (span) => span.kind === 'client' && span.attributes['peer.service'] === 'shipping',
    );
    under(shipmentCall, processed, 'ancestor');
    const shippingWebhooks = trace.filter((span) => span.name === 'POST /v1/webhooks/shipping');
    assert.ok(shippingWebhooks.length >= 2, describeTree());
    for (const webhook of shippingWebhooks) under(webhook, shipmentCall);
    const dispatched = processOf(EVENT_TYPE.shipmentDispatched);
    const delivered = processOf(EVENT_TYPE.shipmentDelivered);
    assert.ok(
      shippingWebhooks.some((webhook) => ancestors(dispatched).includes(webhook)),
      describeTree(),
    );
    assert.ok(
      shippingWebhooks.some((webhook) => ancestors(delivered).includes(webhook)),
      describeTree(),
    );

    // order.completed: created by the saga's delivery of shipment.delivered, sent, and consumed.
    const completed = processOf(EVENT_TYPE.orderCompleted);
    under(completed, delivered, 'ancestor');
    const sentCompleted = only('send order.completed', (span) => isSendOf(span, EVENT_TYPE.orderCompleted));
    under(sentCompleted, delivered, 'ancestor');
    assert.equal(sentCompleted.service, 'api', 'the API relay publishes what the saga commits');

    // Found by correlation id too (the order's own id, for an order placed through the API).
    assert.deepEqual(
      spans.traces({ correlationId: orderId }).map((summary) => summary.traceId),
      [root.traceId],
    );
  });
});

function isProcessOf(span: StoredSpan, type: string): boolean {
  return span.kind === 'consumer' && span.name === `process ${type}`;
}

function isSendOf(span: StoredSpan, type: string): boolean {
  return (
    span.kind === 'producer' &&
    span.name === 'send order-events' &&
    span.attributes[CONVEYOR_ATTRIBUTE.eventType] === type
  );
}
