/**
 * The inbound contract: what outside producers (partner systems, other services) publish to the
 * inbound-events topic, which functions/ingest turns into order commands.
 *
 * A message's data is a CloudEvents 1.0 envelope in JSON (structured mode), UTF-8:
 *
 *   { "specversion": "1.0", "id": "<unique per message>", "source": "//partner/acme",
 *     "type": "order.place.v1", "time": "2026-03-01T12:00:00Z", "datacontenttype": "application/json",
 *     "data": { "externalId": "A-1001", "customerId": "c-7", "currency": "EUR",
 *               "lines": [{ "sku": "BOOK-1", "quantity": 2 }], "shippingAddress": { … } } }
 *
 * - `type` carries the version; a new version is a new type, and old ones keep being accepted.
 * - `source` names the producer, `data.externalId` its own id for the order. The order's id is
 *   derived from both (UUIDv5), so publishing the same request twice, or Pub/Sub delivering it
 *   twice, places one order. Reusing an external id for a different order is refused.
 * - Prices are never taken from producers: lines are priced from the catalogue.
 * - Use the external id as the ordering key, so a cancel never overtakes its place.
 * - Invalid messages are not retried: they are dead-lettered with their validation errors.
 *
 * The JSON Schema of this contract, generated from these zod schemas, is committed beside this
 * file as inbound.schema.json; regenerate it with `node shared/contracts/write-inbound-schema.ts`
 * (a unit test fails while it is out of date).
 */
import { v5 } from 'uuid';
import { z } from 'zod';
import {
  AddressSchema,
  CurrencySchema,
  CustomerIdSchema,
  RequestedLineSchema,
  TimestampSchema,
} from './values.ts';

export const INBOUND_TYPE = {
  orderPlace: 'order.place.v1',
  orderCancel: 'order.cancel.v1',
} as const;

const ExternalIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'expected visible ASCII characters')
  .describe("The producer's own id of the order; unique per producer (source).");

export const OrderPlaceRequestSchema = z
  .strictObject({
    externalId: ExternalIdSchema,
    customerId: CustomerIdSchema,
    currency: CurrencySchema,
    lines: z.array(z.strictObject(RequestedLineSchema.shape)).min(1).max(100),
    shippingAddress: z.strictObject(AddressSchema.shape),
  })
  .describe('Place an order; prices come from the catalogue.');
export type OrderPlaceRequest = z.infer<typeof OrderPlaceRequestSchema>;

export const OrderCancelRequestSchema = z
  .strictObject({
    externalId: ExternalIdSchema,
    reason: z.string().min(1).max(500),
  })
  .describe('Ask to cancel an order this producer placed.');
export type OrderCancelRequest = z.infer<typeof OrderCancelRequestSchema>;

const envelope = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.strictObject({
    specversion: z.literal('1.0'),
    id: z.string().min(1).max(200).describe('Unique per message, chosen by the producer.'),
    source: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, 'expected a URI reference such as //partner/acme')
      .describe('The producer, e.g. //partner/acme.'),
    type: z.literal(type),
    time: TimestampSchema.optional(),
    datacontenttype: z.literal('application/json').optional(),
    subject: z.string().max(200).optional(),
    data,
  });

export const InboundEventSchema = z
  .discriminatedUnion('type', [
    envelope(INBOUND_TYPE.orderPlace, OrderPlaceRequestSchema),
    envelope(INBOUND_TYPE.orderCancel, OrderCancelRequestSchema),
  ])
  .meta({
    id: 'InboundEvent',
    title: 'Conveyor inbound event',
    description:
      'A CloudEvents 1.0 envelope (structured mode, JSON) published to the inbound-events topic. ' +
      'See shared/contracts/inbound.ts.',
  });
export type InboundEvent = z.infer<typeof InboundEventSchema>;

/** Namespace of order ids derived from (source, external id). Never change it. */
export const INBOUND_ORDER_NAMESPACE = '0f8b8d2e-5d7e-4c8e-9d55-3c1f4a6b7e21';

/** The order id of a producer's order: the same (source, external id) always gives the same id. */
export function inboundOrderId(source: string, externalId: string): string {
  return v5(`${source}\n${externalId}`, INBOUND_ORDER_NAMESPACE);
}

/** The JSON Schema (draft 2020-12) of InboundEventSchema, as committed in inbound.schema.json. */
export function inboundJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://conveyor.example/schemas/inbound-event.json',
    ...z.toJSONSchema(InboundEventSchema, { target: 'draft-2020-12', io: 'input' }),
  };
}

/** The file content of inbound.schema.json. */
export function inboundJsonSchemaText(): string {
  return `${JSON.stringify(inboundJsonSchema(), null, 2)}\n`;
}
