import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { reservationOf } from '#shared/store/reservations.ts';
import { unrecordedEffectsOf } from '#shared/store/unrecorded-effects.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** The saga end to end: API → outbox → Pub/Sub push → saga function → providers → webhooks → API. */
describe('saga: each order ends where it should, each compensation done once', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ functions: ['saga', 'timeouts', 'dead-letter'] });
  });
  after(() => stack.stop());

  const types = async (orderId: string) =>
    (await readOrderHistory(stack.pool, orderId)).map((stored) =>
      stored.envelope.type.replace(/\.v\d+$/, ''),
    );
  const paymentsOf = (orderId: string) =>
    stack.payment.ledger().orders[orderId] ?? { chargedMinor: 0, refundedMinor: 0, charges: [], refunds: [] };
  const shipmentsOf = (orderId: string) =>
    stack.shipping.ledger().orders[orderId] ?? {
      shipped: 0,
      delivered: 0,
      cancelled: 0,
      failed: 0,
      shipments: [],
    };

  it('the happy path: reserved, charged, shipped, delivered, completed; units end up shipped', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 1_250, stock: 10 });
    const orderId = await stack.placeOrder([{ sku, quantity: 2 }]);
    const order = await stack.waitForOrder(orderId, 'completed');
    assert.equal(order.totalMinor, 2_500);
    assert.deepEqual(await types(orderId), [
      'order.created',
      'inventory.reserved',
      'payment.requested',
      'payment.processed',
      'shipment.requested',
      'shipment.dispatched',
      'shipment.delivered',
      'order.completed',
    ]);
    const payments = paymentsOf(orderId);
    assert.equal(payments.charges.length, 1);
    assert.equal(payments.chargedMinor, 2_500);
    assert.equal(payments.charges[0]!.idempotencyKey, `${orderId}:charge`);
    assert.equal(payments.refunds.length, 0);
    assert.equal(shipmentsOf(orderId).delivered, 1);
    await waitUntil(async () => (await reservationOf(stack.pool, orderId))?.status === 'shipped', {
      what: 'the reservation to be shipped',
    });
    const stock = await stack.stockOf(sku);
    assert.deepEqual([stock.available, stock.reserved, stock.shipped], [8, 0, 2]);
  });

  it('out of stock: cancelled at once; nothing reserved, charged or shipped', async () => {
    const scarce = await stack.addProduct({ stock: 1 });
    const plenty = await stack.addProduct({ stock: 5 });
    const orderId = await stack.placeOrder([
      { sku: plenty, quantity: 1 },
      { sku: scarce, quantity: 2 },
    ]);
    const order = await stack.waitForOrder(orderId, 'cancelled');
    assert.equal(order.cancellation?.reasonCode, 'out_of_stock');
    assert.match(order.cancellation?.reason ?? '', new RegExp(`${scarce} \\(asked 2, have 1\\)`));
    assert.deepEqual(await types(orderId), [
      'order.created',
      'inventory.reservation_failed',
      'order.cancelled',
    ]);
    assert.equal(paymentsOf(orderId).charges.length, 0);
    for (const [sku, units] of [
      [scarce, 1],
      [plenty, 5],
    ] as const) {
      const stock = await stack.stockOf(sku);
      assert.deepEqual([stock.available, stock.reserved, stock.shipped], [units, 0, 0], sku);
    }
  });

  it('concurrent orders for the last units: exactly the stock is sold, all or nothing per order', async () => {
    const last = await stack.addProduct({ stock: 5 });
    const other = await stack.addProduct({ stock: 100 });
    const orders = await Promise.all(
      Array.from({ length: 16 }, () =>
        stack.placeOrder([
          { sku: other, quantity: 1 },
          { sku: last, quantity: 1 },
        ]),
      ),
    );
    const states = await Promise.all(
      orders.map((orderId) => stack.waitForOrder(orderId, ['completed', 'cancelled'])),
    );
    assert.equal(states.filter((state) => state.status === 'completed').length, 5);
    assert.ok(
      states
        .filter((state) => state.status === 'cancelled')
        .every((state) => state.cancellation?.reasonCode === 'out_of_stock'),
    );
    const [lastStock, otherStock] = [await stack.stockOf(last), await stack.stockOf(other)];
    assert.deepEqual([lastStock.available, lastStock.reserved, lastStock.shipped], [0, 0, 5]);
    assert.deepEqual(
      [otherStock.available, otherStock.reserved, otherStock.shipped],
      [95, 0, 5],
      'none held back',
    );
  });

  it('declined: the reservation is released once, nothing refunded, cancelled', async () => {
    const sku = await stack.addProduct({ stock: 3 });
    stack.payment.configure({ declineRate: 1 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 3 }]);
      const order = await stack.waitForOrder(orderId, 'cancelled');
      assert.equal(order.cancellation?.reasonCode, 'payment_failed');
      assert.equal(order.refundedMinor, 0);
      const history = await types(orderId);
      assert.equal(history.filter((type) => type === 'inventory.released').length, 1);
      assert.deepEqual(history.slice(-3), ['payment.failed', 'inventory.released', 'order.cancelled']);
      const payments = paymentsOf(orderId);
      assert.equal(payments.charges.length, 1);
      assert.equal(payments.charges[0]!.status, 'declined');
      assert.deepEqual([payments.chargedMinor, payments.refunds.length], [0, 0]);
      assert.equal(shipmentsOf(orderId).shipments.length, 0);
      const stock = await stack.stockOf(sku);
      assert.deepEqual([stock.available, stock.reserved], [3, 0]);
    } finally {
      stack.payment.configure({ declineRate: 0 });
    }
  });

  it('a 5xx storm at the payment provider: calls back off (circuit open, nacks), then one charge', async () => {
    const sku = await stack.addProduct({ stock: 10 });
    stack.payment.configure({ errorRate: 1 });
    const orders = await Promise.all([1, 2, 3].map(() => stack.placeOrder([{ sku, quantity: 1 }])));
    // The storm lasts until the saga has given up on every order in-process (retries spent, so the
    // message was nacked, its error recorded) and the circuit has opened (calls fail fast).
    const failures = async () => {
      const { rows } = await stack.pool.query<{ order_id: string; last_error: string }>(
        `SELECT e.order_id, f.last_error FROM message_failures f JOIN events e ON e.id::text = f.event_id
          WHERE f.consumer = 'saga' AND e.order_id = ANY($1::uuid[])`,
        [orders],
      );
      return rows;
    };
    await waitUntil(
      async () => {
        const rows = await failures();
        return (
          new Set(rows.map((row) => row.order_id)).size === orders.length &&
          rows.some((row) => /circuit open/.test(row.last_error))
        );
      },
      { timeoutMs: 60_000, what: 'every order to be nacked and the circuit to open' },
    );
    stack.payment.configure({ errorRate: 0 });
    for (const orderId of orders) {
      await stack.waitForOrder(orderId, 'completed', { timeoutMs: 60_000 });
      const payments = paymentsOf(orderId);
      assert.equal(payments.charges.length, 1, 'one charge per order, whatever was retried');
      assert.equal(payments.refunds.length, 0);
      assert.equal((await types(orderId)).filter((type) => type === 'payment.requested').length, 1);
    }
    const stock = await stack.stockOf(sku);
    assert.deepEqual([stock.available, stock.reserved + stock.shipped], [7, 3]);
  });

  it('shipment failed: refunded once, released once, cancelled with the refund', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 4_000, stock: 2 });
    stack.shipping.configure({ shipmentFailureRate: 1 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 2 }]);
      const order = await stack.waitForOrder(orderId, 'cancelled');
      assert.equal(order.cancellation?.reasonCode, 'shipment_failed');
      assert.equal(order.refundedMinor, 8_000);
      const history = await types(orderId);
      assert.deepEqual(history.slice(-4), [
        'shipment.failed',
        'payment.refunded',
        'inventory.released',
        'order.cancelled',
      ]);
      const payments = paymentsOf(orderId);
      assert.equal(payments.refunds.length, 1);
      assert.equal(payments.refunds[0]!.idempotencyKey, `${orderId}:refund`);
      assert.equal(payments.chargedMinor - payments.refundedMinor, 0);
      assert.equal(shipmentsOf(orderId).failed, 1);
      const stock = await stack.stockOf(sku);
      assert.deepEqual([stock.available, stock.reserved, stock.shipped], [2, 0, 0]);
    } finally {
      stack.shipping.configure({ shipmentFailureRate: 0 });
    }
  });

  it('cancelled while the shipment waits for the carrier: shipment cancelled, refunded, released, once each', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 2_000, stock: 4 });
    stack.shipping.configure({ webhookDelayMs: 60_000 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
      await stack.waitForOrder(orderId, 'shipment_pending');
      assert.equal((await stack.cancelOrder(orderId)).status, 202);
      const order = await stack.waitForOrder(orderId, 'cancelled');
      assert.equal(order.cancellation?.reasonCode, 'customer_request');
      assert.equal(order.refundedMinor, 2_000);
      const history = await types(orderId);
      assert.deepEqual(history.slice(-5), [
        'order.cancellation_requested',
        'shipment.cancelled',
        'payment.refunded',
        'inventory.released',
        'order.cancelled',
      ]);
      assert.equal(shipmentsOf(orderId).cancelled, 1);
      assert.equal(paymentsOf(orderId).refunds.length, 1);
      const stock = await stack.stockOf(sku);
      assert.deepEqual([stock.available, stock.reserved, stock.shipped], [4, 0, 0]);
    } finally {
      stack.shipping.configure({ webhookDelayMs: 0 });
    }
  });

  it('cancelled while the payment is pending: the saga waits for the outcome, then refunds once', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 700, stock: 4 });
    stack.payment.configure({ webhookDelayMs: 1_500 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 2 }]);
      await stack.waitForOrder(orderId, 'payment_pending');
      assert.equal((await stack.cancelOrder(orderId)).status, 202);
      const order = await stack.waitForOrder(orderId, 'cancelled');
      assert.equal(order.refundedMinor, 1_400);
      const payments = paymentsOf(orderId);
      assert.deepEqual([payments.charges.length, payments.refunds.length], [1, 1]);
      assert.equal(payments.chargedMinor - payments.refundedMinor, 0);
      assert.equal(shipmentsOf(orderId).shipments.length, 0);
      const stock = await stack.stockOf(sku);
      assert.deepEqual([stock.available, stock.reserved], [4, 0]);
    } finally {
      stack.payment.configure({ webhookDelayMs: 0 });
    }
  });

  it('approval: above the threshold the order waits; rejected, it is cancelled with nothing done', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 150_000, stock: 2 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    const waiting = await stack.waitForOrder(orderId, 'awaiting_approval');
    assert.equal(waiting.approval?.thresholdMinor, 100_000);
    assert.equal((await stack.decideApproval(orderId, 'reject', 'looks fraudulent')).status, 202);
    const order = await stack.waitForOrder(orderId, 'cancelled');
    assert.equal(order.cancellation?.reasonCode, 'approval_rejected');
    assert.deepEqual(await types(orderId), [
      'order.created',
      'order.approval_requested',
      'order.rejected',
      'order.cancelled',
    ]);
    assert.equal(paymentsOf(orderId).charges.length, 0);
    assert.equal((await stack.stockOf(sku)).available, 2);
  });

  it('approval: approved, the order is fulfilled', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 150_000, stock: 2 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    await stack.waitForOrder(orderId, 'awaiting_approval');
    assert.equal((await stack.decideApproval(orderId, 'approve')).status, 202);
    await stack.waitForOrder(orderId, 'completed');
    assert.equal(paymentsOf(orderId).chargedMinor, 150_000);
  });

  it('a charge accepted while the saga crashed, on an order cancelled meanwhile, is refunded once', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 3_300, stock: 3 });
    // The provider's webhook must not arrive before the cancellation has finished.
    stack.payment.configure({ webhookDelayMs: 2_000 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
      stack.faults.crashAfterCharge(orderId);
      await stack.waitForOrder(orderId, 'reserved');
      await waitUntil(() => paymentsOf(orderId).charges.length === 1, { what: 'the charge at the provider' });
      assert.equal((await stack.cancelOrder(orderId)).status, 202);
      const order = await stack.waitForOrder(orderId, 'cancelled');
      assert.equal(order.payment, undefined, 'the order never recorded the charge');
      assert.equal(order.refundedMinor, 0);
      // The provider reports the charge; the API keeps it as an effect no order recorded.
      await waitUntil(async () => (await unrecordedEffectsOf(stack.pool, orderId)).length === 1, {
        timeoutMs: 20_000,
        what: 'the unrecorded charge',
      });
      await stack.tick();
      await waitUntil(
        async () => (await unrecordedEffectsOf(stack.pool, orderId))[0]?.status === 'compensated',
        { what: 'the refund of the unrecorded charge' },
      );
      await stack.tick(); // a second tick changes nothing
      await stack.tick();
      const payments = paymentsOf(orderId);
      assert.equal(payments.charges.length, 1);
      assert.equal(payments.refunds.length, 1);
      assert.equal(payments.chargedMinor - payments.refundedMinor, 0);
      const stock = await stack.stockOf(sku);
      assert.deepEqual([stock.available, stock.reserved], [3, 0]);
    } finally {
      stack.payment.configure({ webhookDelayMs: 0 });
    }
  });

  it('a parcel accepted while the saga crashed, on an order cancelled meanwhile, goes to an operator once dispatched', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 6_100, stock: 3 });
    // The carrier reports the parcel only once it is dispatched, after the cancellation finished.
    stack.shipping.configure({ webhookDelayMs: 2_000 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
      stack.faults.crashAfterShipment(orderId);
      await stack.waitForOrder(orderId, 'paid');
      await waitUntil(() => shipmentsOf(orderId).shipments.length === 1, {
        what: 'the parcel at the carrier',
      });
      assert.equal((await stack.cancelOrder(orderId)).status, 202);
      const order = await stack.waitForOrder(orderId, 'cancelled');
      assert.equal(order.shipment, undefined, 'the order never recorded the parcel');
      assert.equal(order.refundedMinor, 6_100, 'the payment was refunded as usual');
      await waitUntil(async () => (await unrecordedEffectsOf(stack.pool, orderId)).length === 1, {
        timeoutMs: 20_000,
        what: 'the unrecorded parcel',
      });
      await stack.tick();
      const [effect] = await waitUntil(
        async () => {
          const effects = await unrecordedEffectsOf(stack.pool, orderId);
          return effects[0]?.status === 'open' ? undefined : effects;
        },
        { what: 'the parcel to be dealt with' },
      );
      assert.equal(effect!.status, 'failed', 'dispatched: too late to cancel');
      const letter = await waitUntil(
        async () => {
          const { rows } = await stack.pool.query<{ source_subscription: string; last_error: string }>(
            `SELECT source_subscription, last_error FROM dead_letters WHERE order_id = $1`,
            [orderId],
          );
          return rows[0];
        },
        { what: 'the dead letter for an operator' },
      );
      assert.equal(letter.source_subscription, 'timeouts');
      assert.match(
        letter.last_error,
        /shipment \S+ of cancelled order .* cannot be cancelled: already_dispatched/,
      );
    } finally {
      stack.shipping.configure({ webhookDelayMs: 0 });
    }
  });

  it('a refused refund is recorded, never swallowed, and handed to an operator as a dead letter', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 5_000, stock: 2 });
    stack.shipping.configure({ webhookDelayMs: 60_000 });
    try {
      const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
      stack.faults.refuseRefund(orderId);
      await stack.waitForOrder(orderId, 'shipment_pending');
      assert.equal((await stack.cancelOrder(orderId)).status, 202);
      const order = await stack.waitForOrder(orderId, (state) => state.payment?.status === 'refund_failed');
      assert.equal(order.status, 'cancelling', 'stopped where the refund failed; the reservation is kept');
      const letter = await waitUntil(
        async () => {
          const { rows } = await stack.pool.query<{
            event_type: string;
            last_error: string;
            attempts: number;
          }>(
            `SELECT event_type, last_error, attempts FROM dead_letters WHERE order_id = $1 AND status = 'open'`,
            [orderId],
          );
          return rows[0];
        },
        { what: 'the dead letter for an operator' },
      );
      assert.equal(letter.event_type, EVENT_TYPE.paymentRefundFailed);
      assert.match(
        letter.last_error,
        /needs an operator: refund of payment \S+ \(5000 EUR\) failed: charge_not_refundable/,
      );
      assert.equal(letter.attempts, 1);
      assert.equal((await stack.stockOf(sku)).reserved, 1);
    } finally {
      stack.shipping.configure({ webhookDelayMs: 0 });
    }
  });

  it('history is never applied twice: one event per step, one processed record per event', async () => {
    const { rows } = await stack.pool.query<{ duplicates: number }>(
      `SELECT count(*)::int AS duplicates FROM (
         SELECT order_id, type FROM events
          WHERE type <> '${EVENT_TYPE.orderCancellationRequested}'
          GROUP BY order_id, type HAVING count(*) > 1) d`,
    );
    assert.equal(rows[0]!.duplicates, 0);
  });
});
