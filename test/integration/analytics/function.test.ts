/**
 * functions/analytics as deployed: its handler under @google-cloud/functions-framework, pushed to
 * by our Pub/Sub emulator through the catalogue's subscriptions (ensureTopology: `analytics` on
 * order-events, `analytics-replay` on replays), streaming into the BigQuery emulator.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import { createBigQuerySink, type AnalyticsSink } from '#shared/analytics/sink.ts';
import { FUNCTION, REPLAY_CONSUMER_ATTRIBUTE, TOPIC } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { ensureTopology } from '../../../local/launcher/topology.ts';
import { createAnalyticsHandler } from '../../../functions/analytics/handler.ts';
import { sampleEvent } from '../../fixtures/events.ts';
import {
  datasetName,
  startEmulatedBigQuery,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';

const logger = createLogger({ service: 'analytics-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('analytics function: push from the Pub/Sub emulator into the BigQuery emulator', () => {
  let bq: EmulatedBigQuery;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let server: Server;
  const dataset = datasetName('fn');
  const deadLetters: Message[] = [];
  let handler: ReturnType<typeof createAnalyticsHandler>;

  before(async () => {
    bq = await startEmulatedBigQuery();
    await ensureAnalyticsDataset(bq.client, { dataset });
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    handler = createAnalyticsHandler({
      sink: createBigQuerySink({ bigquery: bq.client, dataset }),
      push: { logger, deadLetters: createDeadLetterSink(publisher), projectId: PROJECT_ID },
    });
    http(FUNCTION.analytics, (request, response) => handler.http(request, response));
    server = getTestServer(FUNCTION.analytics);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await ensureTopology({ pubsub, endpoints: { analytics: endpoint } });
    const [dlq] = await pubsub.topic(TOPIC.deadLetters).createSubscription('dead-letters-under-test');
    dlq.on('message', (message: Message) => {
      deadLetters.push(message);
      message.ack();
    });
  });

  after(async () => {
    await pubsub.close();
    await publisher.close();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
    await bq.stop();
  });

  const publish = async (topic: string, event: object, attributes: Record<string, string> = {}) => {
    const message = toMessage(event as DomainEvent, attributes);
    const [outcome] = await publisher.publish(topic, [message]);
    assert.ok(outcome?.messageId, String(outcome?.error));
  };
  const rowsOf = async (table: string, ids: string[]) =>
    (
      await bq.client.query({
        query: `SELECT event_id, type, attributes FROM ${dataset}.${table} WHERE event_id IN UNNEST(@ids)`,
        params: { ids },
      })
    )[0] as { event_id: string; type: string; attributes: string }[];

  it('lands every order event of order-events in the events table, each once', async () => {
    const orderId = crypto.randomUUID();
    const events = [
      sampleEvent(EVENT_TYPE.orderCreated, { orderId }),
      sampleEvent(EVENT_TYPE.inventoryReserved, { orderId, sequence: 2 }),
      sampleEvent(EVENT_TYPE.paymentRequested, { orderId, sequence: 3 }),
    ];
    for (const event of events) await publish(TOPIC.orderEvents, event);
    // A duplicate publish: the same event under a second message id.
    await publish(TOPIC.orderEvents, events[1]!);
    const ids = events.map((event) => event.id);
    await waitUntil(async () => (await rowsOf('events_unique', ids)).length === 3, { what: 'three rows' });
    const raw = await rowsOf('events', ids);
    assert.deepEqual(
      raw.map((row) => row.event_id).sort(),
      [...ids].sort(),
      'insertId de-duplicated the copy',
    );
    const [row] = raw.filter((r) => r.event_id === events[0]!.id);
    assert.equal(row!.type, 'order.created.v1');
    assert.equal((JSON.parse(row!.attributes) as Record<string, string>)[ATTRIBUTE.subject], orderId);
  });

  it('takes replays addressed to analytics (analytics-replay), not those addressed to others', async () => {
    const forUs = sampleEvent(EVENT_TYPE.orderCompleted);
    const forSaga = sampleEvent(EVENT_TYPE.orderCompleted);
    await publish(TOPIC.replays, forSaga, {
      [REPLAY_CONSUMER_ATTRIBUTE]: 'saga',
      [ATTRIBUTE.replay]: 'r-saga',
    });
    await publish(TOPIC.replays, forUs, {
      [REPLAY_CONSUMER_ATTRIBUTE]: 'analytics',
      [ATTRIBUTE.replay]: 'r-1',
    });
    const [row] = await waitUntil(async () => {
      const rows = await rowsOf('events', [forUs.id]);
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal((JSON.parse(row!.attributes) as Record<string, string>)[ATTRIBUTE.replay], 'r-1');
    // The saga's replay is never pushed to analytics: by now it would have landed too.
    await handler.batcher.flush();
    assert.deepEqual(await rowsOf('events', [forSaga.id]), []);
  });

  it('a live event replayed later is still one event in the views', async () => {
    const event = sampleEvent(EVENT_TYPE.shipmentDispatched);
    await publish(TOPIC.orderEvents, event);
    await waitUntil(async () => (await rowsOf('events', [event.id])).length === 1);
    const written = handler.batcher.stats().rows;
    await publish(TOPIC.replays, event, {
      [REPLAY_CONSUMER_ATTRIBUTE]: 'analytics',
      [ATTRIBUTE.replay]: 'r-2',
    });
    await waitUntil(() => handler.batcher.stats().rows > written, { what: 'the replayed row' });
    await handler.batcher.flush();
    assert.equal((await rowsOf('events_unique', [event.id])).length, 1);
  });

  it('dead-letters an event that is not valid, with its reason, and acks it', async () => {
    const bad = { ...sampleEvent(EVENT_TYPE.paymentProcessed), data: { amountMinor: -5 } };
    await publish(TOPIC.orderEvents, bad);
    const letter = await waitUntil(() => deadLetters.find((m) => m.attributes[ATTRIBUTE.id] === bad.id), {
      what: 'the dead letter',
    });
    assert.equal(letter.attributes[DEAD_LETTER_ATTRIBUTE.subscription], FUNCTION.analytics);
    assert.equal(letter.attributes[DEAD_LETTER_ATTRIBUTE.topic], TOPIC.orderEvents);
    assert.match(letter.attributes[DEAD_LETTER_ATTRIBUTE.reason]!, /invalid payment.processed.v1 data/);
    assert.deepEqual(await rowsOf('events', [bad.id]), []);
  });
});

describe('analytics handler: one insertAll for concurrent pushes', () => {
  it('batches rows of concurrent requests and answers each after its insert', async () => {
    const inserts: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sink: AnalyticsSink = {
      async insert(_table, rows) {
        inserts.push(rows.length);
        await gate;
        return rows.map(() => ({ status: 'inserted' as const }));
      },
    };
    const handler = createAnalyticsHandler({
      sink,
      batch: { maxRows: 50, maxDelayMs: 5, maxInFlight: 1 },
      push: {
        logger,
        deadLetters: { deadLetter: () => Promise.reject(new Error('no dead letters expected')) },
        projectId: PROJECT_ID,
      },
    });
    const pushes = Array.from({ length: 30 }, (_, n) => {
      const event = sampleEvent(EVENT_TYPE.orderCreated);
      const message = toMessage(event);
      return handler.handle({
        method: 'POST',
        headers: {},
        body: {
          message: {
            data: message.data.toString('base64'),
            attributes: message.attributes,
            messageId: String(n),
            publishTime: new Date().toISOString(),
          },
          subscription: `projects/${PROJECT_ID}/subscriptions/analytics`,
          deliveryAttempt: 1,
        },
      });
    });
    let answered = 0;
    for (const push of pushes) void push.then(() => answered++);
    await waitUntil(() => inserts.length === 1);
    assert.equal(answered, 0, 'no request is answered before its row is inserted');
    release();
    const outcomes = await Promise.all(pushes);
    assert.deepEqual(inserts, [30]);
    assert.ok(outcomes.every((outcome) => outcome.status === 204));
  });
});
