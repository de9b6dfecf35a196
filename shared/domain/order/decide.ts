/**
 * What the order does when asked: `decide(state, command)` returns the events to record, [] when
 * the command is already satisfied (safe to run twice), or throws. Pure: time and ids arrive in the
 * command. Commands come from the API (place, cancel, approve), provider webhooks (payment and
 * shipment outcomes) and the timers (approval deadlines). The fulfilment saga has its own decider.
 */
import { EVENT_TYPE, type EventData, type EventType } from '#shared/contracts/events/index.ts';
import type { Actor, Address, PricedLine } from '#shared/contracts/values.ts';
import { ConcurrencyError, InvalidTransitionError, ValidationError } from '#shared/errors.ts';
import { ORDER_STATUS, type OrderState, type OrderStatus } from './state.ts';

/** An event the domain decided on, before it is given an id, sequence and envelope. */
export type Decision = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

export type OrderCommand =
  | {
      type: 'PlaceOrder';
      customerId: string;
      currency: string;
      lines: PricedLine[];
      shippingAddress: Address;
      channel: 'api' | 'inbound';
    }
  | { type: 'RequestCancellation'; by: Actor; reason: string }
  | { type: 'DecideApproval'; decision: 'approve' | 'reject'; by: Actor; reason?: string }
  | {
      type: 'RecordPaymentProcessed';
      paymentId: string;
      amountMinor: number;
      currency: string;
      providerEventId: string;
    }
  | {
      type: 'RecordPaymentFailed';
      paymentId: string;
      reason: string;
      declineCode?: string;
      providerEventId: string;
    }
  | {
      type: 'RecordShipmentDispatched';
      shipmentId: string;
      carrier: string;
      trackingNumber: string;
      providerEventId: string;
    }
  | { type: 'RecordShipmentDelivered'; shipmentId: string; deliveredAt: string; providerEventId: string }
  | { type: 'RecordShipmentFailed'; shipmentId: string; reason: string; providerEventId: string }
  /** Timer: `now` is the tick's time. */
  | { type: 'CheckApprovalDeadline'; now: string };

/** Statuses in which a cancellation can still undo everything (nothing has left the warehouse). */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = [
  ORDER_STATUS.placed,
  ORDER_STATUS.awaitingApproval,
  ORDER_STATUS.approved,
  ORDER_STATUS.reserved,
  ORDER_STATUS.paymentPending,
  ORDER_STATUS.paid,
  ORDER_STATUS.shipmentPending,
];

const TIMER: Actor = { kind: 'system', id: 'timeouts' };

export function decide(state: OrderState | undefined, command: OrderCommand): Decision[] {
  if (command.type === 'PlaceOrder') return placeOrder(state, command);
  if (!state) throw new InvalidTransitionError('none', command.type, 'the order does not exist');

  switch (command.type) {
    case 'RequestCancellation': {
      if (state.status === ORDER_STATUS.cancelling || state.status === ORDER_STATUS.cancelled) return [];
      if (!CANCELLABLE_STATUSES.includes(state.status)) {
        throw new InvalidTransitionError(
          state.status,
          'cancel',
          `an order that is ${state.status} cannot be cancelled`,
        );
      }
      const reasonCode = command.by.kind === 'operator' ? 'operator_request' : 'customer_request';
      return [
        {
          type: EVENT_TYPE.orderCancellationRequested,
          data: { reasonCode, requestedBy: command.by, reason: command.reason },
        },
      ];
    }

    case 'DecideApproval': {
      const decided = state.approval?.decision;
      const wanted = command.decision === 'approve' ? 'approved' : 'rejected';
      if (decided === wanted) return [];
      if (state.status !== ORDER_STATUS.awaitingApproval) {
        throw new InvalidTransitionError(
          state.status,
          command.decision,
          `the order is ${state.status}, not awaiting approval`,
        );
      }
      if (command.decision === 'approve') {
        return [
          {
            type: EVENT_TYPE.orderApproved,
            data: { approvedBy: command.by, ...(command.reason ? { reason: command.reason } : {}) },
          },
        ];
      }
      if (!command.reason)
        throw new ValidationError('a rejection needs a reason', [{ path: 'reason', message: 'required' }]);
      return [{ type: EVENT_TYPE.orderRejected, data: { rejectedBy: command.by, reason: command.reason } }];
    }

    case 'RecordPaymentProcessed': {
      const payment = expectPayment(state, command.paymentId, command.type);
      if (payment.status !== 'requested')
        return alreadyRecorded(payment.status, 'processed', command.type, state);
      if (command.amountMinor !== payment.amountMinor || command.currency !== state.currency) {
        throw new ValidationError('the processed amount differs from the amount charged', [
          { path: 'amountMinor', message: `expected ${payment.amountMinor} ${state.currency}` },
        ]);
      }
      return [
        {
          type: EVENT_TYPE.paymentProcessed,
          data: {
            paymentId: command.paymentId,
            amountMinor: command.amountMinor,
            currency: command.currency,
            providerEventId: command.providerEventId,
          },
        },
      ];
    }

    case 'RecordPaymentFailed': {
      const payment = expectPayment(state, command.paymentId, command.type);
      if (payment.status !== 'requested')
        return alreadyRecorded(payment.status, 'failed', command.type, state);
      return [
        {
          type: EVENT_TYPE.paymentFailed,
          data: {
            paymentId: command.paymentId,
            reason: command.reason,
            providerEventId: command.providerEventId,
            ...(command.declineCode ? { declineCode: command.declineCode } : {}),
          },
        },
      ];
    }

    case 'RecordShipmentDispatched': {
      const shipment = expectShipment(state, command.shipmentId, command.type);
      if (shipment.status !== 'requested')
        return alreadyRecorded(shipment.status, 'dispatched', command.type, state);
      return [
        {
          type: EVENT_TYPE.shipmentDispatched,
          data: {
            shipmentId: command.shipmentId,
            carrier: command.carrier,
            trackingNumber: command.trackingNumber,
            providerEventId: command.providerEventId,
          },
        },
      ];
    }

    case 'RecordShipmentDelivered': {
      const shipment = expectShipment(state, command.shipmentId, command.type);
      // Delivered before we heard of the dispatch: the carrier's webhooks crossed. Ask for it later.
      if (shipment.status === 'requested') throw notYet(`dispatch of shipment ${command.shipmentId}`);
      if (shipment.status !== 'dispatched')
        return alreadyRecorded(shipment.status, 'delivered', command.type, state);
      return [
        {
          type: EVENT_TYPE.shipmentDelivered,
          data: {
            shipmentId: command.shipmentId,
            deliveredAt: command.deliveredAt,
            providerEventId: command.providerEventId,
          },
        },
      ];
    }

    case 'RecordShipmentFailed': {
      const shipment = expectShipment(state, command.shipmentId, command.type);
      if (shipment.status !== 'requested' && shipment.status !== 'dispatched') {
        return alreadyRecorded(shipment.status, 'failed', command.type, state);
      }
      return [
        {
          type: EVENT_TYPE.shipmentFailed,
          data: {
            shipmentId: command.shipmentId,
            reason: command.reason,
            providerEventId: command.providerEventId,
          },
        },
      ];
    }

    case 'CheckApprovalDeadline': {
      const approval = state.approval;
      if (state.status !== ORDER_STATUS.awaitingApproval || !approval) return [];
      const now = Date.parse(command.now);
      if (now >= Date.parse(approval.expiresAt)) {
        return [
          {
            type: EVENT_TYPE.orderCancellationRequested,
            data: {
              reasonCode: 'approval_timeout',
              requestedBy: TIMER,
              reason: 'no approval decision before the deadline',
            },
          },
        ];
      }
      if (!approval.escalated && now >= Date.parse(approval.escalateAt)) {
        return [{ type: EVENT_TYPE.orderApprovalEscalated, data: { expiresAt: approval.expiresAt } }];
      }
      return [];
    }
  }
}

