/**
 * The state of one order, built by folding its events with `evolve`. Pure: no I/O, no clock.
 * `status` is derived from the facts recorded so far rather than set by each event, so it can never
 * disagree with them.
 */
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import type { CancellationReasonCode } from '#shared/contracts/events/order.ts';
import type { Actor, Address, PricedLine, RequestedLine } from '#shared/contracts/values.ts';
import { InvalidTransitionError } from '#shared/errors.ts';

export const ORDER_STATUS = {
  /** Accepted; the saga decides between approval and reservation. */
  placed: 'placed',
  awaitingApproval: 'awaiting_approval',
  approved: 'approved',
  reserved: 'reserved',
  paymentPending: 'payment_pending',
  paid: 'paid',
  shipmentPending: 'shipment_pending',
  shipped: 'shipped',
  delivered: 'delivered',
  completed: 'completed',
  /** Something failed or someone cancelled: compensations are running. */
  cancelling: 'cancelling',
  cancelled: 'cancelled',
} as const;
export type OrderStatus = (typeof ORDER_STATUS)[keyof typeof ORDER_STATUS];
export const ORDER_STATUSES = Object.values(ORDER_STATUS);

export const TERMINAL_STATUSES: readonly OrderStatus[] = [ORDER_STATUS.completed, ORDER_STATUS.cancelled];

export interface ApprovalState {
  thresholdMinor: number;
  escalateAt: string;
  expiresAt: string;
  escalated: boolean;
  decision?: 'approved' | 'rejected';
  decidedBy?: Actor;
}

export interface ReservationState {
  status: 'reserved' | 'failed' | 'released';
  lines: RequestedLine[];
}

export interface PaymentState {
  paymentId: string;
  amountMinor: number;
  status: 'requested' | 'processed' | 'failed' | 'refunded' | 'refund_failed';
  refundId?: string;
  failureReason?: string;
}

export interface ShipmentState {
  shipmentId: string;
  carrier: string;
  status: 'requested' | 'dispatched' | 'delivered' | 'failed' | 'cancelled';
  trackingNumber?: string;
  failureReason?: string;
}

export interface CancellationState {
  reasonCode: CancellationReasonCode;
  reason: string;
  requestedBy: Actor;
}

export interface OrderState {
  id: string;
  status: OrderStatus;
  /** Sequence of the last event applied. */
  version: number;
  customerId: string;
  currency: string;
  lines: PricedLine[];
  totalMinor: number;
  shippingAddress: Address;
  channel: 'api' | 'inbound';
  createdAt: string;
  updatedAt: string;
  approval?: ApprovalState;
  reservation?: ReservationState;
  payment?: PaymentState;
  shipment?: ShipmentState;
  cancellation?: CancellationState;
  refundedMinor: number;
  completedAt?: string;
  cancelledAt?: string;
}

const SYSTEM: Actor = { kind: 'system', id: 'saga' };

/** Applies one event. The first event of an order must be order.created; sequences must follow on. */
export function evolve(state: OrderState | undefined, event: DomainEvent): OrderState {
  if (event.type === EVENT_TYPE.orderCreated) {
    if (state) throw new InvalidTransitionError(state.status, event.type, `order ${state.id} already exists`);
    const { data } = event;
    return {
      id: event.subject,
      status: ORDER_STATUS.placed,
      version: event.sequence,
      customerId: data.customerId,
      currency: data.currency,
      lines: data.lines,
      totalMinor: data.totalMinor,
      shippingAddress: data.shippingAddress,
      channel: data.channel,
      createdAt: event.time,
      updatedAt: event.time,
      refundedMinor: 0,
    };
  }
  if (!state)
    throw new InvalidTransitionError('none', event.type, `${event.type} for an order that does not exist`);
  if (event.sequence !== state.version + 1) {
    throw new InvalidTransitionError(
      state.status,
      event.type,
      `event ${event.sequence} does not follow version ${state.version} of order ${state.id}`,
    );
  }
  return withStatus({ ...apply(state, event), version: event.sequence, updatedAt: event.time });
}

/** Folds a whole history; undefined for an empty one. */
export function replay(events: readonly DomainEvent[]): OrderState | undefined {
  return events.reduce<OrderState | undefined>(evolve, undefined);
}

