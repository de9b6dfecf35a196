import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import {
  CANCELLABLE_STATUSES,
  decide,
  evolve,
  ORDER_STATUS,
  ORDER_STATUSES,
  replay,
  type Decision,
  type OrderCommand,
} from '#shared/domain/order/index.ts';
import { ConcurrencyError, InvalidTransitionError, ValidationError } from '#shared/errors.ts';
import { SAMPLE_DATA } from '../../fixtures/events.ts';
import { history, scenario } from '../../helpers/given.ts';

const order = scenario({ evolve, decide });
const customer = { kind: 'customer', id: 'customer-1' } as const;
const operator = { kind: 'operator', id: 'ops' } as const;

const draft = <T extends Decision['type']>(type: T, data?: Partial<Extract<Decision, { type: T }>['data']>) =>
  ({ type, data: { ...SAMPLE_DATA[type], ...data } }) as Decision;

// The events of each step of the flow, in order.
const created = draft(EVENT_TYPE.orderCreated);
const approvalRequested = draft(EVENT_TYPE.orderApprovalRequested);
const approved = draft(EVENT_TYPE.orderApproved);
const reserved = draft(EVENT_TYPE.inventoryReserved);
const paymentRequested = draft(EVENT_TYPE.paymentRequested);
const paymentProcessed = draft(EVENT_TYPE.paymentProcessed);
const shipmentRequested = draft(EVENT_TYPE.shipmentRequested);
const dispatched = draft(EVENT_TYPE.shipmentDispatched);
const delivered = draft(EVENT_TYPE.shipmentDelivered);
const completed = draft(EVENT_TYPE.orderCompleted);

/** The shortest history that reaches each status. */
const REACH: Record<string, Decision[]> = {
  [ORDER_STATUS.placed]: [created],
  [ORDER_STATUS.awaitingApproval]: [created, approvalRequested],
  [ORDER_STATUS.approved]: [created, approvalRequested, approved],
  [ORDER_STATUS.reserved]: [created, reserved],
  [ORDER_STATUS.paymentPending]: [created, reserved, paymentRequested],
  [ORDER_STATUS.paid]: [created, reserved, paymentRequested, paymentProcessed],
  [ORDER_STATUS.shipmentPending]: [created, reserved, paymentRequested, paymentProcessed, shipmentRequested],
  [ORDER_STATUS.shipped]: [
    created,
    reserved,
    paymentRequested,
    paymentProcessed,
    shipmentRequested,
    dispatched,
  ],
  [ORDER_STATUS.delivered]: [
    created,
    reserved,
    paymentRequested,
    paymentProcessed,
    shipmentRequested,
    dispatched,
    delivered,
  ],
  [ORDER_STATUS.completed]: [
    created,
    reserved,
    paymentRequested,
    paymentProcessed,
    shipmentRequested,
    dispatched,
    delivered,
    completed,
  ],
  [ORDER_STATUS.cancelling]: [created, draft(EVENT_TYPE.orderCancellationRequested)],
  [ORDER_STATUS.cancelled]: [
    created,
    draft(EVENT_TYPE.orderCancellationRequested),
    draft(EVENT_TYPE.orderCancelled),
  ],
};

