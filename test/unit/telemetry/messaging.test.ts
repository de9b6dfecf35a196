import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { LOCAL_PROJECT_ID, TOPIC } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE, type Envelope } from '#shared/contracts/envelope.ts';
import { DependencyError, ValidationError } from '#shared/errors.ts';
import { createLogger, SPAN_FIELD, TRACE_FIELD } from '#shared/logging/index.ts';
import { eventAttributes, toMessage } from '#shared/messaging/codec.ts';
import { createPushHandler, type PushConsumer } from '#shared/messaging/consumer.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import type { PublishableMessage, Publisher } from '#shared/messaging/publisher.ts';
import { CONVEYOR_ATTRIBUTE, MESSAGING_ATTRIBUTE } from '#shared/telemetry/attributes.ts';
import { instrumentConsumer, instrumentPublisher, withEventCreation } from '#shared/telemetry/messaging.ts';
import { localTelemetry, only } from './helpers.ts';

const ORDER_ID = '0190a0b0-0000-7000-8000-000000000001';
const CORRELATION_ID = 'corr-1';

function envelope(traceparent: string | undefined, type = 'order.created.v1'): Envelope {
  return {
    specversion: '1.0',
    id: `evt-${Math.random().toString(16).slice(2)}`,
    source: '//conveyor/api',
    type,
    subject: ORDER_ID,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    sequence: 1,
    correlationid: CORRELATION_ID,
    ...(traceparent ? { traceparent } : {}),
    data: {},
  };
}

/** Pub/Sub as far as these tests need it: accepts everything, remembers what it got. */
function fakePubSub(): Publisher & {
  sent: { topic: string; message: PublishableMessage; messageId: string }[];
} {
  const sent: { topic: string; message: PublishableMessage; messageId: string }[] = [];
  return {
    sent,
    publish(topic, messages) {
      return Promise.resolve(
        messages.map((message) => {
          const messageId = String(sent.length + 1);
          sent.push({ topic, message, messageId });
          return { messageId };
        }),
      );
    },
    close: () => Promise.resolve(),
  };
}

/** The push body Pub/Sub would POST for a message sent by `fakePubSub`. */
function pushBody(sent: { message: PublishableMessage; messageId: string }, subscription = 'saga') {
  return {
    message: {
      data: sent.message.data.toString('base64'),
      attributes: sent.message.attributes,
      messageId: sent.messageId,
      publishTime: new Date().toISOString(),
      ...(sent.message.orderingKey ? { orderingKey: sent.message.orderingKey } : {}),
    },
    subscription: `projects/${LOCAL_PROJECT_ID}/subscriptions/${subscription}`,
    deliveryAttempt: 1,
  };
}

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ service: 'saga', level: 'debug' }, stream) };
}

