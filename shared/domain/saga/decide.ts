/**
 * The fulfilment saga as a decider. Given an order's state (folded by the order's `evolve`,
 * including the event that just happened) and that event, it decides the next step: approval,
 * reservation, charge, shipment, completion; or, once the order is cancelling, the compensations
 * in reverse order of what was done (cancel the shipment, refund the payment, release the
 * inventory) and then order.cancelled. Pure: the time arrives in the context.
 *
 * The next step is read from the recorded facts, never from the event alone, so each step is
 * taken only while the order still needs it: delivered at least once, a message that finds the
 * order already past it (a redelivery, a replay, an event overtaken by a later one) decides nothing.
 */
import type { DomainEvent } from '#shared/contracts/events/index.ts';
import { ConcurrencyError, ValidationError } from '#shared/errors.ts';
import type { CancellationState, OrderState } from '../order/state.ts';
import { idempotencyKey, SAGA_STEP, type SagaCommand } from './commands.ts';
import type { SagaConfig } from './config.ts';

export interface SagaContext {
  config: SagaConfig;
  /** The time of the decision (ISO 8601): approval deadlines are counted from it. */
  now: string;
}

/** What the saga waits for when it has nothing to do: someone outside must act first. */
export const SAGA_WAIT = {
  approval: 'approval',
  paymentOutcome: 'payment_outcome',
  shipmentDispatch: 'shipment_dispatch',
  shipmentDelivery: 'shipment_delivery',
} as const;
export type SagaWait = (typeof SAGA_WAIT)[keyof typeof SAGA_WAIT];

/** Where the saga stands for an order: a step to take, a named wait, or the end. */
export type SagaProgress =
  | { kind: 'next'; command: SagaCommand }
  | { kind: 'waiting'; on: SagaWait }
  | { kind: 'finished'; outcome: 'completed' | 'cancelled' };

/** Limit of the reason fields of the events the saga records. */
const REASON_MAX = 500;

/**
 * The saga's reaction to `event`, which must be recorded in `state` already. Returns at most one
 * command; [] when waiting, finished, or when the order has moved past this event (a later event
 * is on its way to the saga and will decide instead).
 */
export function decide(state: OrderState, event: DomainEvent, context: SagaContext): SagaCommand[] {
  if (event.subject !== state.id) {
    throw new ValidationError(`event ${event.id} is about order ${event.subject}, not ${state.id}`, [
      { path: 'subject', message: `expected ${state.id}` },
    ]);
  }
  if (event.sequence > state.version) {
    throw new ConcurrencyError(
      `order ${state.id} is at version ${state.version}, behind event ${event.sequence}; retry later`,
    );
  }
  if (event.sequence < state.version) return [];
  const progress = nextStep(state, context);
  return progress.kind === 'next' ? [progress.command] : [];
}

/** The next step for the order as recorded, whatever event led there. */
export function nextStep(state: OrderState, context: SagaContext): SagaProgress {
  if (state.cancelledAt) return { kind: 'finished', outcome: 'cancelled' };
  if (state.completedAt) return { kind: 'finished', outcome: 'completed' };
  return state.cancellation ? compensate(state, state.cancellation) : proceed(state, context);
}

/** The next compensation of a cancelling order; undefined when it is not cancelling (or finished). */
export function compensationStep(state: OrderState): SagaProgress | undefined {
  if (state.cancelledAt || state.completedAt || !state.cancellation) return undefined;
  return compensate(state, state.cancellation);
}

