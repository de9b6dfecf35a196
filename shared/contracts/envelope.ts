/**
 * The CloudEvents 1.0 envelope every Conveyor event travels in, on Pub/Sub, in the event store and
 * in the API's history endpoint. https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 *
 * Extensions (lowercase, as CloudEvents requires): `sequence` is the per-order version of the
 * event (1, 2, 3… for one subject; an integer, not the string of the CE sequence extension),
 * `correlationid` ties every event of one order flow together, `causationid` names the event or
 * request that caused this one, `traceparent` carries the W3C trace context.
 */
import { z } from 'zod';
import { TimestampSchema } from './values.ts';

export const EVENT_SOURCE_PREFIX = '//conveyor';

export const EventTypeSchema = z
  .string()
  .regex(/^[a-z]+(\.[a-z_]+)+\.v\d+$/, 'expected a versioned event type such as order.created.v1');

/** The envelope with its data left unparsed: what every consumer can read before it knows the type. */
export const EnvelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(200),
  source: z.string().min(1).max(500),
  type: EventTypeSchema,
  subject: z.string().min(1).max(200),
  time: TimestampSchema,
  datacontenttype: z.literal('application/json'),
  sequence: z.number().int().min(1),
  correlationid: z.string().min(1).max(200),
  causationid: z.string().min(1).max(200).optional(),
  traceparent: z
    .string()
    .regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/)
    .optional(),
  data: z.unknown(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

/** An envelope whose data has been validated against its type's schema. */
export type Event<Type extends string = string, Data = unknown> = Omit<Envelope, 'type' | 'data'> & {
  type: Type;
  data: Data;
};

/**
 * Pub/Sub attributes carrying the envelope's routing fields, so that subscriptions can filter
 * (`attributes.ce-type = "order.created.v1"`) and consumers can trace without parsing the body.
 */
export const ATTRIBUTE = {
  id: 'ce-id',
  type: 'ce-type',
  subject: 'ce-subject',
  sequence: 'ce-sequence',
  source: 'ce-source',
  time: 'ce-time',
  correlationId: 'ce-correlationid',
  traceparent: 'ce-traceparent',
  /** Set on messages republished by a replay: the replay's id. */
  replay: 'conveyor-replay',
  /** Set on messages republished by a redrive: the dead letter's id. */
  redrive: 'conveyor-redrive',
} as const;