describe('order: evolve', () => {
  for (const status of ORDER_STATUSES) {
    it(`derives ${status} from its history`, () => {
      const steps = REACH[status]!;
      const state = replay(history(randomUUID(), steps));
      assert.equal(state?.status, status);
      assert.equal(state?.version, steps.length);
    });
  }

  const failures: [string, Decision[], string][] = [
    ['out of stock', [created, draft(EVENT_TYPE.inventoryReservationFailed)], 'out_of_stock'],
    [
      'payment failed',
      [created, reserved, paymentRequested, draft(EVENT_TYPE.paymentFailed)],
      'payment_failed',
    ],
    [
      'shipment failed',
      [...REACH[ORDER_STATUS.shipmentPending]!, draft(EVENT_TYPE.shipmentFailed)],
      'shipment_failed',
    ],
    ['approval rejected', [created, approvalRequested, draft(EVENT_TYPE.orderRejected)], 'approval_rejected'],
  ];
  for (const [name, steps, reasonCode] of failures) {
    it(`a failure starts compensation: ${name}`, () => {
      const state = replay(history(randomUUID(), steps));
      assert.equal(state?.status, ORDER_STATUS.cancelling);
      assert.equal(state?.cancellation?.reasonCode, reasonCode);
    });
  }

  it('stays cancelling while compensations run, whatever else arrives, until cancelled', () => {
    const steps = [
      ...REACH[ORDER_STATUS.paymentPending]!,
      draft(EVENT_TYPE.orderCancellationRequested),
      paymentProcessed,
    ];
    const state = replay(
      history(randomUUID(), [
        ...steps,
        draft(EVENT_TYPE.paymentRefunded),
        draft(EVENT_TYPE.inventoryReleased),
      ]),
    );
    assert.equal(state?.status, ORDER_STATUS.cancelling);
    assert.equal(state?.refundedMinor, 2500);
    assert.equal(state?.payment?.status, 'refunded');
    assert.equal(state?.reservation?.status, 'released');
  });

  it('the first event must be order.created, and only once', () => {
    assert.throws(() => replay(history(randomUUID(), [reserved])), InvalidTransitionError);
    assert.throws(() => replay(history(randomUUID(), [created, created])), /already exists/);
  });

  it('refuses a gap or repeat in the sequence', () => {
    const id = randomUUID();
    const [first] = history(id, [created]);
    const [third] = history(id, [reserved], 3);
    assert.throws(() => evolve(evolve(undefined, first!), third!), /does not follow version 1/);
  });

  it('refuses an outcome for a step never taken', () => {
    assert.throws(() => replay(history(randomUUID(), [created, paymentProcessed])), /before the step/);
  });
});

describe('order: place', () => {
  const place = (lines: { sku: string; quantity: number; unitPriceMinor: number }[]): OrderCommand => ({
    type: 'PlaceOrder',
    customerId: 'customer-1',
    currency: 'EUR',
    lines,
    shippingAddress: SAMPLE_DATA[EVENT_TYPE.orderCreated].shippingAddress,
    channel: 'api',
  });

  it('records order.created with the total from the priced lines', () => {
    order
      .given()
      .when(
        place([
          { sku: 'A', quantity: 2, unitPriceMinor: 1250 },
          { sku: 'B', quantity: 1, unitPriceMinor: 99 },
        ]),
      )
      .then(
        draft(EVENT_TYPE.orderCreated, {
          lines: [
            { sku: 'A', quantity: 2, unitPriceMinor: 1250 },
            { sku: 'B', quantity: 1, unitPriceMinor: 99 },
          ],
          totalMinor: 2599,
        }),
      );
  });

  it('refuses the same SKU on two lines', () => {
    order
      .given()
      .when(
        place([
          { sku: 'A', quantity: 1, unitPriceMinor: 1 },
          { sku: 'A', quantity: 2, unitPriceMinor: 1 },
        ]),
      )
      .thenThrows(ValidationError, /invalid order/);
  });

  it('refuses an order that exists', () => {
    order
      .given(created)
      .when(place([{ sku: 'A', quantity: 1, unitPriceMinor: 1 }]))
      .thenThrows(InvalidTransitionError);
  });
});

describe('order: cancel', () => {
  for (const status of CANCELLABLE_STATUSES) {
    it(`a customer can cancel when ${status}`, () => {
      order
        .given(...REACH[status]!)
        .when({ type: 'RequestCancellation', by: customer, reason: 'changed my mind' })
        .then(
          draft(EVENT_TYPE.orderCancellationRequested, {
            reasonCode: 'customer_request',
            requestedBy: customer,
          }),
        );
    });
  }

  it('an operator cancellation says so', () => {
    order
      .given(created)
      .when({ type: 'RequestCancellation', by: operator, reason: 'fraud' })
      .then(
        draft(EVENT_TYPE.orderCancellationRequested, {
          reasonCode: 'operator_request',
          requestedBy: operator,
          reason: 'fraud',
        }),
      );
  });

  for (const status of [ORDER_STATUS.cancelling, ORDER_STATUS.cancelled]) {
    it(`cancelling again when ${status} changes nothing`, () => {
      order
        .given(...REACH[status]!)
        .when({ type: 'RequestCancellation', by: customer, reason: 'again' })
        .thenNothing();
    });
  }

  for (const status of [ORDER_STATUS.shipped, ORDER_STATUS.delivered, ORDER_STATUS.completed]) {
    it(`cannot cancel once ${status}`, () => {
      order
        .given(...REACH[status]!)
        .when({ type: 'RequestCancellation', by: customer, reason: 'late' })
        .thenThrows(InvalidTransitionError, new RegExp(`${status} cannot be cancelled`));
    });
  }
});

