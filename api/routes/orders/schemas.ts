/** The order API's request and response shapes: one zod schema per boundary. */
import { z } from 'zod';
import { CancellationReasonCodeSchema } from '#shared/contracts/events/order.ts';
import { EnvelopeSchema } from '#shared/contracts/envelope.ts';
import {
  ActorSchema,
  AddressSchema,
  AmountMinorSchema,
  CurrencySchema,
  CustomerIdSchema,
  OrderIdSchema,
  PricedLineSchema,
  RequestedLineSchema,
  TimestampSchema,
} from '#shared/contracts/values.ts';
import { ORDER_STATUSES, type OrderState, type OrderStatus } from '#shared/domain/order/index.ts';
import { CursorSchema, LimitSchema } from '../../http.ts';

export const OrderStatusSchema = z.enum(ORDER_STATUSES as [OrderStatus, ...OrderStatus[]]);

export const PlaceOrderBodySchema = z
  .strictObject({
    customerId: CustomerIdSchema,
    currency: CurrencySchema,
    lines: z.array(z.strictObject(RequestedLineSchema.shape)).min(1).max(100),
    shippingAddress: z.strictObject(AddressSchema.shape),
  })
  .meta({ id: 'PlaceOrder', description: 'What to order; prices come from the catalogue.' });
export type PlaceOrderBody = z.infer<typeof PlaceOrderBodySchema>;

export const IdempotencyHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'expected 1-255 visible ASCII characters')
    .describe('Unique per intended order (a UUID is a good choice): a retry with it never orders twice.'),
});

export const OrderIdParamsSchema = z.object({
  id: OrderIdSchema.transform((id) => id.toLowerCase()),
});

export const OrderSchema = z
  .object({
    id: OrderIdSchema,
    status: OrderStatusSchema,
    version: z.number().int().min(1).describe('Increases with every change; the ETag.'),
    customerId: CustomerIdSchema,
    currency: CurrencySchema,
    lines: z.array(PricedLineSchema),
    totalMinor: AmountMinorSchema,
    shippingAddress: AddressSchema,
    channel: z.enum(['api', 'inbound']),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
    approval: z
      .object({
        escalateAt: TimestampSchema,
        expiresAt: TimestampSchema,
        escalated: z.boolean(),
        decision: z.enum(['approved', 'rejected']).optional(),
        decidedBy: ActorSchema.optional(),
      })
      .optional(),
    payment: z
      .object({
        paymentId: z.string(),
        amountMinor: AmountMinorSchema,
        status: z.enum(['requested', 'processed', 'failed', 'refunded', 'refund_failed']),
      })
      .optional(),
    shipment: z
      .object({
        shipmentId: z.string(),
        carrier: z.string(),
        status: z.enum(['requested', 'dispatched', 'delivered', 'failed', 'cancelled']),
        trackingNumber: z.string().optional(),
      })
      .optional(),
    cancellation: z
      .object({ reasonCode: CancellationReasonCodeSchema, reason: z.string(), requestedBy: ActorSchema })
      .optional(),
    refundedMinor: AmountMinorSchema,
    completedAt: TimestampSchema.optional(),
    cancelledAt: TimestampSchema.optional(),
  })
  .meta({ id: 'Order' });
export type Order = z.infer<typeof OrderSchema>;

/** The public view of an order's state: explicit, so internal state can change without breaking clients. */
export function toOrder(state: OrderState): Order {
  return {
    id: state.id,
    status: state.status,
    version: state.version,
    customerId: state.customerId,
    currency: state.currency,
    lines: state.lines.map((line) => ({
      sku: line.sku,
      quantity: line.quantity,
      unitPriceMinor: line.unitPriceMinor,
    })),
    totalMinor: state.totalMinor,
    shippingAddress: state.shippingAddress,
    channel: state.channel,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    ...(state.approval
      ? {
          approval: {
            escalateAt: state.approval.escalateAt,
            expiresAt: state.approval.expiresAt,
            escalated: state.approval.escalated,
            ...(state.approval.decision ? { decision: state.approval.decision } : {}),
            ...(state.approval.decidedBy ? { decidedBy: state.approval.decidedBy } : {}),
          },
        }
      : {}),
    ...(state.payment
      ? {
          payment: {
            paymentId: state.payment.paymentId,
            amountMinor: state.payment.amountMinor,
            status: state.payment.status,
          },
        }
      : {}),
    ...(state.shipment
      ? {
          shipment: {
            shipmentId: state.shipment.shipmentId,
            carrier: state.shipment.carrier,
            status: state.shipment.status,
            ...(state.shipment.trackingNumber ? { trackingNumber: state.shipment.trackingNumber } : {}),
          },
        }
      : {}),
    ...(state.cancellation
      ? {
          cancellation: {
            reasonCode: state.cancellation.reasonCode,
            reason: state.cancellation.reason,
            requestedBy: state.cancellation.requestedBy,
          },
        }
      : {}),
    refundedMinor: state.refundedMinor,
    ...(state.completedAt ? { completedAt: state.completedAt } : {}),
    ...(state.cancelledAt ? { cancelledAt: state.cancelledAt } : {}),
  };
}

export const ListOrdersQuerySchema = z.strictObject({
  status: OrderStatusSchema.optional(),
  customerId: CustomerIdSchema.optional(),
  createdAfter: TimestampSchema.optional().describe('Only orders created at or after this instant.'),
  createdBefore: TimestampSchema.optional().describe('Only orders created before this instant.'),
  limit: LimitSchema,
  cursor: CursorSchema.optional(),
});

export const OrderPageSchema = z
  .object({
    items: z.array(OrderSchema),
    nextCursor: z.string().optional().describe('Absent on the last page.'),
  })
  .meta({ id: 'OrderPage' });

/** What is inside an orders cursor. */
export const OrderCursorSchema = z.object({ c: TimestampSchema, i: OrderIdSchema });

export const OrderHistorySchema = z
  .object({
    orderId: OrderIdSchema,
    events: z.array(
      z.object({
        position: z.number().int().describe('Position in the whole event store.'),
        recordedAt: TimestampSchema,
        event: EnvelopeSchema.describe('The CloudEvents envelope as recorded and published.'),
      }),
    ),
  })
  .meta({ id: 'OrderHistory' });

export const CancelBodySchema = z
  .strictObject({ reason: z.string().trim().min(1).max(500) })
  .meta({ id: 'CancelOrder' });

export const ApprovalBodySchema = z
  .strictObject({
    decision: z.enum(['approve', 'reject']),
    reason: z.string().trim().min(1).max(500).optional().describe('Required to reject.'),
  })
  .meta({ id: 'ApprovalDecision' });
