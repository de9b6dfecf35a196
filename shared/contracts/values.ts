/** Value schemas used across event and API contracts. Money is in minor units (cents). */
import { z } from 'zod';

export const OrderIdSchema = z.uuid({ message: 'expected an order id (UUID)' });
export type OrderId = z.infer<typeof OrderIdSchema>;

export const CurrencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code such as EUR');
export type Currency = z.infer<typeof CurrencySchema>;

export const SkuSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'expected a SKU: letters, digits, . _ -, at most 64 characters',
  );
export type Sku = z.infer<typeof SkuSchema>;

/** An amount in the currency's minor unit (cents for EUR). */
export const AmountMinorSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const QuantitySchema = z.number().int().min(1).max(10_000);

export const CustomerIdSchema = z.string().min(1).max(128);

export const TimestampSchema = z.iso.datetime({ offset: true });

export const AddressSchema = z.object({
  name: z.string().min(1).max(200),
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  region: z.string().max(100).optional(),
  postalCode: z.string().min(1).max(20),
  country: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code such as DE'),
});
export type Address = z.infer<typeof AddressSchema>;

/** A line as the customer asks for it: what and how many, never a price. */
export const RequestedLineSchema = z.object({ sku: SkuSchema, quantity: QuantitySchema });
export type RequestedLine = z.infer<typeof RequestedLineSchema>;

/** A line as the order holds it: priced from the catalogue when the order was placed. */
export const PricedLineSchema = RequestedLineSchema.extend({ unitPriceMinor: AmountMinorSchema });
export type PricedLine = z.infer<typeof PricedLineSchema>;

/** Who did something: a customer, an operator (by API key name) or the system itself. */
export const ActorSchema = z.object({
  kind: z.enum(['customer', 'operator', 'system']),
  id: z.string().min(1).max(200),
});
export type Actor = z.infer<typeof ActorSchema>;
