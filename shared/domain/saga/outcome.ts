/**
 * What to record once a saga command has been executed: its outcome as events. Pure.
 *
 * `state` is the order as it is when recording, which may be newer than when the command was
 * decided (a customer cancelled while the provider was being called): an effect that happened is
 * recorded whatever came in between, so that compensation knows about it; an outcome already
 * recorded (a redelivered message repeating the same provider call) is recorded nothing for.
 */
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { ValidationError } from '#shared/errors.ts';
import type { Decision } from '../order/decide.ts';
import type { OrderState } from '../order/state.ts';
import type { SagaCommandOf, SagaCommandType, SagaCommand, SagaOutcomeOf } from './commands.ts';
import { compensationStep } from './decide.ts';

type Recorder<T extends SagaCommandType> = (
  state: OrderState,
  command: SagaCommandOf<T>,
  outcome: SagaOutcomeOf<T>,
) => Decision[];

const RECORDERS: { [T in SagaCommandType]: Recorder<T> } = {
  RequestApproval(state, command) {
    if (state.approval || state.reservation || state.cancellation) return [];
    return [
      {
        type: EVENT_TYPE.orderApprovalRequested,
        data: {
          totalMinor: command.totalMinor,
          currency: command.currency,
          thresholdMinor: command.thresholdMinor,
          escalateAt: command.escalateAt,
          expiresAt: command.expiresAt,
        },
      },
    ];
  },

  ReserveInventory(state, command, outcome) {
    if (state.reservation) return [];
    if (outcome.status === 'reserved') {
      return [{ type: EVENT_TYPE.inventoryReserved, data: { lines: command.lines } }];
    }
    return [
      {
        type: EVENT_TYPE.inventoryReservationFailed,
        data: { reason: outcome.reason, shortages: outcome.shortages },
      },
    ];
  },

  ChargePayment(state, command, outcome) {
    if (state.payment) return [];
    const requested: Decision = {
      type: EVENT_TYPE.paymentRequested,
      data: {
        paymentId: outcome.paymentId,
        amountMinor: command.amountMinor,
        currency: command.currency,
        idempotencyKey: command.idempotencyKey,
      },
    };
    if (outcome.status === 'accepted') return [requested];
    return [
      requested,
      {
        type: EVENT_TYPE.paymentFailed,
        data: {
          paymentId: outcome.paymentId,
          reason: outcome.reason,
          ...(outcome.declineCode ? { declineCode: outcome.declineCode } : {}),
        },
      },
    ];
  },

  RequestShipment(state, command, outcome) {
    if (state.shipment) return [];
    if (outcome.status === 'accepted') {
      return [
        {
          type: EVENT_TYPE.shipmentRequested,
          data: {
            shipmentId: outcome.shipmentId,
            carrier: outcome.carrier,
            lines: command.lines,
            idempotencyKey: command.idempotencyKey,
          },
        },
      ];
    }
    // Nothing was shipped: a refusal matters only while the order still means to ship.
    if (state.cancellation) return [];
    return [{ type: EVENT_TYPE.shipmentFailed, data: { reason: outcome.reason } }];
  },

  CompleteOrder(state) {
    if (state.completedAt || state.cancelledAt || state.shipment?.status !== 'delivered') return [];
    return [
      { type: EVENT_TYPE.orderCompleted, data: { totalMinor: state.totalMinor, currency: state.currency } },
    ];
  },

  CancelShipment(state, command, outcome) {
    const { shipment } = state;
    if (shipment?.shipmentId !== command.shipmentId || shipment.status !== 'requested') return [];
    // Too late: the carrier has it. Its dispatch (or failure) webhook will tell the saga what to do.
    if (outcome.status === 'not_cancellable') return [];
    return [
      {
        type: EVENT_TYPE.shipmentCancelled,
        data: { shipmentId: command.shipmentId, reason: command.reason },
      },
    ];
  },

  RefundPayment(state, command, outcome) {
    const { payment } = state;
    if (payment?.paymentId !== command.paymentId || payment.status !== 'processed') return [];
    if (outcome.status === 'refunded') {
      return [
        {
          type: EVENT_TYPE.paymentRefunded,
          data: {
            paymentId: command.paymentId,
            refundId: outcome.refundId,
            amountMinor: command.amountMinor,
            currency: command.currency,
          },
        },
      ];
    }
    // A failed compensation is never swallowed: recorded, then escalated by the saga.
    return [
      {
        type: EVENT_TYPE.paymentRefundFailed,
        data: {
          paymentId: command.paymentId,
          amountMinor: command.amountMinor,
          currency: command.currency,
          reason: outcome.reason,
        },
      },
    ];
  },

  ReleaseInventory(state, command) {
    const { reservation } = state;
    if (reservation?.status !== 'reserved') return [];
    return [
      { type: EVENT_TYPE.inventoryReleased, data: { lines: reservation.lines, reason: command.reason } },
    ];
  },

  FinishCancellation(state) {
    // Finish only when nothing is left to undo, with the refund as recorded by then.
    const step = compensationStep(state);
    if (step?.kind !== 'next' || step.command.type !== 'FinishCancellation') return [];
    const { reasonCode, reason, cancelledBy, refundedMinor } = step.command;
    return [{ type: EVENT_TYPE.orderCancelled, data: { reasonCode, reason, cancelledBy, refundedMinor } }];
  },

  EscalateToOperator() {
    return [];
  },
};

/**
 * The events that record `outcome` of `command` on the order as it is now; [] when there is
 * nothing (more) to record. Record them with the order's version as the expected version.
 */
export function eventsForOutcome<C extends SagaCommand>(
  state: OrderState,
  command: C,
  outcome: SagaOutcomeOf<C['type']>,
): Decision[] {
  if (command.orderId !== state.id) {
    throw new ValidationError(
      `a command for order ${command.orderId} cannot be recorded on order ${state.id}`,
      [{ path: 'orderId', message: `expected ${state.id}` }],
    );
  }
  // Each recorder is typed for its command; the map lookup loses the link between key and value.
  const recorder = RECORDERS[command.type] as unknown as (
    state: OrderState,
    command: C,
    outcome: SagaOutcomeOf<C['type']>,
  ) => Decision[];
  return recorder(state, command, outcome);
}
