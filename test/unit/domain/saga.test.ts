import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import {
  decide as decideOrder,
  evolve,
  type Decision,
  type OrderCommand,
  type OrderState,
} from '#shared/domain/order/index.ts';
import {
  createSagaConfig,
  decide,
  eventsForOutcome,
  idempotencyKey,
  nextStep,
  SAGA_STEP,
  SAGA_WAIT,
  type SagaCommand,
  type SagaCommandOf,
  type SagaCommandType,
  type SagaContext,
  type SagaOutcomeOf,
  type SagaOutcomes,
} from '#shared/domain/saga/index.ts';
import { ConcurrencyError, ValidationError } from '#shared/errors.ts';
import { SAMPLE_DATA } from '../../fixtures/events.ts';
import { history, scenario } from '../../helpers/given.ts';

const NOW = '2026-03-01T12:00:00.000Z';
const config = createSagaConfig({
  approvalThresholdMinor: 100_000,
  approvalEscalateAfterMs: 60 * 60_000,
  approvalExpireAfterMs: 24 * 60 * 60_000,
});
const context: SagaContext = { config, now: NOW };

/** Stands for the order's random id in expected commands, so that they read as data. */
const ORDER = '<order>';
const customer = { kind: 'customer', id: 'customer-1' } as const;
const operator = { kind: 'operator', id: 'ops' } as const;
const SAGA_ACTOR = { kind: 'system', id: 'saga' } as const;

const draft = <T extends Decision['type']>(type: T, data?: Partial<Extract<Decision, { type: T }>['data']>) =>
  ({ type, data: { ...SAMPLE_DATA[type], ...data } }) as Decision;

function envelope(state: OrderState | undefined, happened: Decision): DomainEvent {
  return history(state?.id ?? randomUUID(), [happened], (state?.version ?? 0) + 1)[0]!;
}

function withOrderPlaceholder<T>(value: T, orderId: string): T {
  return JSON.parse(JSON.stringify(value).replaceAll(orderId, ORDER)) as T;
}

/** given(past events) → when(the event that just happened) → then(the commands the saga executes). */
const saga = scenario<OrderState, Decision, SagaCommand>({
  evolve,
  decide(state, happened) {
    const event = envelope(state, happened);
    const now = evolve(state, event);
    return withOrderPlaceholder(decide(now, event, context), now.id);
  },
});

/**
 * given(past events) → when(the outcome of the step the saga decides now) → then(the events to
 * record). The command is the saga's own decision, so each step is checked as it runs.
 */
const step = scenario<OrderState, SagaOutcomes[SagaCommandType], Decision>({
  evolve,
  decide(state, outcome) {
    const progress = nextStep(state!, context);
    assert.equal(progress.kind, 'next', `the saga has a step to take: ${JSON.stringify(progress)}`);
    const { command } = progress as { command: SagaCommand };
    return eventsForOutcome(state!, command, outcome as never);
  },
});

// Each step of the flow, in order, as sample events.
const created = draft(EVENT_TYPE.orderCreated);
const bigOrder = draft(EVENT_TYPE.orderCreated, {
  lines: [{ sku: 'SKU-9', quantity: 1, unitPriceMinor: 250_000 }],
  totalMinor: 250_000,
});
const approvalRequested = draft(EVENT_TYPE.orderApprovalRequested);
const escalated = draft(EVENT_TYPE.orderApprovalEscalated);
const approved = draft(EVENT_TYPE.orderApproved);
const rejected = draft(EVENT_TYPE.orderRejected);
const reserved = draft(EVENT_TYPE.inventoryReserved);
const outOfStock = draft(EVENT_TYPE.inventoryReservationFailed);
const released = draft(EVENT_TYPE.inventoryReleased);
const paymentRequested = draft(EVENT_TYPE.paymentRequested, { idempotencyKey: 'k' });
const paymentProcessed = draft(EVENT_TYPE.paymentProcessed);
const paymentFailed = draft(EVENT_TYPE.paymentFailed);
const refunded = draft(EVENT_TYPE.paymentRefunded);
const refundFailed = draft(EVENT_TYPE.paymentRefundFailed);
const shipmentRequested = draft(EVENT_TYPE.shipmentRequested);
const dispatched = draft(EVENT_TYPE.shipmentDispatched);
const delivered = draft(EVENT_TYPE.shipmentDelivered);
const shipmentFailed = draft(EVENT_TYPE.shipmentFailed);
const shipmentCancelled = draft(EVENT_TYPE.shipmentCancelled);
const completed = draft(EVENT_TYPE.orderCompleted);
const cancelledByCustomer = draft(EVENT_TYPE.orderCancellationRequested, {
  reasonCode: 'customer_request',
  requestedBy: customer,
  reason: 'changed my mind',
});
const cancelledByOperator = draft(EVENT_TYPE.orderCancellationRequested, {
  reasonCode: 'operator_request',
  requestedBy: operator,
  reason: 'suspected fraud',
});
const approvalTimedOut = draft(EVENT_TYPE.orderCancellationRequested, {
  reasonCode: 'approval_timeout',
  requestedBy: { kind: 'system', id: 'timeouts' },
  reason: 'no approval decision before the deadline',
});

