/**
 * What a replay is asked for: a time range of history (by event time), optionally some event
 * types and one order, for one consumer. One schema for the API, the CLI and the store.
 */
import { z } from 'zod';
import { REPLAYABLE_CONSUMERS } from '#shared/contracts/catalogue.ts';
import { EVENT_TYPES, UPCASTERS } from '#shared/contracts/events/index.ts';
import { OrderIdSchema, TimestampSchema } from '#shared/contracts/values.ts';

/** Every type an event can be stored under: current types and the older versions upcast to them. */
export const REPLAYABLE_TYPES: readonly string[] = [...EVENT_TYPES, ...Object.keys(UPCASTERS)].sort();

export const ReplayConsumerSchema = z
  .enum(REPLAYABLE_CONSUMERS as [string, ...string[]])
  .describe('The one consumer that receives the replay (its <consumer>-replay subscription).');

export const ReplayRequestSchema = z
  .strictObject({
    from: TimestampSchema.describe('Replay events that occurred at or after this time (RFC 3339).'),
    to: TimestampSchema.describe('… and before this time (exclusive).'),
    types: z
      .array(z.enum(REPLAYABLE_TYPES as [string, ...string[]]))
      .min(1)
      .max(REPLAYABLE_TYPES.length)
      .optional()
      .describe('Only these event types (a current type also selects its older stored versions).'),
    orderId: OrderIdSchema.optional().describe("Only this order's events."),
    consumer: ReplayConsumerSchema,
  })
  .refine((request) => Date.parse(request.from) < Date.parse(request.to), {
    message: '`from` must be before `to`',
    path: ['to'],
  })
  .meta({ id: 'ReplayRequest' });
export type ReplayRequest = z.infer<typeof ReplayRequestSchema>;

/**
 * The stored types a filter selects: each type itself, plus every older version whose upcasters
 * lead to it (a replay of order.cancelled.v2 also replays events stored as order.cancelled.v1).
 */
export function storedTypesFor(types: readonly string[]): string[] {
  const currentOf = (type: string): string => {
    let current = type;
    for (let hops = 0; UPCASTERS[current] && hops < 10; hops++) current = UPCASTERS[current]!.to;
    return current;
  };
  const wanted = new Set(types);
  return REPLAYABLE_TYPES.filter((type) => wanted.has(type) || wanted.has(currentOf(type)));
}

/** The request in a canonical form (sorted, de-duplicated types; UTC times) for hashing and storing. */
export function normalizeReplayRequest(request: ReplayRequest): ReplayRequest {
  return {
    from: new Date(request.from).toISOString(),
    to: new Date(request.to).toISOString(),
    ...(request.types ? { types: [...new Set(request.types)].sort() } : {}),
    ...(request.orderId ? { orderId: request.orderId.toLowerCase() } : {}),
    consumer: request.consumer,
  };
}