describe('tracing an order step across Pub/Sub', () => {
  let telemetry: Awaited<ReturnType<typeof localTelemetry>>;
  let pubsub: ReturnType<typeof fakePubSub>;
  let publisher: Publisher;
  let logs: ReturnType<typeof captureLogs>;

  before(async () => {
    telemetry = await localTelemetry({ service: 'saga' });
  });
  after(() => telemetry.shutdown());
  beforeEach(() => {
    pubsub = fakePubSub();
    publisher = instrumentPublisher(pubsub, telemetry);
    logs = captureLogs();
  });

  /** API side: a request appends an event in a `create` span; returns the event's message attributes. */
  async function placeOrder(): Promise<{ attributes: Record<string, string>; event: Envelope }> {
    return telemetry.tracer.startActiveSpan('POST /orders', { kind: SpanKind.SERVER }, async (request) => {
      const event = await withEventCreation(
        telemetry,
        { orderId: ORDER_ID, correlationId: CORRELATION_ID, count: 1 },
        (traceparent) => Promise.resolve(envelope(traceparent)),
      );
      request.end();
      return { attributes: eventAttributes(event), event };
    });
  }

  /** The relay: publishes outside any request, as its timer or trigger does. */
  function relay(event: Envelope) {
    return context.with(ROOT_CONTEXT, () => publisher.publish(TOPIC.orderEvents, [toMessage(event)]));
  }

  function handler(consumer: PushConsumer<Envelope>) {
    return createPushHandler(instrumentConsumer(consumer, telemetry), {
      logger: logs.logger,
      deadLetters: createDeadLetterSink(publisher),
      projectId: LOCAL_PROJECT_ID,
    });
  }

  const parseEnvelope = (message: { json: unknown }) => {
    if (!message.json || typeof message.json !== 'object') throw new ValidationError('not JSON');
    return message.json as Envelope;
  };

  it('continues the producer’s trace: request → create → send, and create → process → its own work', async () => {
    const { event } = await placeOrder();
    await relay(event);
    let activeInHandler: string | undefined;
    const saga = handler({
      name: 'saga',
      parse: parseEnvelope,
      async handle(_input, { logger }) {
        activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
        logger.info('reserving');
        await telemetry.tracer.startActiveSpan('reserve inventory', async (span) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          span.end();
        });
      },
    });
    const result = await saga.handle({ method: 'POST', headers: {}, body: pushBody(pubsub.sent[0]!) });
    assert.equal(result.status, 204);

    const spans = await telemetry.finished();
    const request = only(spans, 'POST /orders');
    const create = only(spans, 'create order-events');
    const send = only(spans, 'send order-events');
    const process = only(spans, 'process order.created.v1');
    const work = only(spans, 'reserve inventory');

    for (const span of [create, send, process, work]) assert.equal(span.traceId, request.traceId, span.name);
    assert.equal(create.parentSpanId, request.spanId);
    assert.equal(send.parentSpanId, create.spanId);
    assert.equal(process.parentSpanId, create.spanId, 'the consumer continues the creation context');
    assert.equal(work.parentSpanId, process.spanId);
    assert.deepEqual([create.kind, send.kind, process.kind], ['producer', 'producer', 'consumer']);
    assert.equal(activeInHandler, process.spanId, 'the handler runs inside the process span');

    // The envelope and the attribute on the wire still name the creation span.
    const wire = pubsub.sent[0]!.message.attributes;
    assert.equal(wire[ATTRIBUTE.traceparent], `00-${create.traceId}-${create.spanId}-01`);
    assert.equal(event.traceparent, wire[ATTRIBUTE.traceparent]);

    // Every span of the step carries the order and correlation ids (the last one inherited).
    for (const span of [create, send, process, work]) {
      assert.equal(span.attributes[CONVEYOR_ATTRIBUTE.correlationId], CORRELATION_ID, span.name);
      assert.equal(span.attributes[CONVEYOR_ATTRIBUTE.orderId], ORDER_ID, span.name);
    }
    assert.equal(send.attributes[MESSAGING_ATTRIBUTE.messageId], '1');
    assert.equal(process.attributes[MESSAGING_ATTRIBUTE.subscription], 'saga');
    assert.equal(process.attributes[MESSAGING_ATTRIBUTE.destination], TOPIC.orderEvents);
    assert.equal(process.attributes[CONVEYOR_ATTRIBUTE.outcome], 'processed');
    assert.equal(process.attributes[MESSAGING_ATTRIBUTE.deliveryAttempt], 1);

    // The handler's log line names the process span, so logs and traces join.
    const line = logs.lines.find((entry) => entry.message === 'reserving')!;
    assert.equal(line[TRACE_FIELD], `projects/${LOCAL_PROJECT_ID}/traces/${process.traceId}`);
    assert.equal(line[SPAN_FIELD], process.spanId);

    // The console finds the trace by order and by correlation id.
    const spansStore = telemetry.spans!;
    assert.deepEqual(
      spansStore.traces({ orderId: ORDER_ID }).map((summary) => summary.traceId),
      [request.traceId],
    );
    assert.equal(spansStore.traces({ correlationId: CORRELATION_ID })[0]?.root.name, 'POST /orders');
    spansStore.clear();
  });

  it('records failures: retry, and a dead letter sent within the message’s trace', async () => {
    const { event } = await placeOrder();
    await relay(event);
    const failing = (error: Error) =>
      handler({ name: 'saga', parse: parseEnvelope, handle: () => Promise.reject(error) });

    const transient = await failing(new DependencyError('payment', 'down')).handle({
      method: 'POST',
      headers: {},
      body: pushBody(pubsub.sent[0]!),
    });
    assert.equal(transient.status, 503);
    const permanent = await failing(new ValidationError('unreadable order')).handle({
      method: 'POST',
      headers: {},
      body: pushBody(pubsub.sent[0]!),
    });
    assert.equal(permanent.status, 204);
    assert.equal(pubsub.sent[1]?.topic, TOPIC.deadLetters);

    const spans = await telemetry.finished();
    const create = only(spans, 'create order-events');
    const processes = spans.filter((span) => span.name === 'process order.created.v1');
    assert.deepEqual(
      processes.map((span) => [span.attributes[CONVEYOR_ATTRIBUTE.outcome], span.status.code]),
      [
        ['retry', 'error'],
        ['dead-lettered', 'error'],
      ],
    );
    assert.match(processes[0]!.status.message ?? '', /DependencyError: payment: down/);
    assert.ok(processes[0]!.events.some((e) => e.name === 'exception'));
    const deadLetter = only(spans, 'send dead-letters');
    assert.equal(deadLetter.traceId, create.traceId);
    assert.equal(deadLetter.parentSpanId, create.spanId);
    telemetry.spans!.clear();
  });

  it('traces and counts a message its consumer cannot parse', async () => {
    const { event } = await placeOrder();
    await relay(event);
    const sent = pubsub.sent[0]!;
    const garbled = { ...sent, message: { ...sent.message, data: Buffer.from('not json') } };
    const result = await handler({
      name: 'saga',
      parse: parseEnvelope,
      handle: () => Promise.resolve(),
    }).handle({
      method: 'POST',
      headers: {},
      body: pushBody(garbled),
    });
    assert.equal(result.status, 204);
    const spans = await telemetry.finished();
    const process = only(spans, 'process order.created.v1');
    assert.equal(process.attributes[CONVEYOR_ATTRIBUTE.outcome], 'dead-lettered');
    assert.equal(process.parentSpanId, only(spans, 'create order-events').spanId);
    telemetry.spans!.clear();
  });

  it('starts a new trace for a replayed message, linked to where the event was created', async () => {
    const { event } = await placeOrder();
    await relay(event);
    const sent = pubsub.sent[0]!;
    const replayed = {
      ...sent,
      message: {
        ...sent.message,
        attributes: { ...sent.message.attributes, [ATTRIBUTE.replay]: 'replay-7' },
      },
    };
    await handler({ name: 'saga', parse: parseEnvelope, handle: () => Promise.resolve() }).handle({
      method: 'POST',
      headers: {},
      body: pushBody(replayed, 'saga-replay'),
    });
    const spans = await telemetry.finished();
    const create = only(spans, 'create order-events');
    const process = only(spans, 'process order.created.v1');
    assert.notEqual(process.traceId, create.traceId);
    assert.equal(process.parentSpanId, undefined);
    assert.deepEqual(
      process.links.map((link) => [link.traceId, link.spanId]),
      [[create.traceId, create.spanId]],
    );
    assert.equal(process.attributes[CONVEYOR_ATTRIBUTE.replayId], 'replay-7');
    assert.equal(process.attributes[CONVEYOR_ATTRIBUTE.correlationId], CORRELATION_ID);
    telemetry.spans!.clear();
  });

  it('links the push request’s own trace (Cloud Run’s) while following the message’s', async () => {
    const { event } = await placeOrder();
    await relay(event);
    await telemetry.tracer.startActiveSpan('POST / (push)', { kind: SpanKind.SERVER }, async (push) => {
      await handler({ name: 'saga', parse: parseEnvelope, handle: () => Promise.resolve() }).handle({
        method: 'POST',
        headers: {},
        body: pushBody(pubsub.sent[0]!),
      });
      push.end();
    });
    const spans = await telemetry.finished();
    const push = only(spans, 'POST / (push)');
    const process = only(spans, 'process order.created.v1');
    assert.equal(process.traceId, only(spans, 'create order-events').traceId);
    assert.deepEqual(
      process.links.map((link) => link.spanId),
      [push.spanId],
    );
    telemetry.spans!.clear();
  });

  it('counts what it published and consumed, per topic, type, consumer and outcome', async () => {
    const published = (topic: string) =>
      sample(text, 'conveyor_events_published_total', { topic, type: 'order.created.v1' }) ?? 0;
    const consumed = (outcome: string) =>
      sample(text, 'conveyor_events_consumed_total', {
        consumer: 'saga',
        type: 'order.created.v1',
        outcome,
      }) ?? 0;
    const timed = () =>
      sample(text, 'conveyor_consumer_duration_seconds_count', { consumer: 'saga', outcome: 'processed' }) ??
      0;
    let text = await telemetry.prometheus();
    const before = {
      orderEvents: published('order-events'),
      deadLetters: published('dead-letters'),
      processed: consumed('processed'),
      retry: consumed('retry'),
      deadLettered: consumed('dead-lettered'),
      timed: timed(),
    };

    const { event } = await placeOrder();
    await relay(event);
    await relay(event);
    const body = pushBody(pubsub.sent[0]!);
    await handler({ name: 'saga', parse: parseEnvelope, handle: () => Promise.resolve() }).handle({
      method: 'POST',
      headers: {},
      body,
    });
    await handler({
      name: 'saga',
      parse: parseEnvelope,
      handle: () => Promise.reject(new DependencyError('payment', 'down')),
    }).handle({ method: 'POST', headers: {}, body });
    await handler({
      name: 'saga',
      parse: parseEnvelope,
      handle: () => Promise.reject(new ValidationError('never')),
    }).handle({ method: 'POST', headers: {}, body });

    text = await telemetry.prometheus();
    assert.equal(published('order-events') - before.orderEvents, 2);
    assert.equal(published('dead-letters') - before.deadLetters, 1);
    assert.equal(consumed('processed') - before.processed, 1);
    assert.equal(consumed('retry') - before.retry, 1);
    assert.equal(consumed('dead-lettered') - before.deadLettered, 1);
    assert.equal(timed() - before.timed, 1);
    telemetry.spans!.clear();
  });
});

/** The value of the one sample of `name` whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