const PAID = [created, reserved, paymentRequested, paymentProcessed];
const SHIPPING = [...PAID, shipmentRequested];

// The commands the saga is expected to issue, with the sample data above.
const LINES = [{ sku: 'SKU-1', quantity: 2 }];
const reserve: SagaCommand = { type: 'ReserveInventory', orderId: ORDER, lines: LINES };
const charge: SagaCommand = {
  type: 'ChargePayment',
  orderId: ORDER,
  amountMinor: 2500,
  currency: 'EUR',
  idempotencyKey: `${ORDER}:charge`,
};
const ship: SagaCommand = {
  type: 'RequestShipment',
  orderId: ORDER,
  lines: LINES,
  address: SAMPLE_DATA[EVENT_TYPE.orderCreated].shippingAddress,
  idempotencyKey: `${ORDER}:shipment`,
};
const complete: SagaCommand = { type: 'CompleteOrder', orderId: ORDER, totalMinor: 2500, currency: 'EUR' };
const cancelShipment = (reasonCode: string): SagaCommand => ({
  type: 'CancelShipment',
  orderId: ORDER,
  shipmentId: 'shp_1',
  reason: `order cancelled (${reasonCode})`,
  idempotencyKey: `${ORDER}:cancel-shipment`,
});
const refund: SagaCommand = {
  type: 'RefundPayment',
  orderId: ORDER,
  paymentId: 'pay_1',
  amountMinor: 2500,
  currency: 'EUR',
  idempotencyKey: `${ORDER}:refund`,
};
const release = (reasonCode: string): SagaCommand => ({
  type: 'ReleaseInventory',
  orderId: ORDER,
  lines: LINES,
  reason: `order cancelled (${reasonCode})`,
});
const finish = (
  reasonCode: SagaCommandOf<'FinishCancellation'>['reasonCode'],
  reason: string,
  cancelledBy: SagaCommandOf<'FinishCancellation'>['cancelledBy'],
  refundedMinor = 0,
): SagaCommand => ({
  type: 'FinishCancellation',
  orderId: ORDER,
  reasonCode,
  reason,
  cancelledBy,
  refundedMinor,
});
const finishForCustomer = (refundedMinor = 0) =>
  finish('customer_request', 'changed my mind', customer, refundedMinor);

describe('saga: the happy path', () => {
  it('an order at or under the threshold is reserved at once, all lines', () => {
    saga.given().when(created).then(reserve);
    saga
      .given()
      .when(
        draft(EVENT_TYPE.orderCreated, {
          lines: [
            { sku: 'A', quantity: 1, unitPriceMinor: 60_000 },
            { sku: 'B', quantity: 2, unitPriceMinor: 20_000 },
          ],
          totalMinor: 100_000,
        }),
      )
      .then({
        ...reserve,
        lines: [
          { sku: 'A', quantity: 1 },
          { sku: 'B', quantity: 2 },
        ],
      });
  });

  it('an order above the threshold waits for approval, with deadlines counted from now', () => {
    saga.given().when(bigOrder).then({
      type: 'RequestApproval',
      orderId: ORDER,
      totalMinor: 250_000,
      currency: 'EUR',
      thresholdMinor: 100_000,
      escalateAt: '2026-03-01T13:00:00.000Z',
      expiresAt: '2026-03-02T12:00:00.000Z',
    });
  });

  it('while approval is pending, escalation included, the saga waits', () => {
    saga.given(bigOrder).when(approvalRequested).thenNothing();
    saga.given(bigOrder, approvalRequested).when(escalated).thenNothing();
  });

  it('once approved, the order is reserved', () => {
    saga
      .given(bigOrder, approvalRequested)
      .when(approved)
      .then({ ...reserve, lines: [{ sku: 'SKU-9', quantity: 1 }] });
    saga
      .given(bigOrder, approvalRequested, escalated)
      .when(approved)
      .then({ ...reserve, lines: [{ sku: 'SKU-9', quantity: 1 }] });
  });

  it('reserved → charge the total, keyed by order and step', () => {
    saga.given(created).when(reserved).then(charge);
  });

  it('the charge accepted, the saga waits for the provider to report its outcome', () => {
    saga.given(created, reserved).when(paymentRequested).thenNothing();
  });

  it('payment processed → request the shipment of every line to the order address', () => {
    saga.given(created, reserved, paymentRequested).when(paymentProcessed).then(ship);
  });

  it('the shipment requested and dispatched, the saga waits for delivery', () => {
    saga
      .given(...PAID)
      .when(shipmentRequested)
      .thenNothing();
    saga
      .given(...SHIPPING)
      .when(dispatched)
      .thenNothing();
  });

  it('delivered → complete the order; then nothing is left', () => {
    saga
      .given(...SHIPPING, dispatched)
      .when(delivered)
      .then(complete);
    saga
      .given(...SHIPPING, dispatched, delivered)
      .when(completed)
      .thenNothing();
  });
});

