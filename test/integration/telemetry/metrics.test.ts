/**
 * /metrics after a scripted run (issue 9): every catalogued metric is exposed, and its values are
 * the ones the run must produce, checked against what Postgres recorded (events, deliveries,
 * orders, dead letters). The functions' numbers reach the API over OTLP, as in the local stack.
 *
 * The run: three orders complete; a fourth order's charge fails permanently, so the saga
 * dead-letters that delivery and the dead-letter function stores it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import {
  METRIC_LIST,
  METRICS,
  prometheusBaseName,
  prometheusName,
  type MetricSpec,
} from '#shared/telemetry/metrics-catalogue.ts';
import { parsePrometheus, type Exposition } from '../../helpers/prometheus.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

describe('/metrics after a scripted run', () => {
  let stack: Stack;
  const completed: string[] = [];
  let poisoned: string;

  before(async () => {
    stack = await startStack({ functions: ['saga', 'dead-letter'], telemetry: true });
    for (let i = 0; i < 3; i++) completed.push(await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }]));
    for (const orderId of completed) await stack.waitForOrder(orderId, 'completed');
    // Only now: the next order to reach its charge is this one.
    const claimed = stack.faults.poisonNext('charge');
    await stack.placeOrder([{ sku: 'PEN-1', quantity: 2 }]);
    poisoned = await claimed;
    await waitUntil(
      async () => {
        const { rows } = await stack.pool.query(`SELECT 1 FROM dead_letters WHERE order_id = $1`, [poisoned]);
        return rows.length === 1;
      },
      { timeoutMs: 30_000, what: 'the dead letter of the poisoned order' },
    );
  });
  after(() => stack.stop());

  /** /metrics once the run has settled: every event delivered, nothing waiting, numbers exported. */
  async function settledMetrics(): Promise<Exposition> {
    return waitUntil(
      async () => {
        await stack.telemetry!.flush();
        const response = await fetch(`${stack.api.url}/metrics`);
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        const metrics = parsePrometheus(await response.text());
        const idle =
          metrics.sum(gauge(METRICS.outboxBacklog)) === 0 &&
          metrics.sum(gauge(METRICS.subscriptionOldestUnackedAge), { subscription: 'saga' }) === 0 &&
          metrics.sum(gauge(METRICS.subscriptionOldestUnackedAge), { subscription: 'dead-letter' }) === 0;
        // Every event the saga will ever process is processed (the API counts its own sends).
        const { rows } = await stack.pool.query<{ pending: string }>(
          `SELECT count(*)::text AS pending FROM events e
            WHERE NOT EXISTS (SELECT 1 FROM processed_messages p WHERE p.consumer = 'saga' AND p.event_id = e.id::text)
              AND NOT (e.order_id = $1 AND e.type = $2)`,
          [poisoned, EVENT_TYPE.inventoryReserved],
        );
        const consumedBySaga = metrics.sum(prometheusName(METRICS.eventsConsumed), { consumer: 'saga' });
        const events = Number((await stack.pool.query(`SELECT count(*) FROM events`)).rows[0].count);
        return idle && rows[0]!.pending === '0' && consumedBySaga >= events ? metrics : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the run to settle in /metrics' },
    );
  }

  it('exposes every catalogued metric, with the values the run produced', async () => {
    const metrics = await settledMetrics();

    // Every family is declared, and has samples after this run.
    for (const spec of METRIC_LIST) {
      const family = spec.kind === 'histogram' ? prometheusBaseName(spec) : prometheusName(spec);
      assert.ok(metrics.types.has(family), `# TYPE ${family}`);
      const sample = spec.kind === 'histogram' ? `${family}_count` : family;
      assert.ok(metrics.select(sample).length > 0, `${sample} has samples`);
    }

    const { rows: byType } = await stack.pool.query<{ type: string; count: number }>(
      `SELECT type, count(*)::int AS count FROM events GROUP BY type`,
    );
    const eventCount = byType.reduce((total, row) => total + row.count, 0);

    // Published: every event once on order-events (by the relay), the dead letter once.
    const published = prometheusName(METRICS.eventsPublished);
    for (const { type, count } of byType) {
      assert.equal(metrics.sum(published, { topic: TOPIC.orderEvents, type }), count, `published ${type}`);
    }
    assert.equal(metrics.sum(published, { topic: TOPIC.orderEvents }), eventCount);
    assert.deepEqual(
      metrics.select(published, { topic: TOPIC.deadLetters }).map((s) => [s.labels.type, s.value]),
      [[EVENT_TYPE.inventoryReserved, 1]],
    );

    // Consumed by the saga: every event processed once, but the poisoned delivery, dead-lettered.
    const consumed = prometheusName(METRICS.eventsConsumed);
    const durationCount = `${prometheusBaseName(METRICS.processingDuration)}_count`;
    const durationSum = `${prometheusBaseName(METRICS.processingDuration)}_sum`;
    for (const { type, count } of byType) {
      const deadLettered = type === EVENT_TYPE.inventoryReserved ? 1 : 0;
      const processed = { consumer: 'saga', type, outcome: 'processed' };
      assert.equal(metrics.sum(consumed, processed), count - deadLettered, `saga processed ${type}`);
      assert.equal(metrics.sum(durationCount, processed), count - deadLettered, `saga latency of ${type}`);
    }
    assert.equal(
      metrics.sum(consumed, {
        consumer: 'saga',
        type: EVENT_TYPE.inventoryReserved,
        outcome: 'dead-lettered',
      }),
      1,
    );
    assert.equal(metrics.sum(consumed, { consumer: 'saga', outcome: 'retry' }), 0);
    assert.equal(metrics.sum(consumed, { consumer: 'dead-letter', outcome: 'processed' }), 1);
    assert.ok(metrics.sum(durationSum, { consumer: 'saga' }) > 0);
    for (const sample of metrics.select(consumed, { consumer: 'saga' }))
      assert.equal(sample.labels.service_name, 'saga', 'reported by the saga process');

    // End to end: one observation per completed order, summing to their acceptance→completion times.
    const orders = await Promise.all(completed.map((id) => stack.order(id)));
    const seconds = orders.map(
      (order) => (Date.parse(order!.completedAt!) - Date.parse(order!.createdAt)) / 1000,
    );
    const orderDuration = prometheusBaseName(METRICS.orderDuration);
    assert.equal(metrics.sum(`${orderDuration}_count`, { outcome: 'completed' }), 3);
    assert.ok(
      Math.abs(metrics.sum(`${orderDuration}_sum`, { outcome: 'completed' }) - sum(seconds)) < 1e-6,
      `order durations ${seconds.join(', ')}`,
    );
    const withinOneSecond = seconds.filter((s) => s <= 1).length;
    assert.equal(metrics.sum(`${orderDuration}_bucket`, { outcome: 'completed', le: '1' }), withinOneSecond);

    // Gauges, read at collection from Postgres and the emulator.
    assert.equal(metrics.sum(gauge(METRICS.outboxBacklog)), 0);
    assert.equal(metrics.sum(gauge(METRICS.outboxOldestAge)), 0);
    assert.equal(metrics.sum(gauge(METRICS.eventStoreEvents)), eventCount);
    const open = gauge(METRICS.deadLettersOpen);
    assert.equal(metrics.sum(open, { subscription: 'saga' }), 1);
    assert.equal(metrics.sum(open), 1, 'no other subscription has open dead letters');
    for (const subscription of ['saga', 'dead-letter'])
      assert.equal(metrics.sum(gauge(METRICS.subscriptionOldestUnackedAge), { subscription }), 0);
    const circuit = gauge(METRICS.circuitState);
    assert.deepEqual(
      metrics
        .select(circuit)
        .map((s) => [s.labels.provider, s.value])
        .sort(),
      [
        ['payment', 0],
        ['shipping', 0],
      ],
    );

    // HTTP: the four orders accepted, each charge's outcome accepted once.
    const http = `${prometheusBaseName(METRICS.httpServerDuration)}_count`;
    const accepted = { http_request_method: 'POST', http_route: '/v1/orders' };
    assert.equal(metrics.sum(http, { ...accepted, http_response_status_code: '202' }), 4);
    assert.equal(
      metrics.sum(http, {
        http_request_method: 'POST',
        http_route: '/v1/webhooks/payments',
        http_response_status_code: '200',
      }),
      3,
    );
  });
});

function gauge(spec: MetricSpec): string {
  return prometheusName(spec);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
