/**
 * Payment events. The provider accepts a charge (payment.requested) and reports the outcome later
 * in a signed webhook (payment.processed / payment.failed). Subject = order id.
 */
import { z } from 'zod';
import { AmountMinorSchema, CurrencySchema } from '../values.ts';

const ProviderRefSchema = z.string().min(1).max(200);

export const PaymentRequestedSchema = z.object({
  paymentId: ProviderRefSchema,
  amountMinor: AmountMinorSchema,
  currency: CurrencySchema,
  /** Sent to the provider: the same charge asked twice is one charge. */
  idempotencyKey: z.string().min(1).max(200),
});
export type PaymentRequested = z.infer<typeof PaymentRequestedSchema>;

export const PaymentProcessedSchema = z.object({
  paymentId: ProviderRefSchema,
  amountMinor: AmountMinorSchema,
  currency: CurrencySchema,
  providerEventId: ProviderRefSchema,
});
export type PaymentProcessed = z.infer<typeof PaymentProcessedSchema>;

export const PaymentFailedSchema = z.object({
  paymentId: ProviderRefSchema.optional(),
  reason: z.string().min(1).max(500),
  declineCode: z.string().max(100).optional(),
  providerEventId: ProviderRefSchema.optional(),
});
export type PaymentFailed = z.infer<typeof PaymentFailedSchema>;

export const PaymentRefundedSchema = z.object({
  paymentId: ProviderRefSchema,
  refundId: ProviderRefSchema,
  amountMinor: AmountMinorSchema,
  currency: CurrencySchema,
});
export type PaymentRefunded = z.infer<typeof PaymentRefundedSchema>;

/** A compensation that could not be done: never swallowed; also dead-lettered for an operator. */
export const PaymentRefundFailedSchema = z.object({
  paymentId: ProviderRefSchema,
  amountMinor: AmountMinorSchema,
  currency: CurrencySchema,
  reason: z.string().min(1).max(500),
});
export type PaymentRefundFailed = z.infer<typeof PaymentRefundFailedSchema>;