describe('saga: failures compensate in reverse, then cancel', () => {
  it('out of stock: nothing was reserved, so the order is cancelled at once', () => {
    saga
      .given(created)
      .when(outOfStock)
      .then(finish('out_of_stock', 'out of stock: SKU-1 (asked 2, have 1)', SAGA_ACTOR));
  });

  it('approval rejected or timed out: nothing was done, so the order is cancelled at once', () => {
    saga
      .given(bigOrder, approvalRequested)
      .when(rejected)
      .then(finish('approval_rejected', 'looks fraudulent', { kind: 'operator', id: 'ops-key' }));
    saga
      .given(bigOrder, approvalRequested, escalated)
      .when(approvalTimedOut)
      .then(
        finish('approval_timeout', 'no approval decision before the deadline', {
          kind: 'system',
          id: 'timeouts',
        }),
      );
  });

  it('payment failed: release the reservation, then cancel with nothing refunded', () => {
    saga.given(created, reserved, paymentRequested).when(paymentFailed).then(release('payment_failed'));
    saga
      .given(created, reserved, paymentRequested, paymentFailed)
      .when(released)
      .then(finish('payment_failed', 'card declined', SAGA_ACTOR));
  });

  it('shipment failed: refund, then release, then cancel with the refund', () => {
    saga
      .given(...SHIPPING)
      .when(shipmentFailed)
      .then(refund);
    saga
      .given(...SHIPPING, shipmentFailed)
      .when(refunded)
      .then(release('shipment_failed'));
    saga
      .given(...SHIPPING, shipmentFailed, refunded)
      .when(released)
      .then(finish('shipment_failed', 'address not found', SAGA_ACTOR, 2500));
  });

  it('a shipment failing after dispatch compensates the same way', () => {
    saga
      .given(...SHIPPING, dispatched)
      .when(shipmentFailed)
      .then(refund);
  });
});

describe('saga: cancellation by a customer or an operator', () => {
  it('before anything was done: cancelled at once, by whoever asked', () => {
    saga.given(created).when(cancelledByCustomer).then(finishForCustomer());
    saga
      .given(created)
      .when(cancelledByOperator)
      .then(finish('operator_request', 'suspected fraud', operator));
    saga.given(bigOrder, approvalRequested).when(cancelledByCustomer).then(finishForCustomer());
  });

  it('reserved: release, then cancel', () => {
    saga.given(created, reserved).when(cancelledByCustomer).then(release('customer_request'));
    saga.given(created, reserved, cancelledByCustomer).when(released).then(finishForCustomer());
  });

  it('payment pending at the provider: wait; refund when it is processed', () => {
    saga.given(created, reserved, paymentRequested).when(cancelledByCustomer).thenNothing();
    saga.given(created, reserved, paymentRequested, cancelledByCustomer).when(paymentProcessed).then(refund);
  });

  it('payment pending at the provider: nothing to refund when it fails', () => {
    saga
      .given(created, reserved, paymentRequested, cancelledByCustomer)
      .when(paymentFailed)
      .then(release('customer_request'));
  });

  it('paid: refund, release, cancel with the refunded amount', () => {
    saga
      .given(...PAID)
      .when(cancelledByCustomer)
      .then(refund);
    saga
      .given(...PAID, cancelledByCustomer)
      .when(refunded)
      .then(release('customer_request'));
    saga
      .given(...PAID, cancelledByCustomer, refunded)
      .when(released)
      .then(finishForCustomer(2500));
  });

  it('shipment requested, not dispatched: cancel it first, then refund, release, cancel', () => {
    saga
      .given(...SHIPPING)
      .when(cancelledByCustomer)
      .then(cancelShipment('customer_request'));
    saga
      .given(...SHIPPING, cancelledByCustomer)
      .when(shipmentCancelled)
      .then(refund);
    saga
      .given(...SHIPPING, cancelledByCustomer, shipmentCancelled, refunded)
      .when(released)
      .then(finishForCustomer(2500));
  });

  it('dispatched before the shipment could be cancelled: too late, the order runs to delivery', () => {
    saga
      .given(...SHIPPING, cancelledByCustomer)
      .when(dispatched)
      .thenNothing();
    saga
      .given(...SHIPPING, cancelledByCustomer, dispatched)
      .when(delivered)
      .then(complete);
  });

  it('a failed refund is escalated to an operator, and nothing after it runs', () => {
    saga
      .given(...PAID, cancelledByCustomer)
      .when(refundFailed)
      .then({
        type: 'EscalateToOperator',
        orderId: ORDER,
        reason: 'refund of payment pay_1 (2500 EUR) failed: provider refused',
      });
  });

  it('the failure reason is clipped to what order.cancelled can carry', () => {
    const shortages = Array.from({ length: 40 }, (_, i) => ({ sku: `SKU-${i}`, requested: 5, available: 0 }));
    const [command] = nextStepAfter(created, draft(EVENT_TYPE.inventoryReservationFailed, { shortages }));
    assert.equal(command?.type, 'FinishCancellation');
    assert.equal(command.reason.length, 500);
  });
});

