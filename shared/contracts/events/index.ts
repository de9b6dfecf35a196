/**
 * Every event type Conveyor knows, one schema per versioned type, and the upcasters that turn an
 * older version into the current one. Parse every event through `parseEvent`: consumers then see
 * only current shapes.
 */
import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from '#shared/errors.ts';
import { EnvelopeSchema, type Envelope, type Event } from '../envelope.ts';
import {
  InventoryReleasedSchema,
  InventoryReservationFailedSchema,
  InventoryReservedSchema,
} from './inventory.ts';
import {
  OrderApprovalEscalatedSchema,
  OrderApprovalRequestedSchema,
  OrderApprovedSchema,
  OrderCancellationRequestedSchema,
  OrderCancelledSchema,
  OrderCancelledV1Schema,
  OrderCompletedSchema,
  OrderCreatedSchema,
  OrderRejectedSchema,
  type OrderCancelled,
} from './order.ts';
import {
  PaymentFailedSchema,
  PaymentProcessedSchema,
  PaymentRefundedSchema,
  PaymentRefundFailedSchema,
  PaymentRequestedSchema,
} from './payment.ts';
import {
  ShipmentCancelledSchema,
  ShipmentDeliveredSchema,
  ShipmentDispatchedSchema,
  ShipmentFailedSchema,
  ShipmentRequestedSchema,
} from './shipment.ts';

/** The current version of every event type. */
export const EVENT_TYPE = {
  orderCreated: 'order.created.v1',
  orderApprovalRequested: 'order.approval_requested.v1',
  orderApprovalEscalated: 'order.approval_escalated.v1',
  orderApproved: 'order.approved.v1',
  orderRejected: 'order.rejected.v1',
  orderCancellationRequested: 'order.cancellation_requested.v1',
  orderCompleted: 'order.completed.v1',
  orderCancelled: 'order.cancelled.v2',
  inventoryReserved: 'inventory.reserved.v1',
  inventoryReservationFailed: 'inventory.reservation_failed.v1',
  inventoryReleased: 'inventory.released.v1',
  paymentRequested: 'payment.requested.v1',
  paymentProcessed: 'payment.processed.v1',
  paymentFailed: 'payment.failed.v1',
  paymentRefunded: 'payment.refunded.v1',
  paymentRefundFailed: 'payment.refund_failed.v1',
  shipmentRequested: 'shipment.requested.v1',
  shipmentDispatched: 'shipment.dispatched.v1',
  shipmentDelivered: 'shipment.delivered.v1',
  shipmentFailed: 'shipment.failed.v1',
  shipmentCancelled: 'shipment.cancelled.v1',
} as const;

export const EVENT_SCHEMAS = {
  [EVENT_TYPE.orderCreated]: OrderCreatedSchema,
  [EVENT_TYPE.orderApprovalRequested]: OrderApprovalRequestedSchema,
  [EVENT_TYPE.orderApprovalEscalated]: OrderApprovalEscalatedSchema,
  [EVENT_TYPE.orderApproved]: OrderApprovedSchema,
  [EVENT_TYPE.orderRejected]: OrderRejectedSchema,
  [EVENT_TYPE.orderCancellationRequested]: OrderCancellationRequestedSchema,
  [EVENT_TYPE.orderCompleted]: OrderCompletedSchema,
  [EVENT_TYPE.orderCancelled]: OrderCancelledSchema,
  [EVENT_TYPE.inventoryReserved]: InventoryReservedSchema,
  [EVENT_TYPE.inventoryReservationFailed]: InventoryReservationFailedSchema,
  [EVENT_TYPE.inventoryReleased]: InventoryReleasedSchema,
  [EVENT_TYPE.paymentRequested]: PaymentRequestedSchema,
  [EVENT_TYPE.paymentProcessed]: PaymentProcessedSchema,
  [EVENT_TYPE.paymentFailed]: PaymentFailedSchema,
  [EVENT_TYPE.paymentRefunded]: PaymentRefundedSchema,
  [EVENT_TYPE.paymentRefundFailed]: PaymentRefundFailedSchema,
  [EVENT_TYPE.shipmentRequested]: ShipmentRequestedSchema,
  [EVENT_TYPE.shipmentDispatched]: ShipmentDispatchedSchema,
  [EVENT_TYPE.shipmentDelivered]: ShipmentDeliveredSchema,
  [EVENT_TYPE.shipmentFailed]: ShipmentFailedSchema,
  [EVENT_TYPE.shipmentCancelled]: ShipmentCancelledSchema,
} as const;