function placeOrder(
  state: OrderState | undefined,
  command: Extract<OrderCommand, { type: 'PlaceOrder' }>,
): Decision[] {
  if (state) throw new InvalidTransitionError(state.status, 'place', `order ${state.id} already exists`);
  const issues = command.lines.flatMap((line, index) =>
    command.lines.findIndex((other) => other.sku === line.sku) === index
      ? []
      : [{ path: `lines.${index}.sku`, message: `${line.sku} appears more than once` }],
  );
  if (command.lines.length === 0) issues.push({ path: 'lines', message: 'an order needs at least one line' });
  if (issues.length) throw new ValidationError('invalid order', issues);
  const totalMinor = command.lines.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
  return [
    {
      type: EVENT_TYPE.orderCreated,
      data: {
        customerId: command.customerId,
        currency: command.currency,
        lines: command.lines,
        totalMinor,
        shippingAddress: command.shippingAddress,
        channel: command.channel,
      },
    },
  ];
}

function expectPayment(state: OrderState, paymentId: string, command: string) {
  // The provider may report before the saga has recorded the charge it made: not an error, not yet.
  if (!state.payment) throw notYet(`payment ${paymentId}`);
  if (state.payment.paymentId !== paymentId) {
    throw new InvalidTransitionError(
      state.status,
      command,
      `payment ${paymentId} does not belong to order ${state.id}`,
    );
  }
  return state.payment;
}

function expectShipment(state: OrderState, shipmentId: string, command: string) {
  if (!state.shipment) throw notYet(`shipment ${shipmentId}`);
  if (state.shipment.shipmentId !== shipmentId) {
    throw new InvalidTransitionError(
      state.status,
      command,
      `shipment ${shipmentId} does not belong to order ${state.id}`,
    );
  }
  return state.shipment;
}

/** For each reported outcome, the recorded statuses that already include it (it happened, maybe more since). */
const INCLUDES: Readonly<Record<string, readonly string[]>> = {
  processed: ['processed', 'refunded', 'refund_failed'],
  failed: ['failed'],
  dispatched: ['dispatched', 'delivered'],
  delivered: ['delivered'],
};

/** A repeat of an outcome already recorded is a no-op; a contradicting one is an error. */
function alreadyRecorded(current: string, reported: string, command: string, state: OrderState): Decision[] {
  if (INCLUDES[reported]?.includes(current)) return [];
  throw new InvalidTransitionError(state.status, command, `already ${current}; cannot record ${reported}`);
}

/** The fact refers to a step not recorded yet (webhooks can overtake): retry later. */
function notYet(what: string): ConcurrencyError {
  return new ConcurrencyError(`${what} is not recorded yet; retry later`);
}