function nextStepAfter(...past: Decision[]): SagaCommand[] {
  const state = history(randomUUID(), past).reduce<OrderState | undefined>(evolve, undefined)!;
  const progress = nextStep(state, context);
  return progress.kind === 'next' ? [progress.command] : [];
}

describe('saga: each step is guarded by the order as recorded', () => {
  const steps: [string, Decision[]][] = [
    ['order.created', [created, reserved]],
    ['order.approved', [bigOrder, approvalRequested, approved, reserved]],
    ['inventory.reserved', [created, reserved, paymentRequested]],
    ['payment.processed', [...PAID, shipmentRequested]],
    ['shipment.delivered', [...SHIPPING, dispatched, delivered, completed]],
    ['payment.failed', [created, reserved, paymentRequested, paymentFailed, released]],
    ['order.cancellation_requested', [...PAID, cancelledByCustomer, refunded]],
    ['payment.refunded', [...PAID, cancelledByCustomer, refunded, released]],
  ];
  for (const [name, past] of steps) {
    it(`a redelivered ${name}, now followed by its step, decides nothing`, () => {
      const events = history(randomUUID(), past);
      const state = events.reduce<OrderState | undefined>(evolve, undefined)!;
      const older = events[events.length - 2]!;
      assert.equal(older.type, past[past.length - 2]!.type);
      assert.deepEqual(decide(state, older, context), []);
    });
  }

  it('redelivering the latest event repeats the same step, with the same idempotency key', () => {
    const events = history(randomUUID(), [created, reserved]);
    const state = events.reduce<OrderState | undefined>(evolve, undefined)!;
    const first = decide(state, events[1]!, context);
    assert.deepEqual(decide(state, events[1]!, context), first);
    assert.equal((first[0] as SagaCommandOf<'ChargePayment'>).idempotencyKey, `${state.id}:charge`);
  });

  it('finished orders decide nothing, whatever arrives', () => {
    saga
      .given(...SHIPPING, dispatched, delivered)
      .when(completed)
      .thenNothing();
    saga
      .given(created, cancelledByCustomer)
      .when(draft(EVENT_TYPE.orderCancelled, { refundedMinor: 0 }))
      .thenNothing();
  });

  it('an event the loaded state does not include yet is retried later', () => {
    const events = history(randomUUID(), [created, reserved]);
    const state = evolve(undefined, events[0]!);
    assert.throws(() => decide(state, events[1]!, context), ConcurrencyError);
  });

  it("another order's event is refused", () => {
    const state = history(randomUUID(), [created]).reduce<OrderState | undefined>(evolve, undefined)!;
    const other = history(randomUUID(), [created])[0]!;
    assert.throws(() => decide(state, other, context), ValidationError);
  });

  it('deadlines need a valid now', () => {
    const events = history(randomUUID(), [bigOrder]);
    const state = evolve(undefined, events[0]!);
    assert.throws(() => decide(state, events[0]!, { config, now: 'yesterday' }), /time of its decision/);
  });

  it('facts the saga never produces together are escalated, not guessed at', () => {
    const [command] = nextStepAfter(created, reserved, released);
    assert.equal(command?.type, 'EscalateToOperator');
    assert.match(command.reason, /reservation released/);
  });

  it('names what it waits for', () => {
    const waiting = (...past: Decision[]) => {
      const state = history(randomUUID(), past).reduce<OrderState | undefined>(evolve, undefined)!;
      return nextStep(state, context);
    };
    assert.deepEqual(waiting(bigOrder, approvalRequested), { kind: 'waiting', on: SAGA_WAIT.approval });
    assert.deepEqual(waiting(created, reserved, paymentRequested), {
      kind: 'waiting',
      on: SAGA_WAIT.paymentOutcome,
    });
    assert.deepEqual(waiting(...SHIPPING), { kind: 'waiting', on: SAGA_WAIT.shipmentDispatch });
    assert.deepEqual(waiting(...SHIPPING, dispatched), { kind: 'waiting', on: SAGA_WAIT.shipmentDelivery });
    assert.deepEqual(waiting(...SHIPPING, dispatched, delivered, completed), {
      kind: 'finished',
      outcome: 'completed',
    });
  });
});

