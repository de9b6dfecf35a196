/**
 * Shipment events. The carrier accepts a shipment (shipment.requested) and reports progress in
 * signed webhooks (dispatched, delivered, failed). Subject = order id.
 */
import { z } from 'zod';
import { RequestedLineSchema, TimestampSchema } from '../values.ts';

const ProviderRefSchema = z.string().min(1).max(200);

export const ShipmentRequestedSchema = z.object({
  shipmentId: ProviderRefSchema,
  carrier: z.string().min(1).max(100),
  lines: z.array(RequestedLineSchema).min(1),
  idempotencyKey: z.string().min(1).max(200),
});
export type ShipmentRequested = z.infer<typeof ShipmentRequestedSchema>;

export const ShipmentDispatchedSchema = z.object({
  shipmentId: ProviderRefSchema,
  carrier: z.string().min(1).max(100),
  trackingNumber: z.string().min(1).max(100),
  providerEventId: ProviderRefSchema,
});
export type ShipmentDispatched = z.infer<typeof ShipmentDispatchedSchema>;

export const ShipmentDeliveredSchema = z.object({
  shipmentId: ProviderRefSchema,
  deliveredAt: TimestampSchema,
  providerEventId: ProviderRefSchema,
});
export type ShipmentDelivered = z.infer<typeof ShipmentDeliveredSchema>;

export const ShipmentFailedSchema = z.object({
  shipmentId: ProviderRefSchema.optional(),
  reason: z.string().min(1).max(500),
  providerEventId: ProviderRefSchema.optional(),
});
export type ShipmentFailed = z.infer<typeof ShipmentFailedSchema>;

export const ShipmentCancelledSchema = z.object({
  shipmentId: ProviderRefSchema,
  reason: z.string().min(1).max(500),
});
export type ShipmentCancelled = z.infer<typeof ShipmentCancelledSchema>;
