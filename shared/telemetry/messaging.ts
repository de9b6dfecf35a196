/**
 * Tracing and metrics across Pub/Sub, following OpenTelemetry's messaging conventions
 * (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/):
 *
 * - create: appending events is where messages are created (the outbox). withEventCreation wraps
 *   the append in a PRODUCER `create order-events` span whose context becomes the events'
 *   traceparent (EventMeta.traceparent → envelope `traceparent` and `ce-traceparent`).
 * - send: instrumentPublisher wraps a Publisher; each message gets a PRODUCER `send <topic>` span,
 *   a child of the message's creation context (or a root linked to it, for replays), and counts
 *   towards events published. `ce-traceparent` is never rewritten: it is the CloudEvents
 *   extension naming where the event was created, and it travels unchanged.
 * - process: instrumentConsumer wraps a push consumer; each delivery gets a CONSUMER
 *   `process <type>` span, a child of the creation context (so an order's hops form one tree)
 *   and counts towards events consumed and processing latency. A replayed message starts a new
 *   trace linked to the original instead of growing a finished one.
 *
 * Every one of these spans carries the order and correlation ids.
 */
import {
  context,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { SUBSCRIPTIONS, TOPIC } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { isRetryable } from '#shared/errors.ts';
import type { ReceivedMessage } from '#shared/messaging/codec.ts';
import type { PushConsumer, PushContext } from '#shared/messaging/consumer.ts';
import type { PublishableMessage, Publisher, PublishOutcome } from '#shared/messaging/publisher.ts';
import { CONVEYOR_ATTRIBUTE, MESSAGING_ATTRIBUTE, MESSAGING_SYSTEM } from './attributes.ts';
import { formatTraceparent, messageSpanContext, spanLogFields } from './context.ts';
import { CONSUME_OUTCOME, type ConsumeOutcome } from './metrics-catalogue.ts';
import type { Telemetry } from './setup.ts';

type MessageAttributes = Readonly<Record<string, string>>;

/** The Conveyor attributes a message's attributes tell (event, order, correlation, replay, redrive). */
export function eventSpanAttributes(attributes: MessageAttributes): Attributes {
  const pick = (key: string, from: string): Attributes =>
    attributes[from] ? { [key]: attributes[from] } : {};
  return {
    ...pick(CONVEYOR_ATTRIBUTE.eventId, ATTRIBUTE.id),
    ...pick(CONVEYOR_ATTRIBUTE.eventType, ATTRIBUTE.type),
    ...pick(CONVEYOR_ATTRIBUTE.orderId, ATTRIBUTE.subject),
    ...pick(CONVEYOR_ATTRIBUTE.correlationId, ATTRIBUTE.correlationId),
    ...pick(CONVEYOR_ATTRIBUTE.replayId, ATTRIBUTE.replay),
    ...pick(CONVEYOR_ATTRIBUTE.redriveId, ATTRIBUTE.redrive),
  };
}

export interface EventCreation {
  orderId: string;
  correlationId: string;
  /** Where the events will be published; default order-events. */
  topic?: string;
  /** How many events the append writes, when known. */
  count?: number;
}

/**
 * Runs `append` inside a PRODUCER `create <topic>` span and gives it the span's traceparent, to put
 * in EventMeta.traceparent: the events' consumers continue this trace. Outside any trace (and with
 * tracing off) the traceparent is the caller's own, or undefined.
 */
export async function withEventCreation<T>(
  telemetry: Telemetry,
  creation: EventCreation,
  append: (traceparent: string | undefined) => Promise<T>,
): Promise<T> {
  const topic = creation.topic ?? TOPIC.orderEvents;
  const span = telemetry.tracer.startSpan(`create ${topic}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      [MESSAGING_ATTRIBUTE.system]: MESSAGING_SYSTEM,
      [MESSAGING_ATTRIBUTE.operationName]: 'create',
      [MESSAGING_ATTRIBUTE.operationType]: 'create',
      [MESSAGING_ATTRIBUTE.destination]: topic,
      [CONVEYOR_ATTRIBUTE.orderId]: creation.orderId,
      [CONVEYOR_ATTRIBUTE.correlationId]: creation.correlationId,
      ...(creation.count !== undefined ? { [MESSAGING_ATTRIBUTE.batchCount]: creation.count } : {}),
    },
  });
  const spanContext = span.spanContext();
  const traceparent = isSpanContextValid(spanContext) ? formatTraceparent(spanContext) : undefined;
  try {
    return await context.with(trace.setSpan(context.active(), span), () => append(traceparent));
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Where a span about a message belongs: for a replay, under whatever is active (a replay run) or a
 * new trace, linked to the original; otherwise under the active span when it is already in the
 * message's trace (the consumer dead-lettering its own message), else under the message's
 * creation context, linked to the active span if that is another trace (a redrive request).
 */
function placement(attributes: MessageAttributes, envelope: unknown): { parent: Context; links: Link[] } {
  const active = context.active();
  const activeContext = trace.getSpanContext(active);
  const creation = messageSpanContext(attributes, envelope);
  const link = (spanContext: SpanContext | undefined): Link[] =>
    spanContext && isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
  if (attributes[ATTRIBUTE.replay]) return { parent: active, links: link(creation) };
  if (!creation) return { parent: active, links: [] };
  if (activeContext?.traceId === creation.traceId) return { parent: active, links: [] };
  return {
    parent: trace.setSpanContext(active, creation),
    links: activeContext ? link(activeContext) : [],
  };
}

/**
 * A Publisher whose messages are traced (`send <topic>` spans) and counted (events published per
 * topic and type). The messages go out exactly as given.
 */
export function instrumentPublisher(publisher: Publisher, telemetry: Telemetry): Publisher {
  return {
    async publish(topic: string, messages: readonly PublishableMessage[]): Promise<PublishOutcome[]> {
      const spans = messages.map((message) => {
        const { parent, links } = placement(message.attributes, undefined);
        return telemetry.tracer.startSpan(
          `send ${topic}`,
          {
            kind: SpanKind.PRODUCER,
            links,
            attributes: {
              [MESSAGING_ATTRIBUTE.system]: MESSAGING_SYSTEM,
              [MESSAGING_ATTRIBUTE.operationName]: 'send',
              [MESSAGING_ATTRIBUTE.operationType]: 'send',
              [MESSAGING_ATTRIBUTE.destination]: topic,
              ...(message.orderingKey ? { [MESSAGING_ATTRIBUTE.orderingKey]: message.orderingKey } : {}),
              ...(messages.length > 1 ? { [MESSAGING_ATTRIBUTE.batchCount]: messages.length } : {}),
              ...eventSpanAttributes(message.attributes),
            },
          },
          parent,
        );
      });
      let outcomes: PublishOutcome[];
      try {
        outcomes = await publisher.publish(topic, messages);
      } catch (error) {
        for (const span of spans) {
          failed(span, error);
          span.end();
        }
        throw error;
      }
      const published = new Map<string | undefined, number>();
      outcomes.forEach((outcome, index) => {
        const span = spans[index];
        if (outcome.error) {
          if (span) failed(span, outcome.error);
        } else {
          span?.setAttribute(MESSAGING_ATTRIBUTE.messageId, outcome.messageId);
          const type = messages[index]?.attributes[ATTRIBUTE.type];
          published.set(type, (published.get(type) ?? 0) + 1);
        }
        span?.end();
      });
      for (const [type, count] of published) telemetry.metrics.published(topic, type, count);
      return outcomes;
    },
    close: () => publisher.close(),
  };
}

/**
 * A push consumer whose deliveries are traced (`process <type>` CONSUMER spans continuing the
 * message's trace) and measured (events consumed and processing latency per consumer, type and
 * outcome). Its handler runs inside the span, with a logger whose trace fields name that span.
 * The outcome is the consumer's verdict: success → processed, a non-retryable error →
 * dead-lettered, a retryable one → retry.
 */
export function instrumentConsumer<T>(consumer: PushConsumer<T>, telemetry: Telemetry): PushConsumer<T> {
  const topicOf = new Map(SUBSCRIPTIONS.map((spec) => [spec.name, spec.topic]));
  const subscriptionOf = (message: ReceivedMessage) =>
    message.subscription.slice(message.subscription.lastIndexOf('/') + 1);

  function start(message: ReceivedMessage): Span {
    const subscription = subscriptionOf(message);
    const type = message.attributes[ATTRIBUTE.type];
    const { parent, links } = placement(message.attributes, message.json);
    const topic = topicOf.get(subscription);
    return telemetry.tracer.startSpan(
      `process ${type ?? subscription}`,
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          [MESSAGING_ATTRIBUTE.system]: MESSAGING_SYSTEM,
          [MESSAGING_ATTRIBUTE.operationName]: 'process',
          [MESSAGING_ATTRIBUTE.operationType]: 'process',
          [MESSAGING_ATTRIBUTE.subscription]: subscription,
          ...(topic ? { [MESSAGING_ATTRIBUTE.destination]: topic } : {}),
          [MESSAGING_ATTRIBUTE.messageId]: message.messageId,
          ...(message.orderingKey ? { [MESSAGING_ATTRIBUTE.orderingKey]: message.orderingKey } : {}),
          ...(message.deliveryAttempt > 0
            ? { [MESSAGING_ATTRIBUTE.deliveryAttempt]: message.deliveryAttempt }
            : {}),
          [CONVEYOR_ATTRIBUTE.consumer]: consumer.name,
          ...eventSpanAttributes(message.attributes),
        },
      },
      parent,
    );
  }

  function finish(span: Span, message: ReceivedMessage, outcome: ConsumeOutcome, started: number): void {
    span.setAttribute(CONVEYOR_ATTRIBUTE.outcome, outcome);
    span.end();
    telemetry.metrics.consumed(
      consumer.name,
      message.attributes[ATTRIBUTE.type],
      outcome,
      (performance.now() - started) / 1000,
    );
  }

  return {
    name: consumer.name,
    parse(message) {
      const started = performance.now();
      try {
        return consumer.parse(message);
      } catch (error) {
        // Never reaches handle: record the rejection here (the push handler dead-letters it).
        const span = start(message);
        failed(span, error);
        finish(
          span,
          message,
          isRetryable(error) ? CONSUME_OUTCOME.retry : CONSUME_OUTCOME.deadLettered,
          started,
        );
        throw error;
      }
    },
    async handle(input: T, push: PushContext) {
      const started = performance.now();
      const span = start(push.message);
      const logger = push.logger.child(spanLogFields(telemetry.projectId, span));
      let outcome: ConsumeOutcome = CONSUME_OUTCOME.processed;
      try {
        await context.with(trace.setSpan(context.active(), span), () =>
          consumer.handle(input, { ...push, logger }),
        );
      } catch (error) {
        outcome = isRetryable(error) ? CONSUME_OUTCOME.retry : CONSUME_OUTCOME.deadLettered;
        failed(span, error);
        throw error;
      } finally {
        finish(span, push.message, outcome, started);
      }
    },
  };
}

function failed(span: Span, error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  span.recordException(error instanceof Error ? error : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