describe('saga: outcomes become events', () => {
  it('approval requested', () => {
    step
      .given(bigOrder)
      .when({ status: 'done' })
      .then({
        type: EVENT_TYPE.orderApprovalRequested,
        data: {
          totalMinor: 250_000,
          currency: 'EUR',
          thresholdMinor: 100_000,
          escalateAt: '2026-03-01T13:00:00.000Z',
          expiresAt: '2026-03-02T12:00:00.000Z',
        },
      });
  });

  it('reserved, or out of stock with the shortages', () => {
    step.given(created).when({ status: 'reserved' }).then(draft(EVENT_TYPE.inventoryReserved));
    const shortages = [{ sku: 'SKU-1', requested: 2, available: 0 }];
    step
      .given(created)
      .when({ status: 'unavailable', reason: 'out_of_stock', shortages })
      .then({ type: EVENT_TYPE.inventoryReservationFailed, data: { reason: 'out_of_stock', shortages } });
  });

  it('charge accepted: payment requested, with the key it was sent with', () => {
    const given = step.given(created, reserved);
    given.when({ status: 'accepted', paymentId: 'pay_7' }).then({
      type: EVENT_TYPE.paymentRequested,
      data: {
        paymentId: 'pay_7',
        amountMinor: 2500,
        currency: 'EUR',
        idempotencyKey: `${given.state!.id}:charge`,
      },
    });
  });

  it('charge declined at once: requested and failed, so the reservation is released next', () => {
    const given = step.given(created, reserved);
    const requested = {
      type: EVENT_TYPE.paymentRequested,
      data: {
        paymentId: 'pay_7',
        amountMinor: 2500,
        currency: 'EUR',
        idempotencyKey: `${given.state!.id}:charge`,
      },
    } as Decision;
    const failed = {
      type: EVENT_TYPE.paymentFailed,
      data: { paymentId: 'pay_7', reason: 'card declined', declineCode: 'do_not_honor' },
    } as Decision;
    given
      .when({ status: 'declined', paymentId: 'pay_7', reason: 'card declined', declineCode: 'do_not_honor' })
      .then(requested, failed);
    saga.given(created, reserved, requested).when(failed).then(release('payment_failed'));
  });

  it('shipment accepted, or refused by the carrier', () => {
    const given = step.given(...PAID);
    given.when({ status: 'accepted', shipmentId: 'shp_7', carrier: 'dhl' }).then({
      type: EVENT_TYPE.shipmentRequested,
      data: {
        shipmentId: 'shp_7',
        carrier: 'dhl',
        lines: LINES,
        idempotencyKey: `${given.state!.id}:shipment`,
      },
    });
    step
      .given(...PAID)
      .when({ status: 'refused', reason: 'address not served' })
      .then({ type: EVENT_TYPE.shipmentFailed, data: { reason: 'address not served' } });
  });

  it('completed', () => {
    step
      .given(...SHIPPING, dispatched, delivered)
      .when({ status: 'done' })
      .then(completed);
  });

  it('shipment cancelled; or not, because the carrier has it already (its webhooks will say)', () => {
    step
      .given(...SHIPPING, cancelledByCustomer)
      .when({ status: 'cancelled' })
      .then({
        type: EVENT_TYPE.shipmentCancelled,
        data: { shipmentId: 'shp_1', reason: 'order cancelled (customer_request)' },
      });
    step
      .given(...SHIPPING, cancelledByCustomer)
      .when({ status: 'not_cancellable', reason: 'already dispatched' })
      .thenNothing();
  });

  it('refunded; or refused, which is recorded, never swallowed', () => {
    step
      .given(...PAID, cancelledByCustomer)
      .when({ status: 'refunded', refundId: 're_1' })
      .then(refunded);
    step
      .given(...PAID, cancelledByCustomer)
      .when({ status: 'refused', reason: 'provider refused' })
      .then(refundFailed);
  });

  it('released', () => {
    step
      .given(created, reserved, cancelledByCustomer)
      .when({ status: 'released' })
      .then(draft(EVENT_TYPE.inventoryReleased, { reason: 'order cancelled (customer_request)' }));
  });

  it('cancelled, with the reason code and the refunded amount', () => {
    step
      .given(...PAID, cancelledByCustomer, refunded, released)
      .when({ status: 'done' })
      .then({
        type: EVENT_TYPE.orderCancelled,
        data: {
          reasonCode: 'customer_request',
          reason: 'changed my mind',
          cancelledBy: customer,
          refundedMinor: 2500,
        },
      });
  });

  it('an escalation records nothing (the function dead-letters the message)', () => {
    step
      .given(...PAID, cancelledByCustomer, refundFailed)
      .when({ status: 'done' })
      .thenNothing();
  });
});

