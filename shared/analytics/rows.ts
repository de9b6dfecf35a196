/**
 * The rows Conveyor streams into BigQuery, built from what a push endpoint received: one `events`
 * row per delivered order event (insertId = event id) and one `dead_letters` row per dead letter
 * (insertId = its message id on the dead-letters topic). JSON columns are sent as JSON text, the
 * form insertAll documents for them. https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll
 */
import { SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE, PUBSUB_DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { ATTRIBUTE, EnvelopeSchema, type Envelope } from '#shared/contracts/envelope.ts';

/** A row ready for tabledata.insertAll: its insertId and its JSON. */
export interface StreamRow<Json extends object = object> {
  insertId: string;
  json: Json;
}

/** One `events` row (shared/analytics/events-schema.ts). */
export interface EventRow {
  event_id: string;
  type: string;
  order_id: string;
  sequence: number;
  event_time: string;
  published_at: string;
  /** The event's data as JSON text. */
  payload: string;
  /** The message's Pub/Sub attributes as JSON text. */
  attributes: string | null;
}

/** Where an event came from: the message that carried it. */
export interface Delivery {
  /** Pub/Sub publish time of the message (RFC 3339). */
  publishTime: string;
  attributes: Readonly<Record<string, string>>;
}

/** Timestamps go in as UTC RFC 3339 with milliseconds, whatever offset the envelope used. */
function utc(time: string): string {
  return new Date(time).toISOString();
}

/** The events row of `event` as delivered by `delivery`. */
export function eventRow(
  event: Pick<Envelope, 'id' | 'type' | 'subject' | 'sequence' | 'time' | 'data'>,
  delivery: Delivery,
): EventRow {
  return {
    event_id: event.id,
    type: event.type,
    order_id: event.subject,
    sequence: event.sequence,
    event_time: utc(event.time),
    published_at: utc(delivery.publishTime),
    payload: JSON.stringify(event.data ?? null),
    attributes: Object.keys(delivery.attributes).length > 0 ? JSON.stringify(delivery.attributes) : null,
  };
}

export function eventStreamRow(row: EventRow): StreamRow<EventRow> {
  return { insertId: row.event_id, json: row };
}

/** One `dead_letters` row (shared/analytics/dead-letters-schema.ts). */
export interface DeadLetterRow {
  dead_letter_id: string;
  subscription: string;
  source_topic: string | null;
  /** `permanent`: the consumer gave up at once; `exhausted`: Pub/Sub's policy after the last attempt. */
  kind: 'permanent' | 'exhausted';
  event_id: string | null;
  type: string | null;
  order_id: string | null;
  event_time: string | null;
  dead_lettered_at: string;
  delivery_attempts: number | null;
  reason: string | null;
  attributes: string | null;
}

/** A message as read from the dead-letters topic. */
export interface DeadLetterMessage {
  messageId: string;
  publishTime: string;
  attributes: Readonly<Record<string, string>>;
  /** The original message's data (an envelope when it was an event). */
  data: Buffer;
}

/**
 * The dead_letters row of a message on the dead-letters topic. Both forms are read: forwarded by a
 * consumer for a permanent error (conveyor-dead-letter-* attributes) or by Pub/Sub's dead-letter
 * policy after the last attempt (CloudPubSubDeadLetter* attributes). The event fields come from the
 * envelope when the data is one, else from the ce-* attributes.
 */
export function deadLetterRow(message: DeadLetterMessage): DeadLetterRow {
  const attributes = message.attributes;
  const permanent = attributes[DEAD_LETTER_ATTRIBUTE.subscription] !== undefined;
  const subscription = shortName(
    attributes[DEAD_LETTER_ATTRIBUTE.subscription] ??
      attributes[PUBSUB_DEAD_LETTER_ATTRIBUTE.subscription] ??
      'unknown',
  );
  const envelope = envelopeOf(message.data);
  const attempts = Number(
    attributes[DEAD_LETTER_ATTRIBUTE.deliveryAttempt] ??
      attributes[PUBSUB_DEAD_LETTER_ATTRIBUTE.deliveryCount],
  );
  const time = envelope?.time ?? attributes[ATTRIBUTE.time];
  return {
    dead_letter_id: message.messageId,
    subscription,
    source_topic:
      attributes[DEAD_LETTER_ATTRIBUTE.topic] ??
      SUBSCRIPTIONS.find((spec) => spec.name === subscription)?.topic ??
      null,
    kind: permanent ? 'permanent' : 'exhausted',
    event_id: envelope?.id ?? attributes[ATTRIBUTE.id] ?? null,
    type: envelope?.type ?? attributes[ATTRIBUTE.type] ?? null,
    order_id: envelope?.subject ?? attributes[ATTRIBUTE.subject] ?? null,
    event_time: time && !Number.isNaN(Date.parse(time)) ? utc(time) : null,
    dead_lettered_at: utc(message.publishTime),
    delivery_attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : null,
    reason: attributes[DEAD_LETTER_ATTRIBUTE.reason] ?? null,
    attributes: JSON.stringify(attributes),
  };
}

export function deadLetterStreamRow(row: DeadLetterRow): StreamRow<DeadLetterRow> {
  return { insertId: row.dead_letter_id, json: row };
}

function shortName(subscription: string): string {
  return subscription.slice(subscription.lastIndexOf('/') + 1);
}

function envelopeOf(data: Buffer): Envelope | undefined {
  try {
    const parsed = EnvelopeSchema.safeParse(JSON.parse(data.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