describe('order: approval', () => {
  it('approve', () => {
    order
      .given(created, approvalRequested)
      .when({ type: 'DecideApproval', decision: 'approve', by: operator })
      .then(draft(EVENT_TYPE.orderApproved, { approvedBy: operator }));
  });

  it('reject needs a reason', () => {
    order
      .given(created, approvalRequested)
      .when({ type: 'DecideApproval', decision: 'reject', by: operator })
      .thenThrows(ValidationError, /needs a reason/);
    order
      .given(created, approvalRequested)
      .when({ type: 'DecideApproval', decision: 'reject', by: operator, reason: 'too big' })
      .then(draft(EVENT_TYPE.orderRejected, { rejectedBy: operator, reason: 'too big' }));
  });

  it('the same decision twice changes nothing; the opposite is refused', () => {
    order
      .given(created, approvalRequested, approved)
      .when({ type: 'DecideApproval', decision: 'approve', by: operator })
      .thenNothing();
    order
      .given(created, approvalRequested, approved)
      .when({ type: 'DecideApproval', decision: 'reject', by: operator, reason: 'changed' })
      .thenThrows(InvalidTransitionError, /not awaiting approval/);
  });

  it('no approval asked, none taken', () => {
    order
      .given(created)
      .when({ type: 'DecideApproval', decision: 'approve', by: operator })
      .thenThrows(InvalidTransitionError, /placed, not awaiting approval/);
  });

  const deadlines = SAMPLE_DATA[EVENT_TYPE.orderApprovalRequested];
  it('before the first deadline the timer does nothing', () => {
    order
      .given(created, approvalRequested)
      .when({ type: 'CheckApprovalDeadline', now: '2026-01-01T00:59:59.000Z' })
      .thenNothing();
  });
  it('after the first deadline the timer escalates, once', () => {
    order
      .given(created, approvalRequested)
      .when({ type: 'CheckApprovalDeadline', now: deadlines.escalateAt })
      .then(draft(EVENT_TYPE.orderApprovalEscalated, { expiresAt: deadlines.expiresAt }));
    order
      .given(created, approvalRequested, draft(EVENT_TYPE.orderApprovalEscalated))
      .when({ type: 'CheckApprovalDeadline', now: '2026-01-01T01:30:00.000Z' })
      .thenNothing();
  });
  it('after the second deadline the timer cancels', () => {
    order
      .given(created, approvalRequested, draft(EVENT_TYPE.orderApprovalEscalated))
      .when({ type: 'CheckApprovalDeadline', now: deadlines.expiresAt })
      .then(
        draft(EVENT_TYPE.orderCancellationRequested, {
          reasonCode: 'approval_timeout',
          requestedBy: { kind: 'system', id: 'timeouts' },
          reason: 'no approval decision before the deadline',
        }),
      );
  });
  it('the timer leaves decided orders alone', () => {
    order
      .given(created, approvalRequested, approved)
      .when({ type: 'CheckApprovalDeadline', now: '2030-01-01T00:00:00Z' })
      .thenNothing();
  });
});