/** Decides on `before`, records the outcome on `after`: the order changed while the step ran. */
function recordLate<T extends SagaCommandType>(
  before: Decision[],
  between: Decision[],
  outcome: SagaOutcomeOf<T>,
): { command: SagaCommand; events: Decision[]; state: OrderState } {
  const all = history(randomUUID(), [...before, ...between]);
  const early = all.slice(0, before.length).reduce<OrderState | undefined>(evolve, undefined)!;
  const late = all.reduce<OrderState | undefined>(evolve, undefined)!;
  const progress = nextStep(early, context);
  assert.equal(progress.kind, 'next');
  const { command } = progress as { command: SagaCommand };
  return { command, events: eventsForOutcome(late, command, outcome as never), state: late };
}

describe('saga: recording outcomes is safe to repeat and to race', () => {
  const repeats: [string, Decision[], SagaOutcomes[SagaCommandType], Decision[]][] = [
    ['approval', [bigOrder], { status: 'done' }, [approvalRequested]],
    ['reservation', [created], { status: 'reserved' }, [reserved]],
    ['charge', [created, reserved], { status: 'accepted', paymentId: 'pay_1' }, [paymentRequested]],
    ['shipment', PAID, { status: 'accepted', shipmentId: 'shp_1', carrier: 'sandbox' }, [shipmentRequested]],
    ['completion', [...SHIPPING, dispatched, delivered], { status: 'done' }, [completed]],
    ['shipment cancel', [...SHIPPING, cancelledByCustomer], { status: 'cancelled' }, [shipmentCancelled]],
    ['refund', [...PAID, cancelledByCustomer], { status: 'refunded', refundId: 're_1' }, [refunded]],
    ['refund refused', [...PAID, cancelledByCustomer], { status: 'refused', reason: 'no' }, [refundFailed]],
    ['release', [created, reserved, cancelledByCustomer], { status: 'released' }, [released]],
    ['cancellation', [created, cancelledByCustomer], { status: 'done' }, [draft(EVENT_TYPE.orderCancelled)]],
  ];
  for (const [name, past, outcome, recorded] of repeats) {
    it(`the ${name} outcome, once recorded, records nothing again`, () => {
      const { events } = recordLate(past, recorded, outcome);
      assert.deepEqual(events, []);
    });
  }

  it('a charge accepted while the customer cancelled is still recorded, so it can be refunded', () => {
    const { events } = recordLate([created, reserved], [cancelledByCustomer], {
      status: 'accepted',
      paymentId: 'pay_1',
    });
    assert.deepEqual(
      events.map((e) => e.type),
      [EVENT_TYPE.paymentRequested],
    );
    saga.given(created, reserved, cancelledByCustomer).when(events[0]!).thenNothing(); // waiting for the provider's outcome
  });

  it('a shipment accepted while the customer cancelled is recorded, then cancelled', () => {
    const { events } = recordLate(PAID, [cancelledByCustomer], {
      status: 'accepted',
      shipmentId: 'shp_1',
      carrier: 'sandbox',
    });
    assert.equal(events[0]?.type, EVENT_TYPE.shipmentRequested);
    saga
      .given(...PAID, cancelledByCustomer)
      .when(events[0])
      .then(cancelShipment('customer_request'));
  });

  it('a reservation made while the customer cancelled is recorded, then released', () => {
    const { events } = recordLate([created], [cancelledByCustomer], { status: 'reserved' });
    assert.deepEqual(events, [reserved]);
  });

  it('an approval request overtaken by a cancellation is not recorded', () => {
    const { events } = recordLate([bigOrder], [cancelledByCustomer], { status: 'done' });
    assert.deepEqual(events, []);
  });

  it('a refused shipment on an order being cancelled records nothing', () => {
    const { events } = recordLate(PAID, [cancelledByCustomer], { status: 'refused', reason: 'no' });
    assert.deepEqual(events, []);
  });

  it('a cancellation is finished only when nothing is left to undo, with the refund as recorded', () => {
    const { events } = recordLate([created, cancelledByCustomer], [], { status: 'done' });
    assert.deepEqual(events, [
      {
        type: EVENT_TYPE.orderCancelled,
        data: {
          reasonCode: 'customer_request',
          reason: 'changed my mind',
          cancelledBy: customer,
          refundedMinor: 0,
        },
      },
    ]);
  });

  it("refuses to record a command on another order's state", () => {
    const state = history(randomUUID(), [created]).reduce<OrderState | undefined>(evolve, undefined)!;
    assert.throws(
      () =>
        eventsForOutcome(
          state,
          { type: 'ReserveInventory', orderId: 'other', lines: LINES },
          { status: 'reserved' },
        ),
      ValidationError,
    );
  });
});

type Executors = { [T in SagaCommandType]: (command: SagaCommandOf<T>) => SagaOutcomeOf<T> };

/**
 * The saga function in miniature: each recorded event is delivered to the saga, which decides,
 * "executes" with scripted outcomes and records what happened; outside parties (webhooks, the
 * API) record facts through the order's own decide. Every effect executed is kept.
 */
class Flow {
  readonly orderId = randomUUID();
  readonly events: DomainEvent[] = [];
  readonly executed: SagaCommand[] = [];
  state: OrderState | undefined;
  private delivered = 0;
  private readonly outcomes: Partial<Executors>;
  private readonly duplicate: boolean;

