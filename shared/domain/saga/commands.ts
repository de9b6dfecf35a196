/**
 * The steps the saga can take, as commands its function executes with effects (Postgres for
 * inventory, the payment and shipping providers over HTTP), and the outcome each execution reports
 * back. Outcomes are results, not exceptions: a decline or a refusal is an outcome; a transport
 * failure is thrown by the adapter and retried by redelivery.
 */
import type { CancellationReasonCode } from '#shared/contracts/events/order.ts';
import type { Actor, Address, RequestedLine } from '#shared/contracts/values.ts';

/** Wait for an operator's decision; the deadlines are computed from the injected `now`. */
export interface RequestApproval {
  type: 'RequestApproval';
  orderId: string;
  totalMinor: number;
  currency: string;
  thresholdMinor: number;
  escalateAt: string;
  expiresAt: string;
}

/** Reserve every line or none (the inventory adapter does it in one transaction). */
export interface ReserveInventory {
  type: 'ReserveInventory';
  orderId: string;
  lines: RequestedLine[];
}

export interface ChargePayment {
  type: 'ChargePayment';
  orderId: string;
  amountMinor: number;
  currency: string;
  idempotencyKey: string;
}

export interface RequestShipment {
  type: 'RequestShipment';
  orderId: string;
  lines: RequestedLine[];
  address: Address;
  idempotencyKey: string;
}

/** Record that the order is done: no effect outside the order. */
export interface CompleteOrder {
  type: 'CompleteOrder';
  orderId: string;
  totalMinor: number;
  currency: string;
}

/** Compensation: cancel a shipment the carrier has not dispatched yet. */
export interface CancelShipment {
  type: 'CancelShipment';
  orderId: string;
  shipmentId: string;
  reason: string;
  idempotencyKey: string;
}

/** Compensation: pay back a processed charge in full. */
export interface RefundPayment {
  type: 'RefundPayment';
  orderId: string;
  paymentId: string;
  amountMinor: number;
  currency: string;
  idempotencyKey: string;
}

/** Compensation: give the reserved units back. */
export interface ReleaseInventory {
  type: 'ReleaseInventory';
  orderId: string;
  lines: RequestedLine[];
  reason: string;
}

/** Every compensation is done: record order.cancelled. No effect outside the order. */
export interface FinishCancellation {
  type: 'FinishCancellation';
  orderId: string;
  reasonCode: CancellationReasonCode;
  reason: string;
  cancelledBy: Actor;
  refundedMinor: number;
}

/**
 * The saga cannot go on by itself (a compensation failed): the function dead-letters the message
 * with this reason for an operator and records nothing. The order stays as the failure left it.
 */
export interface EscalateToOperator {
  type: 'EscalateToOperator';
  orderId: string;
  reason: string;
}

export type SagaCommand =
  | RequestApproval
  | ReserveInventory
  | ChargePayment
  | RequestShipment
  | CompleteOrder
  | CancelShipment
  | RefundPayment
  | ReleaseInventory
  | FinishCancellation
  | EscalateToOperator;
export type SagaCommandType = SagaCommand['type'];
export type SagaCommandOf<T extends SagaCommandType> = Extract<SagaCommand, { type: T }>;

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

/** For steps whose only effect is the event they record. */
export interface Done {
  status: 'done';
}

export type ReserveInventoryOutcome =
  | { status: 'reserved' }
  | { status: 'unavailable'; reason: 'out_of_stock' | 'unknown_sku'; shortages: Shortage[] };

/** The provider accepted the charge; its outcome arrives later by webhook. A decline is final. */
export type ChargePaymentOutcome =
  | { status: 'accepted'; paymentId: string }
  | { status: 'declined'; paymentId: string; reason: string; declineCode?: string };

/** The carrier accepted the shipment; dispatch and delivery arrive later by webhook. */
export type RequestShipmentOutcome =
  { status: 'accepted'; shipmentId: string; carrier: string } | { status: 'refused'; reason: string };

/** `not_cancellable`: the carrier has it already; its webhooks will say what became of it. */
export type CancelShipmentOutcome = { status: 'cancelled' } | { status: 'not_cancellable'; reason: string };

/** `refused`: the provider will not pay back (a failed compensation: an operator must act). */
export type RefundPaymentOutcome =
  { status: 'refunded'; refundId: string } | { status: 'refused'; reason: string };

export type ReleaseInventoryOutcome = { status: 'released' };

/** What executing each command can report. */
export interface SagaOutcomes {
  RequestApproval: Done;
  ReserveInventory: ReserveInventoryOutcome;
  ChargePayment: ChargePaymentOutcome;
  RequestShipment: RequestShipmentOutcome;
  CompleteOrder: Done;
  CancelShipment: CancelShipmentOutcome;
  RefundPayment: RefundPaymentOutcome;
  ReleaseInventory: ReleaseInventoryOutcome;
  FinishCancellation: Done;
  EscalateToOperator: Done;
}
export type SagaOutcomeOf<T extends SagaCommandType> = SagaOutcomes[T];

/** The provider calls of the saga; each has one idempotency key per order. */
export const SAGA_STEP = {
  charge: 'charge',
  shipment: 'shipment',
  refund: 'refund',
  cancelShipment: 'cancel-shipment',
} as const;
export type SagaStep = (typeof SAGA_STEP)[keyof typeof SAGA_STEP];

/**
 * The Idempotency-Key of one provider call: derived from order and step only, so a redelivered
 * message, a retry or a replay repeats the same call and the provider answers it once.
 */
export function idempotencyKey(orderId: string, step: SagaStep): string {
  return `${orderId}:${step}`;
}