function apply(state: OrderState, event: DomainEvent): OrderState {
  switch (event.type) {
    case EVENT_TYPE.orderCreated:
      return state; // handled by evolve
    case EVENT_TYPE.orderApprovalRequested:
      return {
        ...state,
        approval: {
          thresholdMinor: event.data.thresholdMinor,
          escalateAt: event.data.escalateAt,
          expiresAt: event.data.expiresAt,
          escalated: false,
        },
      };
    case EVENT_TYPE.orderApprovalEscalated:
      return { ...state, approval: { ...required(state.approval, state, event.type), escalated: true } };
    case EVENT_TYPE.orderApproved:
      return {
        ...state,
        approval: {
          ...required(state.approval, state, event.type),
          decision: 'approved',
          decidedBy: event.data.approvedBy,
        },
      };
    case EVENT_TYPE.orderRejected:
      return {
        ...state,
        approval: {
          ...required(state.approval, state, event.type),
          decision: 'rejected',
          decidedBy: event.data.rejectedBy,
        },
        cancellation: state.cancellation ?? {
          reasonCode: 'approval_rejected',
          reason: event.data.reason,
          requestedBy: event.data.rejectedBy,
        },
      };
    case EVENT_TYPE.orderCancellationRequested:
      return {
        ...state,
        cancellation: state.cancellation ?? {
          reasonCode: event.data.reasonCode,
          reason: event.data.reason,
          requestedBy: event.data.requestedBy,
        },
      };
    case EVENT_TYPE.inventoryReserved:
      return { ...state, reservation: { status: 'reserved', lines: event.data.lines } };
    case EVENT_TYPE.inventoryReservationFailed:
      return {
        ...state,
        reservation: { status: 'failed', lines: [] },
        cancellation: state.cancellation ?? {
          reasonCode: 'out_of_stock',
          reason: describeShortages(event.data.shortages),
          requestedBy: SYSTEM,
        },
      };
    case EVENT_TYPE.inventoryReleased:
      return {
        ...state,
        reservation: { ...required(state.reservation, state, event.type), status: 'released' },
      };
    case EVENT_TYPE.paymentRequested:
      return {
        ...state,
        payment: {
          paymentId: event.data.paymentId,
          amountMinor: event.data.amountMinor,
          status: 'requested',
        },
      };
    case EVENT_TYPE.paymentProcessed:
      return { ...state, payment: { ...required(state.payment, state, event.type), status: 'processed' } };
    case EVENT_TYPE.paymentFailed:
      return {
        ...state,
        payment: {
          ...required(state.payment, state, event.type),
          status: 'failed',
          failureReason: event.data.reason,
        },
        cancellation: state.cancellation ?? {
          reasonCode: 'payment_failed',
          reason: event.data.reason,
          requestedBy: SYSTEM,
        },
      };
    case EVENT_TYPE.paymentRefunded:
      return {
        ...state,
        payment: {
          ...required(state.payment, state, event.type),
          status: 'refunded',
          refundId: event.data.refundId,
        },
        refundedMinor: state.refundedMinor + event.data.amountMinor,
      };
    case EVENT_TYPE.paymentRefundFailed:
      return {
        ...state,
        payment: {
          ...required(state.payment, state, event.type),
          status: 'refund_failed',
          failureReason: event.data.reason,
        },
      };
    case EVENT_TYPE.shipmentRequested:
      return {
        ...state,
        shipment: { shipmentId: event.data.shipmentId, carrier: event.data.carrier, status: 'requested' },
      };
    case EVENT_TYPE.shipmentDispatched:
      return {
        ...state,
        shipment: {
          ...required(state.shipment, state, event.type),
          status: 'dispatched',
          trackingNumber: event.data.trackingNumber,
        },
      };
    case EVENT_TYPE.shipmentDelivered:
      return { ...state, shipment: { ...required(state.shipment, state, event.type), status: 'delivered' } };
    case EVENT_TYPE.shipmentFailed:
      return {
        ...state,
        ...(state.shipment
          ? { shipment: { ...state.shipment, status: 'failed' as const, failureReason: event.data.reason } }
          : {}),
        cancellation: state.cancellation ?? {
          reasonCode: 'shipment_failed',
          reason: event.data.reason,
          requestedBy: SYSTEM,
        },
      };
    case EVENT_TYPE.shipmentCancelled:
      return { ...state, shipment: { ...required(state.shipment, state, event.type), status: 'cancelled' } };
    case EVENT_TYPE.orderCompleted:
      return { ...state, completedAt: event.time };
    case EVENT_TYPE.orderCancelled:
      return {
        ...state,
        cancelledAt: event.time,
        cancellation: state.cancellation ?? {
          reasonCode: event.data.reasonCode,
          reason: event.data.reason,
          requestedBy: event.data.cancelledBy,
        },
      };
  }
}

/** The status that the recorded facts imply. */
function withStatus(state: OrderState): OrderState {
  return { ...state, status: deriveStatus(state) };
}

function deriveStatus(state: OrderState): OrderStatus {
  if (state.cancelledAt) return ORDER_STATUS.cancelled;
  if (state.completedAt) return ORDER_STATUS.completed;
  if (state.cancellation) return ORDER_STATUS.cancelling;
  if (state.shipment?.status === 'delivered') return ORDER_STATUS.delivered;
  if (state.shipment?.status === 'dispatched') return ORDER_STATUS.shipped;
  if (state.shipment?.status === 'requested') return ORDER_STATUS.shipmentPending;
  if (state.payment?.status === 'processed') return ORDER_STATUS.paid;
  if (state.payment?.status === 'requested') return ORDER_STATUS.paymentPending;
  if (state.reservation?.status === 'reserved') return ORDER_STATUS.reserved;
  if (state.approval?.decision === 'approved') return ORDER_STATUS.approved;
  if (state.approval) return ORDER_STATUS.awaitingApproval;
  return ORDER_STATUS.placed;
}

function required<T>(value: T | undefined, state: OrderState, type: string): T {
  if (value === undefined) {
    throw new InvalidTransitionError(
      state.status,
      type,
      `${type} before the step it completes (order ${state.id})`,
    );
  }
  return value;
}

function describeShortages(
  shortages: readonly { sku: string; requested: number; available: number }[],
): string {
  return `out of stock: ${shortages.map((s) => `${s.sku} (asked ${s.requested}, have ${s.available})`).join(', ')}`;
}
