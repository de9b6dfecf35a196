/** Events of the order itself: placed, approved or rejected, completed, cancelled. Subject = order id. */
import { z } from 'zod';
import {
  ActorSchema,
  AddressSchema,
  AmountMinorSchema,
  CurrencySchema,
  CustomerIdSchema,
  PricedLineSchema,
  TimestampSchema,
} from '../values.ts';

export const OrderCreatedSchema = z.object({
  customerId: CustomerIdSchema,
  currency: CurrencySchema,
  lines: z.array(PricedLineSchema).min(1).max(100),
  totalMinor: AmountMinorSchema,
  shippingAddress: AddressSchema,
  /** How the order came in: the HTTP API or an outside producer on inbound-events. */
  channel: z.enum(['api', 'inbound']),
});
export type OrderCreated = z.infer<typeof OrderCreatedSchema>;

export const OrderApprovalRequestedSchema = z.object({
  totalMinor: AmountMinorSchema,
  currency: CurrencySchema,
  thresholdMinor: AmountMinorSchema,
  /** No decision by then: escalate (notify a second approver). */
  escalateAt: TimestampSchema,
  /** No decision by then: cancel the order. */
  expiresAt: TimestampSchema,
});
export type OrderApprovalRequested = z.infer<typeof OrderApprovalRequestedSchema>;

export const OrderApprovalEscalatedSchema = z.object({ expiresAt: TimestampSchema });
export type OrderApprovalEscalated = z.infer<typeof OrderApprovalEscalatedSchema>;

export const OrderApprovedSchema = z.object({
  approvedBy: ActorSchema,
  reason: z.string().max(500).optional(),
});
export type OrderApproved = z.infer<typeof OrderApprovedSchema>;

export const OrderRejectedSchema = z.object({ rejectedBy: ActorSchema, reason: z.string().min(1).max(500) });
export type OrderRejected = z.infer<typeof OrderRejectedSchema>;

export const OrderCompletedSchema = z.object({ totalMinor: AmountMinorSchema, currency: CurrencySchema });
export type OrderCompleted = z.infer<typeof OrderCompletedSchema>;

export const CancellationReasonCodeSchema = z.enum([
  'customer_request',
  'operator_request',
  'approval_rejected',
  'approval_timeout',
  'out_of_stock',
  'payment_failed',
  'shipment_failed',
  'other',
]);
export type CancellationReasonCode = z.infer<typeof CancellationReasonCodeSchema>;

/** Someone (or a deadline) asked to cancel; the saga compensates what was done, then emits order.cancelled. */
export const OrderCancellationRequestedSchema = z.object({
  reasonCode: CancellationReasonCodeSchema.extract([
    'customer_request',
    'operator_request',
    'approval_timeout',
  ]),
  requestedBy: ActorSchema,
  reason: z.string().min(1).max(500),
});
export type OrderCancellationRequested = z.infer<typeof OrderCancellationRequestedSchema>;

/** The first version: a free-text reason only. Kept so old events and producers still parse. */
export const OrderCancelledV1Schema = z.object({ reason: z.string().min(1) });
export type OrderCancelledV1 = z.infer<typeof OrderCancelledV1Schema>;

/** Terminal: every compensation is done. `refundedMinor` is what was paid back (0 if nothing was charged). */
export const OrderCancelledSchema = z.object({
  reasonCode: CancellationReasonCodeSchema,
  reason: z.string().min(1).max(500),
  cancelledBy: ActorSchema,
  refundedMinor: AmountMinorSchema,
});
export type OrderCancelled = z.infer<typeof OrderCancelledSchema>;