  constructor(outcomes: Partial<Executors> = {}, options: { duplicate?: boolean } = {}) {
    this.outcomes = outcomes;
    this.duplicate = options.duplicate ?? false;
  }

  record(...drafts: Decision[]): this {
    for (const event of history(this.orderId, drafts, this.events.length + 1)) {
      this.state = evolve(this.state, event);
      this.events.push(event);
    }
    return this;
  }

  outside(command: OrderCommand): this {
    return this.record(...decideOrder(this.state, command));
  }

  /** Delivers every event not yet delivered (each twice when duplicating) until the saga is quiet. */
  settle(): this {
    while (this.delivered < this.events.length) {
      const event = this.events[this.delivered++]!;
      this.deliver(event);
      if (this.duplicate) this.deliver(event);
    }
    return this;
  }

  /** Redelivers the whole history, as a replay would. */
  replay(): this {
    for (const event of [...this.events]) this.deliver(event);
    return this.settle();
  }

  private deliver(event: DomainEvent): void {
    for (const command of decide(this.state!, event, context)) {
      this.executed.push(command);
      const execute = (this.outcomes[command.type] ?? DEFAULT_OUTCOMES[command.type]) as (
        command: SagaCommand,
      ) => SagaOutcomes[SagaCommandType];
      this.record(...eventsForOutcome(this.state!, command, execute(command) as never));
    }
  }

  types(): string[] {
    return this.events.map((event) => event.type.replace(/\.v\d+$/, ''));
  }

  steps(): string[] {
    return this.executed.map((command) => command.type);
  }
}

const DEFAULT_OUTCOMES: Executors = {
  RequestApproval: () => ({ status: 'done' }),
  ReserveInventory: () => ({ status: 'reserved' }),
  ChargePayment: () => ({ status: 'accepted', paymentId: 'pay_1' }),
  RequestShipment: () => ({ status: 'accepted', shipmentId: 'shp_1', carrier: 'sandbox' }),
  CompleteOrder: () => ({ status: 'done' }),
  CancelShipment: () => ({ status: 'cancelled' }),
  RefundPayment: () => ({ status: 'refunded', refundId: 're_1' }),
  ReleaseInventory: () => ({ status: 'released' }),
  FinishCancellation: () => ({ status: 'done' }),
  EscalateToOperator: () => ({ status: 'done' }),
};

const paymentProcessedWebhook: OrderCommand = {
  type: 'RecordPaymentProcessed',
  paymentId: 'pay_1',
  amountMinor: 2500,
  currency: 'EUR',
  providerEventId: 'evt_p',
};
const paymentFailedWebhook: OrderCommand = {
  type: 'RecordPaymentFailed',
  paymentId: 'pay_1',
  reason: 'card declined',
  providerEventId: 'evt_f',
};
const dispatchedWebhook: OrderCommand = {
  type: 'RecordShipmentDispatched',
  shipmentId: 'shp_1',
  carrier: 'sandbox',
  trackingNumber: 'T1',
  providerEventId: 'evt_d',
};
const deliveredWebhook: OrderCommand = {
  type: 'RecordShipmentDelivered',
  shipmentId: 'shp_1',
  deliveredAt: '2026-03-02T00:00:00.000Z',
  providerEventId: 'evt_l',
};
const cancelRequest: OrderCommand = { type: 'RequestCancellation', by: customer, reason: 'changed my mind' };

