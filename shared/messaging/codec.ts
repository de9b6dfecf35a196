/**
 * How a Conveyor event becomes a Pub/Sub message and back: data = the JSON envelope, attributes =
 * the ce-* routing fields, ordering key = order id.
 */
import { ATTRIBUTE, type Envelope } from '#shared/contracts/envelope.ts';
import { PushRequestSchema } from '#shared/contracts/push.ts';
import { issuesOf } from '#shared/contracts/events/index.ts';
import { ValidationError } from '#shared/errors.ts';

export interface OutgoingMessage {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
}

/** The attributes that let subscriptions filter and consumers trace without parsing the body. */
export function eventAttributes(event: Envelope): Record<string, string> {
  return {
    [ATTRIBUTE.id]: event.id,
    [ATTRIBUTE.type]: event.type,
    [ATTRIBUTE.subject]: event.subject,
    [ATTRIBUTE.sequence]: String(event.sequence),
    [ATTRIBUTE.source]: event.source,
    [ATTRIBUTE.time]: event.time,
    [ATTRIBUTE.correlationId]: event.correlationid,
    ...(event.traceparent ? { [ATTRIBUTE.traceparent]: event.traceparent } : {}),
  };
}

export function toMessage(event: Envelope, extraAttributes: Record<string, string> = {}): OutgoingMessage {
  return {
    data: Buffer.from(JSON.stringify(event)),
    attributes: { ...eventAttributes(event), ...extraAttributes },
    orderingKey: event.subject,
  };
}

/** A message as a push endpoint received it, before its event is validated. */
export interface ReceivedMessage {
  messageId: string;
  publishTime: string;
  subscription: string;
  /** 1 on first delivery; 0 when the subscription has no dead-letter policy (unknown). */
  deliveryAttempt: number;
  orderingKey: string | undefined;
  attributes: Record<string, string>;
  data: Buffer;
  /** The data parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * Decodes a Pub/Sub push body. Throws ValidationError for a body that is not a push request at all
 * (answered 400 so a misconfigured sender finds out; Pub/Sub never sends such bodies).
 */
export function decodePush(body: unknown): ReceivedMessage {
  const parsed = PushRequestSchema.safeParse(body);
  if (!parsed.success) throw new ValidationError('not a Pub/Sub push request', issuesOf(parsed.error, ''));
  const { message, subscription, deliveryAttempt } = parsed.data;
  const data = Buffer.from(message.data ?? '', 'base64');
  let json: unknown;
  try {
    json = data.length > 0 ? JSON.parse(data.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  return {
    messageId: message.messageId,
    publishTime: message.publishTime,
    subscription,
    deliveryAttempt: deliveryAttempt ?? 0,
    orderingKey: message.orderingKey || undefined,
    attributes: message.attributes ?? {},
    data,
    json,
  };
}

/** The short name of a subscription path: projects/p/subscriptions/saga → saga. */
export function subscriptionName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
