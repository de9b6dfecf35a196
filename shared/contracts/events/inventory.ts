/** Inventory events: all-or-nothing reservation for an order, and its release. Subject = order id. */
import { z } from 'zod';
import { QuantitySchema, RequestedLineSchema, SkuSchema } from '../values.ts';

export const InventoryReservedSchema = z.object({ lines: z.array(RequestedLineSchema).min(1) });
export type InventoryReserved = z.infer<typeof InventoryReservedSchema>;

export const InventoryReservationFailedSchema = z.object({
  reason: z.enum(['out_of_stock', 'unknown_sku']),
  shortages: z
    .array(z.object({ sku: SkuSchema, requested: QuantitySchema, available: z.number().int().min(0) }))
    .min(1),
});
export type InventoryReservationFailed = z.infer<typeof InventoryReservationFailedSchema>;

export const InventoryReleasedSchema = z.object({
  lines: z.array(RequestedLineSchema).min(1),
  reason: z.string().min(1).max(500),
});
export type InventoryReleased = z.infer<typeof InventoryReleasedSchema>;
