/**
 * One order's timeline for operators: its events, the saga's steps (an event processed, and the
 * events that step recorded), the other consumers' deliveries, failures, provider webhooks, dead
 * letters and, where spans are kept here, the provider calls; each with its time, what it took and
 * the trace it belongs to. Built from what Postgres and the span store hold, in time order.
 */
import { z } from 'zod';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import type { Envelope } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { TimestampSchema } from '#shared/contracts/values.ts';
import type { StoredEvent } from '#shared/store/orders.ts';
import type { OrderActivity } from '#shared/store/timeline.ts';
import { parseTraceparent, PEER_SERVICE, type StoredSpan } from '#shared/telemetry/index.ts';

export const TIMELINE_KINDS = [
  'event',
  'saga-step',
  'delivery',
  'failure',
  'webhook',
  'provider-call',
  'dead-letter',
] as const;

export const TimelineEntrySchema = z.object({
  at: TimestampSchema,
  kind: z.enum(TIMELINE_KINDS),
  title: z.string(),
  detail: z.string().optional(),
  /** ok, warning (a failure that was retried), error (dead-lettered, a failed call). */
  status: z.enum(['ok', 'warning', 'error']),
  /** Undoes an earlier step (refund, release, cancel shipment, cancellation). */
  compensation: z.boolean(),
  durationMs: z
    .number()
    .min(0)
    .optional()
    .describe(
      'Saga steps and deliveries: from the event being recorded to the step committed; failures: first to ' +
        'last; provider calls: the call.',
    ),
  eventId: z.string().optional(),
  eventType: z.string().optional(),
  consumer: z.string().optional(),
  deadLetterId: z.string().optional(),
  traceId: z.string().optional(),
  spanId: z.string().optional(),
  data: z.unknown().optional(),
});
export type TimelineEntry = z.infer<typeof TimelineEntrySchema>;

/** Events that undo what an earlier step did. */
export const COMPENSATION_TYPES: ReadonlySet<string> = new Set([
  EVENT_TYPE.inventoryReleased,
  EVENT_TYPE.paymentRefunded,
  EVENT_TYPE.paymentRefundFailed,
  EVENT_TYPE.shipmentCancelled,
  EVENT_TYPE.orderCancellationRequested,
  EVENT_TYPE.orderCancelled,
]);

const shortType = (type: string) => type.replace(/\.v\d+$/, '');

/** The timeline entries of one order, oldest first. */
export function buildTimeline(
  history: readonly StoredEvent[],
  activity: OrderActivity,
  spans: readonly StoredSpan[],
): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const events = new Map<string, { stored: StoredEvent; envelope: Envelope }>();
  for (const stored of history) events.set(stored.envelope.id, { stored, envelope: stored.envelope });
  const causedBy = new Map<string, Envelope[]>();
  for (const { envelope } of events.values()) {
    if (!envelope.causationid) continue;
    const list = causedBy.get(envelope.causationid) ?? [];
    list.push(envelope);
    causedBy.set(envelope.causationid, list);
  }
  const traceOf = (envelope: Envelope | undefined) => {
    const context = parseTraceparent(envelope?.traceparent);
    return context ? { traceId: context.traceId, spanId: context.spanId } : {};
  };

  for (const { stored, envelope } of events.values()) {
    entries.push({
      at: stored.recordedAt,
      kind: 'event',
      title: envelope.type,
      detail: `#${envelope.sequence} from ${envelope.source.replace(/^\/\/conveyor\//, '')}`,
      status: envelope.type === EVENT_TYPE.paymentRefundFailed ? 'error' : 'ok',
      compensation: COMPENSATION_TYPES.has(envelope.type),
      eventId: envelope.id,
      eventType: envelope.type,
      ...traceOf(envelope),
      data: envelope.data,
    });
  }

  for (const delivery of activity.deliveries) {
    const event = events.get(delivery.eventId);
    const type = event?.envelope.type ?? 'unknown event';
    const durationMs = event
      ? Math.max(0, Date.parse(delivery.processedAt) - Date.parse(event.stored.recordedAt))
      : undefined;
    const common = {
      at: delivery.processedAt,
      status: 'ok' as const,
      eventId: delivery.eventId,
      eventType: type,
      consumer: delivery.consumer,
      ...(durationMs === undefined ? {} : { durationMs }),
      ...traceOf(event?.envelope),
    };
    if (delivery.consumer === FUNCTION.saga) {
      const recorded = causedBy.get(delivery.eventId) ?? [];
      entries.push({
        ...common,
        kind: 'saga-step',
        title:
          recorded.length > 0
            ? `saga: ${shortType(type)} → ${recorded.map((e) => shortType(e.type)).join(', ')}`
            : `saga: ${shortType(type)} (nothing to do)`,
        compensation: recorded.some((e) => COMPENSATION_TYPES.has(e.type)),
      });
    } else {
      entries.push({
        ...common,
        kind: 'delivery',
        title: `${delivery.consumer} processed ${shortType(type)}`,
        compensation: false,
      });
    }
  }

  for (const failure of activity.failures) {
    const event = events.get(failure.eventId);
    entries.push({
      at: failure.lastFailedAt,
      kind: 'failure',
      title: `${failure.consumer} failed ${shortType(event?.envelope.type ?? 'a message')} (${failure.attempts}×)`,
      detail: failure.lastError,
      status: 'warning',
      compensation: false,
      durationMs: Math.max(0, Date.parse(failure.lastFailedAt) - Date.parse(failure.firstFailedAt)),
      eventId: failure.eventId,
      consumer: failure.consumer,
      ...(event ? { eventType: event.envelope.type } : {}),
      ...traceOf(event?.envelope),
    });
  }

  for (const webhook of activity.webhooks) {
    entries.push({
      at: webhook.receivedAt,
      kind: 'webhook',
      title: `${webhook.provider} webhook ${webhook.type}`,
      detail: `${webhook.eventId}: ${webhook.outcome.replaceAll('_', ' ')}`,
      status: webhook.outcome === 'unrecorded_effect' ? 'warning' : 'ok',
      compensation: false,
    });
  }

  for (const letter of activity.deadLetters) {
    const event = letter.eventId ? events.get(letter.eventId) : undefined;
    entries.push({
      at: letter.deadLetteredAt,
      kind: 'dead-letter',
      title: `dead letter from ${letter.sourceSubscription} (${letter.status})`,
      ...(letter.lastError ? { detail: letter.lastError } : {}),
      status: letter.status === 'open' ? 'error' : 'ok',
      compensation: false,
      deadLetterId: letter.id,
      ...(letter.eventId ? { eventId: letter.eventId } : {}),
      ...(letter.eventType ? { eventType: letter.eventType } : {}),
      consumer: letter.sourceSubscription,
      ...traceOf(event?.envelope),
    });
  }

  for (const span of spans) {
    const peer = span.attributes[PEER_SERVICE];
    if (span.kind !== 'client' || typeof peer !== 'string') continue;
    const status = span.attributes['http.response.status_code'];
    entries.push({
      at: new Date(span.startTime).toISOString(),
      kind: 'provider-call',
      title: `${span.name} (${peer})`,
      detail: status === undefined ? (span.status.message ?? 'no answer') : `answered ${String(status)}`,
      status: span.status.code === 'error' ? 'error' : 'ok',
      compensation: false,
      durationMs: span.durationMs,
      traceId: span.traceId,
      spanId: span.spanId,
    });
  }

  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || order(a) - order(b));
}

/** At the same instant: the event before what it caused. */
function order(entry: TimelineEntry): number {
  return TIMELINE_KINDS.indexOf(entry.kind);
}