describe('saga: whole flows, with every message delivered twice and history replayed', () => {
  for (const duplicate of [false, true]) {
    const twice = duplicate ? ' (every message twice)' : '';

    it(`happy path to order.completed${twice}`, () => {
      const flow = new Flow({}, { duplicate }).record(created).settle();
      flow.outside(paymentProcessedWebhook).settle();
      flow.outside(dispatchedWebhook).outside(deliveredWebhook).settle().replay();
      assert.equal(flow.state?.status, 'completed');
      assert.deepEqual(flow.steps(), [
        'ReserveInventory',
        'ChargePayment',
        'RequestShipment',
        'CompleteOrder',
      ]);
      assert.deepEqual(flow.types(), [
        'order.created',
        'inventory.reserved',
        'payment.requested',
        'payment.processed',
        'shipment.requested',
        'shipment.dispatched',
        'shipment.delivered',
        'order.completed',
      ]);
    });

    it(`approval, then the happy path${twice}`, () => {
      const flow = new Flow({}, { duplicate }).record(bigOrder).settle();
      assert.equal(flow.state?.status, 'awaiting_approval');
      flow.outside({ type: 'DecideApproval', decision: 'approve', by: operator }).settle();
      assert.deepEqual(flow.steps(), ['RequestApproval', 'ReserveInventory', 'ChargePayment']);
    });

    it(`cancelled mid-flight with a shipment pending: each compensation once, in reverse${twice}`, () => {
      const flow = new Flow({}, { duplicate }).record(created).settle();
      flow.outside(paymentProcessedWebhook).settle();
      flow.outside(cancelRequest).settle().replay();
      assert.equal(flow.state?.status, 'cancelled');
      assert.equal(flow.state?.refundedMinor, 2500);
      assert.deepEqual(flow.steps(), [
        'ReserveInventory',
        'ChargePayment',
        'RequestShipment',
        'CancelShipment',
        'RefundPayment',
        'ReleaseInventory',
        'FinishCancellation',
      ]);
    });

    it(`cancelled while the payment is pending: waits, then refunds what was processed${twice}`, () => {
      const flow = new Flow({}, { duplicate }).record(created).settle();
      flow.outside(cancelRequest).settle();
      assert.equal(flow.state?.status, 'cancelling');
      flow.outside(paymentProcessedWebhook).settle().replay();
      assert.deepEqual(flow.steps().slice(2), ['RefundPayment', 'ReleaseInventory', 'FinishCancellation']);
      assert.equal(flow.state?.status, 'cancelled');
    });

    it(`payment declined by webhook: release, then cancel with nothing refunded${twice}`, () => {
      const flow = new Flow({}, { duplicate }).record(created).settle();
      flow.outside(paymentFailedWebhook).settle().replay();
      assert.deepEqual(flow.steps(), [
        'ReserveInventory',
        'ChargePayment',
        'ReleaseInventory',
        'FinishCancellation',
      ]);
      assert.deepEqual(flow.events.at(-1)?.data, {
        reasonCode: 'payment_failed',
        reason: 'card declined',
        cancelledBy: SAGA_ACTOR,
        refundedMinor: 0,
      });
    });

    it(`out of stock: cancelled without any compensation${twice}`, () => {
      const flow = new Flow(
        {
          ReserveInventory: () => ({
            status: 'unavailable',
            reason: 'out_of_stock',
            shortages: [{ sku: 'SKU-1', requested: 2, available: 0 }],
          }),
        },
        { duplicate },
      )
        .record(created)
        .settle()
        .replay();
      assert.deepEqual(flow.steps(), ['ReserveInventory', 'FinishCancellation']);
      assert.equal(flow.state?.status, 'cancelled');
    });

    it(`shipment cancel too late: the order completes on delivery${twice}`, () => {
      const flow = new Flow(
        { CancelShipment: () => ({ status: 'not_cancellable', reason: 'already dispatched' }) },
        { duplicate },
      )
        .record(created)
        .settle();
      flow.outside(paymentProcessedWebhook).settle();
      flow.outside(cancelRequest).settle();
      flow.outside(dispatchedWebhook).outside(deliveredWebhook).settle().replay();
      assert.equal(flow.state?.status, 'completed');
      assert.equal(flow.steps().filter((s) => s === 'RefundPayment').length, 0);
    });

    it(`a refused refund stops the compensation and escalates${twice}`, () => {
      const flow = new Flow(
        { RefundPayment: () => ({ status: 'refused', reason: 'charge disputed' }) },
        { duplicate },
      )
        .record(created)
        .settle();
      flow.outside(paymentProcessedWebhook).settle();
      flow.outside(cancelRequest).settle();
      assert.equal(flow.state?.status, 'cancelling');
      assert.equal(flow.state?.payment?.status, 'refund_failed');
      assert.equal(flow.state?.reservation?.status, 'reserved');
      assert.equal(flow.steps().at(-1), 'EscalateToOperator');
      assert.equal(flow.steps().filter((s) => s === 'RefundPayment').length, 1);
    });
  }
});

describe('saga: config and keys', () => {
  it('refuses a config whose expiry is not after its escalation, naming the field', () => {
    assert.throws(
      () =>
        createSagaConfig({
          approvalThresholdMinor: 1,
          approvalEscalateAfterMs: 10,
          approvalExpireAfterMs: 10,
        }),
      (error: unknown) =>
        error instanceof ValidationError && error.issues.some((i) => i.path === 'approvalExpireAfterMs'),
    );
    assert.throws(
      () =>
        createSagaConfig({
          approvalThresholdMinor: -1,
          approvalEscalateAfterMs: 1.5,
          approvalExpireAfterMs: 10,
        }),
      (error: unknown) => error instanceof ValidationError && error.issues.length === 2,
    );
    assert.ok(Object.isFrozen(config));
  });

  it('idempotency keys depend on order and step only', () => {
    assert.equal(idempotencyKey('o-1', SAGA_STEP.charge), 'o-1:charge');
    assert.notEqual(idempotencyKey('o-1', SAGA_STEP.refund), idempotencyKey('o-1', SAGA_STEP.charge));
    assert.notEqual(idempotencyKey('o-2', SAGA_STEP.charge), idempotencyKey('o-1', SAGA_STEP.charge));
  });
});
