import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { decide, ORDER_STATUS } from '#shared/domain/order/index.ts';
import { ValidationError } from '#shared/errors.ts';
import { prepareAppend, type EventMeta } from '#shared/store/event-store.ts';

const address = { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' };
const placed = decide(undefined, {
  type: 'PlaceOrder',
  customerId: 'customer-1',
  currency: 'EUR',
  lines: [{ sku: 'SKU-1', quantity: 2, unitPriceMinor: 500 }],
  shippingAddress: address,
  channel: 'api',
});

describe('prepareAppend: decisions into envelopes, outbox rows and the next state', () => {
  let counter = 0;
  const meta: EventMeta = {
    time: '2026-01-01T00:00:00.000Z',
    newId: () => `0190a1b2-0000-7000-8000-${String(++counter).padStart(12, '0')}`,
    source: '//conveyor/test',
    correlationId: 'flow-1',
    causationId: 'request:1',
    traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
  };

  it('numbers events from the expected version, with the injected ids, time and tracing', () => {
    const orderId = randomUUID();
    const created = prepareAppend(orderId, 0, placed, meta, undefined);
    const next = prepareAppend(
      orderId,
      1,
      [
        { type: EVENT_TYPE.inventoryReserved, data: { lines: [{ sku: 'SKU-1', quantity: 2 }] } },
        {
          type: EVENT_TYPE.paymentRequested,
          data: { paymentId: 'p', amountMinor: 1000, currency: 'EUR', idempotencyKey: 'k' },
        },
      ],
      meta,
      created.appended.state,
    );
    assert.deepEqual(
      next.appended.events.map((event) => event.sequence),
      [2, 3],
    );
    const [event] = created.appended.events;
    assert.equal(event!.subject, orderId);
    assert.equal(event!.time, meta.time);
    assert.equal(event!.correlationid, 'flow-1');
    assert.equal(event!.causationid, 'request:1');
    assert.equal(event!.traceparent, meta.traceparent);
    assert.equal(created.appended.state.status, ORDER_STATUS.placed);
    assert.equal(next.appended.state.status, ORDER_STATUS.paymentPending);
    assert.equal(next.appended.state.version, 3);
    const [row] = next.eventRows;
    assert.equal(row!.attributes[ATTRIBUTE.sequence], '2');
    assert.equal(row!.attributes[ATTRIBUTE.subject], orderId);
  });

  it('refuses events that would not parse for their consumers', () => {
    const invalid = [
      { type: EVENT_TYPE.orderCreated, data: { ...placed[0]!.data, currency: 'euros' } },
    ] as never;
    assert.throws(() => prepareAppend(randomUUID(), 0, invalid, meta, undefined), ValidationError);
  });

  it('refuses an empty append', () => {
    assert.throws(() => prepareAppend(randomUUID(), 0, [], meta, undefined), RangeError);
  });
});