function proceed(state: OrderState, { config, now }: SagaContext): SagaProgress {
  const { approval, reservation, payment, shipment } = state;
  if (shipment) {
    switch (shipment.status) {
      case 'requested':
        return { kind: 'waiting', on: SAGA_WAIT.shipmentDispatch };
      case 'dispatched':
        return { kind: 'waiting', on: SAGA_WAIT.shipmentDelivery };
      case 'delivered':
        return next({
          type: 'CompleteOrder',
          orderId: state.id,
          totalMinor: state.totalMinor,
          currency: state.currency,
        });
      case 'failed':
      case 'cancelled':
        // A failure records a cancellation with it, and only compensation cancels a shipment.
        return unexpected(state, `shipment ${shipment.status} without a cancellation`);
    }
  }
  if (payment) {
    switch (payment.status) {
      case 'requested':
        return { kind: 'waiting', on: SAGA_WAIT.paymentOutcome };
      case 'processed':
        return next({
          type: 'RequestShipment',
          orderId: state.id,
          lines: requested(state),
          address: state.shippingAddress,
          idempotencyKey: idempotencyKey(state.id, SAGA_STEP.shipment),
        });
      case 'failed':
      case 'refunded':
      case 'refund_failed':
        return unexpected(state, `payment ${payment.status} without a cancellation`);
    }
  }
  if (reservation) {
    if (reservation.status !== 'reserved') {
      return unexpected(state, `reservation ${reservation.status} without a cancellation`);
    }
    return next({
      type: 'ChargePayment',
      orderId: state.id,
      amountMinor: state.totalMinor,
      currency: state.currency,
      idempotencyKey: idempotencyKey(state.id, SAGA_STEP.charge),
    });
  }
  if (approval) {
    if (approval.decision !== 'approved') return { kind: 'waiting', on: SAGA_WAIT.approval };
    return next({ type: 'ReserveInventory', orderId: state.id, lines: requested(state) });
  }
  if (state.totalMinor > config.approvalThresholdMinor) {
    const at = Date.parse(now);
    if (Number.isNaN(at)) {
      throw new ValidationError('the saga needs the time of its decision', [
        { path: 'now', message: 'expected an ISO 8601 timestamp' },
      ]);
    }
    return next({
      type: 'RequestApproval',
      orderId: state.id,
      totalMinor: state.totalMinor,
      currency: state.currency,
      thresholdMinor: config.approvalThresholdMinor,
      escalateAt: new Date(at + config.approvalEscalateAfterMs).toISOString(),
      expiresAt: new Date(at + config.approvalExpireAfterMs).toISOString(),
    });
  }
  return next({ type: 'ReserveInventory', orderId: state.id, lines: requested(state) });
}

/**
 * Undo what was done, latest first: the shipment, then the payment, then the reservation; each
 * once, because each looks at its own recorded status. Then finish the cancellation.
 */
function compensate(state: OrderState, cancellation: CancellationState): SagaProgress {
  const { reservation, payment, shipment } = state;
  const why = clip(`order cancelled (${cancellation.reasonCode})`);

  switch (shipment?.status) {
    case 'requested':
      return next({
        type: 'CancelShipment',
        orderId: state.id,
        shipmentId: shipment.shipmentId,
        reason: why,
        idempotencyKey: idempotencyKey(state.id, SAGA_STEP.cancelShipment),
      });
    // The cancellation came too late: the goods are on their way and the order runs to its end.
    case 'dispatched':
      return { kind: 'waiting', on: SAGA_WAIT.shipmentDelivery };
    case 'delivered':
      return next({
        type: 'CompleteOrder',
        orderId: state.id,
        totalMinor: state.totalMinor,
        currency: state.currency,
      });
    case 'failed':
    case 'cancelled':
    case undefined:
      break;
  }

  switch (payment?.status) {
    // The provider has not answered yet: refund once it reports the charge processed.
    case 'requested':
      return { kind: 'waiting', on: SAGA_WAIT.paymentOutcome };
    case 'processed':
      return next({
        type: 'RefundPayment',
        orderId: state.id,
        paymentId: payment.paymentId,
        amountMinor: payment.amountMinor,
        currency: state.currency,
        idempotencyKey: idempotencyKey(state.id, SAGA_STEP.refund),
      });
    // Stop here: the customer's money is still held, so an operator decides (refund by hand, or
    // fulfil after all); the reservation stays so that fulfilling remains possible.
    case 'refund_failed':
      return next({
        type: 'EscalateToOperator',
        orderId: state.id,
        reason: clip(
          `refund of payment ${payment.paymentId} (${payment.amountMinor} ${state.currency}) failed: ${payment.failureReason ?? 'no reason given'}`,
        ),
      });
    case 'failed':
    case 'refunded':
    case undefined:
      break;
  }

  if (reservation?.status === 'reserved') {
    return next({ type: 'ReleaseInventory', orderId: state.id, lines: reservation.lines, reason: why });
  }

  return next({
    type: 'FinishCancellation',
    orderId: state.id,
    reasonCode: cancellation.reasonCode,
    reason: clip(cancellation.reason),
    cancelledBy: cancellation.requestedBy,
    refundedMinor: state.refundedMinor,
  });
}

function next(command: SagaCommand): SagaProgress {
  return { kind: 'next', command };
}

/** Facts the saga never produces together: stop and hand the order to an operator. */
function unexpected(state: OrderState, what: string): SagaProgress {
  return next({
    type: 'EscalateToOperator',
    orderId: state.id,
    reason: clip(`order ${state.id} is in a state the saga cannot continue from: ${what}`),
  });
}

function requested(state: OrderState) {
  return state.lines.map(({ sku, quantity }) => ({ sku, quantity }));
}

function clip(text: string): string {
  return text.length <= REASON_MAX ? text : `${text.slice(0, REASON_MAX - 1)}…`;
}