export type EventType = keyof typeof EVENT_SCHEMAS;
export type EventData<T extends EventType> = z.infer<(typeof EVENT_SCHEMAS)[T]>;
/** Any current event, discriminated by `type`. */
export type DomainEvent = { [T in EventType]: Event<T, EventData<T>> }[EventType];
/** The event of one type. */
export type DomainEventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_SCHEMAS, type);
}

/** Turns one older version's data into the next version's; chained until a current type is reached. */
interface Upcaster {
  to: string;
  schema: z.ZodType;
  up(data: never, envelope: Envelope): unknown;
}

export const UPCASTERS: Readonly<Record<string, Upcaster>> = {
  'order.cancelled.v1': {
    to: EVENT_TYPE.orderCancelled,
    schema: OrderCancelledV1Schema,
    // v1 knew only a free-text reason; who cancelled and what was refunded were not recorded.
    up: (data: z.infer<typeof OrderCancelledV1Schema>): OrderCancelled => ({
      reasonCode: 'other',
      reason: data.reason,
      cancelledBy: { kind: 'system', id: 'unrecorded' },
      refundedMinor: 0,
    }),
  },
};

/**
 * Validates a raw envelope and its data, upcasting older versions to the current one. Throws
 * ValidationError naming every problem (a permanent failure: dead-letter, do not retry).
 */
export function parseEvent(raw: unknown): DomainEvent {
  const envelope = EnvelopeSchema.safeParse(raw);
  if (!envelope.success) {
    throw new ValidationError('invalid event envelope', issuesOf(envelope.error, ''));
  }
  let { type, data } = envelope.data as { type: string; data: unknown };
  for (let hops = 0; !isEventType(type); hops++) {
    const upcaster = UPCASTERS[type];
    if (!upcaster || hops > 10) {
      throw new ValidationError(`unknown event type ${type}`, [
        { path: 'type', message: `unknown event type ${type}` },
      ]);
    }
    const old = upcaster.schema.safeParse(data);
    if (!old.success) throw new ValidationError(`invalid ${type} data`, issuesOf(old.error, 'data'));
    data = upcaster.up(old.data as never, envelope.data);
    type = upcaster.to;
  }
  const parsed = EVENT_SCHEMAS[type].safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${type} data`, issuesOf(parsed.error, 'data'));
  return { ...envelope.data, type, data: parsed.data } as DomainEvent;
}

export function issuesOf(error: z.ZodError, prefix: string): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)',
    message: issue.message,
  }));
}

/** What the writer of an event knows besides its type and data; ids and time are injected. */
export interface EventMetadata {
  id: string;
  time: string;
  sequence: number;
  source: string;
  correlationId: string;
  causationId?: string;
  traceparent?: string;
}

/** Wraps domain data in its CloudEvents envelope. Pure: every id and the time come in `meta`. */
export function envelop<T extends EventType>(
  orderId: string,
  type: T,
  data: EventData<T>,
  meta: EventMetadata,
): DomainEventOf<T> {
  return {
    specversion: '1.0',
    id: meta.id,
    source: meta.source,
    type,
    subject: orderId,
    time: meta.time,
    datacontenttype: 'application/json',
    sequence: meta.sequence,
    correlationid: meta.correlationId,
    ...(meta.causationId ? { causationid: meta.causationId } : {}),
    ...(meta.traceparent ? { traceparent: meta.traceparent } : {}),
    data,
  } as unknown as DomainEventOf<T>;
}