describe('order: payment webhooks', () => {
  const processed = (data: Partial<{ paymentId: string; amountMinor: number }> = {}): OrderCommand => ({
    type: 'RecordPaymentProcessed',
    paymentId: 'pay_1',
    amountMinor: 2500,
    currency: 'EUR',
    providerEventId: 'evt_1',
    ...data,
  });
  const failed: OrderCommand = {
    type: 'RecordPaymentFailed',
    paymentId: 'pay_1',
    reason: 'card declined',
    providerEventId: 'evt_9',
  };

  it('records the outcome of the requested charge', () => {
    order
      .given(...REACH[ORDER_STATUS.paymentPending]!)
      .when(processed())
      .then(paymentProcessed);
    order
      .given(...REACH[ORDER_STATUS.paymentPending]!)
      .when(failed)
      .then({
        type: EVENT_TYPE.paymentFailed,
        data: { paymentId: 'pay_1', reason: 'card declined', providerEventId: 'evt_9' },
      });
  });

  it('a webhook ahead of the recorded charge is retryable, not an error', () => {
    order
      .given(created, reserved)
      .when(processed())
      .thenThrows(ConcurrencyError, /not recorded yet/);
  });

  it('a repeat is a no-op, also after a refund', () => {
    order
      .given(...REACH[ORDER_STATUS.paid]!)
      .when(processed())
      .thenNothing();
    order
      .given(
        ...REACH[ORDER_STATUS.paid]!,
        draft(EVENT_TYPE.orderCancellationRequested),
        draft(EVENT_TYPE.paymentRefunded),
      )
      .when(processed())
      .thenNothing();
  });

  it('a contradiction, another payment or another amount is refused', () => {
    order
      .given(...REACH[ORDER_STATUS.paid]!)
      .when(failed)
      .thenThrows(InvalidTransitionError, /already processed/);
    order
      .given(...REACH[ORDER_STATUS.paymentPending]!)
      .when(processed({ paymentId: 'pay_2' }))
      .thenThrows(InvalidTransitionError);
    order
      .given(...REACH[ORDER_STATUS.paymentPending]!)
      .when(processed({ amountMinor: 1 }))
      .thenThrows(ValidationError);
  });

  it('records the outcome while cancelling, so the saga can refund', () => {
    order
      .given(...REACH[ORDER_STATUS.paymentPending]!, draft(EVENT_TYPE.orderCancellationRequested))
      .when(processed())
      .then(paymentProcessed);
  });
});

describe('order: shipment webhooks', () => {
  const dispatch: OrderCommand = {
    type: 'RecordShipmentDispatched',
    shipmentId: 'shp_1',
    carrier: 'sandbox',
    trackingNumber: 'TRACK1',
    providerEventId: 'evt_2',
  };
  const deliver: OrderCommand = {
    type: 'RecordShipmentDelivered',
    shipmentId: 'shp_1',
    deliveredAt: '2026-01-02T00:00:00.000Z',
    providerEventId: 'evt_3',
  };
  const fail: OrderCommand = {
    type: 'RecordShipmentFailed',
    shipmentId: 'shp_1',
    reason: 'lost',
    providerEventId: 'evt_4',
  };

  it('dispatch then delivery', () => {
    order
      .given(...REACH[ORDER_STATUS.shipmentPending]!)
      .when(dispatch)
      .then(dispatched);
    order
      .given(...REACH[ORDER_STATUS.shipped]!)
      .when(deliver)
      .then(delivered);
  });

  it('delivery reported before dispatch is retryable', () => {
    order
      .given(...REACH[ORDER_STATUS.shipmentPending]!)
      .when(deliver)
      .thenThrows(ConcurrencyError);
  });

  it('repeats are no-ops', () => {
    order
      .given(...REACH[ORDER_STATUS.shipped]!)
      .when(dispatch)
      .thenNothing();
    order
      .given(...REACH[ORDER_STATUS.delivered]!)
      .when(dispatch)
      .thenNothing();
    order
      .given(...REACH[ORDER_STATUS.delivered]!)
      .when(deliver)
      .thenNothing();
  });

  it('a failure after dispatch is recorded; after delivery it is refused', () => {
    order
      .given(...REACH[ORDER_STATUS.shipped]!)
      .when(fail)
      .then({
        type: EVENT_TYPE.shipmentFailed,
        data: { shipmentId: 'shp_1', reason: 'lost', providerEventId: 'evt_4' },
      });
    order
      .given(...REACH[ORDER_STATUS.delivered]!)
      .when(fail)
      .thenThrows(InvalidTransitionError, /already delivered/);
  });

  it('a shipment of another order is refused', () => {
    order
      .given(...REACH[ORDER_STATUS.shipmentPending]!)
      .when({ ...dispatch, shipmentId: 'shp_x' })
      .thenThrows(InvalidTransitionError, /does not belong/);
  });
});
