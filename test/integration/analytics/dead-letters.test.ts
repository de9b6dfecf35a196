/**
 * Dead letters into BigQuery: a consumer gives up on an event (createDeadLetterSink, as every
 * function does for a permanent error), the message reaches the dead-letters topic, and the
 * dead-letter function's consumer stores it in Postgres (once) and records it into the BigQuery
 * emulator, where dead_letter_rate_daily counts it once, however often it is delivered.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { PubSub } from '@google-cloud/pubsub';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import { createDeadLetterRecorder } from '#shared/analytics/dead-letters.ts';
import { eventRow, eventStreamRow } from '#shared/analytics/rows.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import { decodePush, toMessage } from '#shared/messaging/codec.ts';
import { createPushHandler } from '#shared/messaging/consumer.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { sampleEvent } from '../../fixtures/events.ts';
import {
  datasetName,
  startEmulatedBigQuery,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { createDeadLetterConsumer } from '../../../functions/dead-letter/handler.ts';

const logger = createLogger({ service: 'dead-letters-test', level: 'silent' });

describe('dead letters into BigQuery', () => {
  let bq: EmulatedBigQuery;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let server: Server;
  let db: TestDatabase;
  const dataset = datasetName('deadletters');
  let recorded = 0;

  before(async () => {
    db = await createTestDatabase();
    bq = await startEmulatedBigQuery();
    await ensureAnalyticsDataset(bq.client, { dataset });
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    const recorder = createDeadLetterRecorder(createBigQuerySink({ bigquery: bq.client, dataset }));
    const consumer = createDeadLetterConsumer({ pool: db.pool, analytics: recorder });
    const handler = createPushHandler(
      {
        ...consumer,
        handle: async (message, context) => {
          await consumer.handle(message, context);
          recorded++;
        },
      },
      {
        logger,
        deadLetters: { deadLetter: () => Promise.reject(new Error('unexpected')) },
        projectId: PROJECT_ID,
      },
    );
    http('dead-letter-under-test', (request, response) => handler.http(request, response));
    server = getTestServer('dead-letter-under-test');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await pubsub.createTopic(TOPIC.deadLetters);
    await pubsub.topic(TOPIC.deadLetters).createSubscription('dead-letter', {
      pushConfig: { pushEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` },
    });
  });

  after(async () => {
    await pubsub.close();
    await publisher.close();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
    await bq.stop();
    await db.drop();
  });

  it('a permanent failure at the saga reaches dead_letters; the rate of its day counts the event once', async () => {
    const time = '2024-05-01T10:00:00.000Z';
    const events = [0, 1, 2, 3].map(() => sampleEvent(EVENT_TYPE.orderCreated, { time }));
    const sink = createBigQuerySink({ bigquery: bq.client, dataset });
    await sink.insert(
      'events',
      events.map((event) => eventStreamRow(eventRow(event, { publishTime: time, attributes: {} }))),
    );
    // What the saga's push handler does with an event it can never process.
    const delivered = toMessage(events[0]!);
    const received = decodePush({
      message: {
        data: delivered.data.toString('base64'),
        attributes: delivered.attributes,
        messageId: 'saga-delivery-1',
        publishTime: time,
        orderingKey: delivered.orderingKey,
      },
      subscription: `projects/${PROJECT_ID}/subscriptions/saga`,
      deliveryAttempt: 1,
    });
    const deadLetters = createDeadLetterSink(publisher);
    await deadLetters.deadLetter(received, 'ValidationError: no such SKU', TOPIC.orderEvents);
    // Dead-lettering is at least once: the same dead letter forwarded again is another message.
    await deadLetters.deadLetter(received, 'ValidationError: no such SKU', TOPIC.orderEvents);
    await waitUntil(() => recorded === 2, { what: 'both dead letters recorded' });
    const stored = await db.pool.query<{ source_subscription: string; last_error: string }>(
      `SELECT source_subscription, last_error FROM dead_letters WHERE status = 'open'`,
    );
    assert.deepEqual(stored.rows, [
      { source_subscription: 'saga', last_error: 'ValidationError: no such SKU' },
    ]);

    const [rows] = await bq.client.query(
      `SELECT subscription, source_topic, kind, event_id, reason, delivery_attempts FROM ${dataset}.dead_letters`,
    );
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0], {
      subscription: 'saga',
      source_topic: 'order-events',
      kind: 'permanent',
      event_id: events[0]!.id,
      reason: 'ValidationError: no such SKU',
      delivery_attempts: 1,
    });
    const [rate] = await bq.client.query(`SELECT * FROM ${dataset}.dead_letter_rate_daily`);
    assert.deepEqual(
      rate.map((row: Record<string, unknown>) => ({ ...row, day: (row.day as { value: string }).value })),
      [
        {
          day: '2024-05-01',
          subscription: 'saga',
          source_topic: 'order-events',
          dead_letters: 2,
          permanent: 2,
          exhausted: 0,
          events_dead_lettered: 1,
          events_delivered: 4,
          rate: 0.25,
        },
      ],
    );
  });
});
