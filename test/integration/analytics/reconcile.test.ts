/**
 * Reconciliation end to end: the event store holds a generated history; BigQuery (the emulator)
 * lacks some of one day's events. `conveyor reconcile` finds exactly that gap; `--repair` replays
 * that day to analytics through the API (runner → replays topic → analytics-replay push → the
 * analytics function → BigQuery) and checks again until the counts agree.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { PubSub } from '@google-cloud/pubsub';
import { buildApp } from '../../../api/app.ts';
import { createAnalyticsHandler } from '../../../functions/analytics/handler.ts';
import { ensureTopology } from '../../../local/launcher/topology.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import type { ReconciliationReport } from '#shared/analytics/reconcile.ts';
import { eventRow, eventStreamRow } from '#shared/analytics/rows.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { outboxStats } from '#shared/store/outbox.ts';
import { dayOf, generateHistory, storeHistory } from '../../fixtures/order-history.ts';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { runCli } from '../replay/run-cli.ts';

const logger = createLogger({ service: 'reconcile-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const history = generateHistory({ orders: 45, days: 3 });
/** BigQuery never got these: day 2's order.created and payment.processed events of every other order. */
const lost = history.filter(
  (event, i) =>
    dayOf(event.time) === '2024-03-02' &&
    (event.type === EVENT_TYPE.orderCreated || event.type === EVENT_TYPE.paymentProcessed) &&
    i % 2 === 0,
);

describe('reconciliation of the event store with BigQuery, and its repair by replay', () => {
  let db: TestDatabase;
  let bq: EmulatedBigQuery;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let server: Server;
  let app: FastifyInstance;
  let env: Record<string, string>;
  const dataset = datasetName('reconcile');

  before(async () => {
    db = await createTestDatabase();
    await storeHistory(db.pool, history);
    bq = await startEmulatedBigQuery();
    await ensureAnalyticsDataset(bq.client, { dataset });
    const sink = createBigQuerySink({ bigquery: bq.client, dataset });
    const landed = history.filter((event) => !lost.includes(event));
    const outcomes = await sink.insert(
      'events',
      landed.map((event) =>
        eventStreamRow(eventRow(event, { publishTime: event.time, attributes: toMessage(event).attributes })),
      ),
    );
    assert.ok(outcomes.every((outcome) => outcome.status === 'inserted'));

    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    const handler = createAnalyticsHandler({
      sink,
      push: { logger, deadLetters: createDeadLetterSink(publisher), projectId: PROJECT_ID },
    });
    http(FUNCTION.analytics, (request, response) => handler.http(request, response));
    server = getTestServer(FUNCTION.analytics);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await ensureTopology({
      pubsub,
      endpoints: { analytics: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` },
    });
    app = await buildApp({
      pool: db.pool,
      relay: { trigger: () => {}, stats: () => outboxStats(db.pool) },
      logger,
      publisher,
      settings: { rateLimitPerMinute: 100_000, projectId: PROJECT_ID },
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    env = {
      CONVEYOR_API_URL: url,
      CONVEYOR_API_KEY: (await createApiKey(db.pool, { name: 'ops', scopes: ['admin'] })).key,
      DATABASE_URL: db.url,
      CONVEYOR_PROJECT_ID: TEST_PROJECT,
      BIGQUERY_DATASET: dataset,
      BIGQUERY_API_ENDPOINT: bq.url,
    };
  });

  after(async () => {
    await app.close();
    await publisher.close();
    await pubsub.close();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
    await bq.stop();
    await db.drop();
  });

  const args = ['reconcile', '--from', '2024-03-01', '--to', '2024-03-04', '--json', '--poll-ms', '200'];

  it('finds the gap: the day and types BigQuery misses, and how many (exit 1)', async () => {
    const { code, stdout, stderr } = await runCli(args, env);
    assert.equal(code, 1, stderr);
    const { report } = JSON.parse(stdout) as { report: ReconciliationReport };
    const inRange = history.filter((event) => event.time < '2024-03-04T00:00:00.000Z').length;
    assert.deepEqual([report.stored, report.missing, report.extra], [inRange, lost.length, 0]);
    assert.deepEqual(
      report.gaps.map((day) => day.day),
      ['2024-03-02'],
    );
    const count = (type: string) => lost.filter((event) => event.type === type).length;
    assert.deepEqual(
      report.gaps[0]!.types.filter((type) => type.missing > 0).map((type) => [type.type, type.missing]),
      [
        [EVENT_TYPE.orderCreated, count(EVENT_TYPE.orderCreated)],
        [EVENT_TYPE.paymentProcessed, count(EVENT_TYPE.paymentProcessed)],
      ],
    );
  });

  it('--repair replays the day to analytics and BigQuery agrees with the store (exit 0)', async () => {
    const { code, stdout, stderr } = await runCli([...args, '--repair'], env);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout) as {
      repairs: { status: string; consumer: string; request: { from: string; types: string[] } }[];
      after: ReconciliationReport;
    };
    assert.deepEqual(
      result.repairs.map((replay) => [
        replay.status,
        replay.consumer,
        replay.request.from,
        replay.request.types,
      ]),
      [
        [
          'completed',
          'analytics',
          '2024-03-02T00:00:00.000Z',
          [EVENT_TYPE.orderCreated, EVENT_TYPE.paymentProcessed],
        ],
      ],
    );
    assert.deepEqual([result.after.missing, result.after.extra, result.after.gaps], [0, 0, []]);
    const again = await runCli(args, env);
    assert.equal(again.code, 0, again.stderr);
    // The views see every event once: the funnel counts every order placed on day 2 again.
    const [rows] = await bq.client.query(
      `SELECT placed FROM ${dataset}.order_funnel_daily WHERE day = DATE '2024-03-02'`,
    );
    const placed = history.filter(
      (e) => e.type === EVENT_TYPE.orderCreated && dayOf(e.time) === '2024-03-02',
    ).length;
    assert.deepEqual(rows, [{ placed }]);
  });
});
