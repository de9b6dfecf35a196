/**
 * Analyst views over an order-events table, the way the analytics dataset is meant to be queried:
 * a generated history with known answers (funnel per day, latency percentiles per step, revenue
 * and refunds per day), including duplicate rows that the views de-duplicate by event id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Dataset } from '@google-cloud/bigquery';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

interface Event {
  event_id: string;
  type: string;
  order_id: string;
  sequence: number;
  event_time: Date;
  published_at: Date;
  payload: Record<string, unknown>;
  attributes: Record<string, string>;
}

const DAY0 = Date.parse('2024-03-01T00:00:00Z');
const ORDERS = 90;

/** A deterministic history: most orders complete, every tenth fails payment, some are refunded. */
function generate(): Event[] {
  const events: Event[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const orderId = `order-${String(i).padStart(3, '0')}`;
    const cents = 1000 + (i % 9) * 250;
    const total = (cents / 100).toFixed(2);
    let sequence = 0;
    let time = DAY0 + (i % 3) * 86_400_000 + i * 7 * 60_000;
    const emit = (type: string, afterMs: number, payload: Record<string, unknown>) => {
      time += afterMs;
      sequence++;
      events.push({
        event_id: `${orderId}-${sequence}`,
        type,
        order_id: orderId,
        sequence,
        event_time: new Date(time),
        published_at: new Date(time + 250),
        payload,
        attributes: { 'ce-type': type, 'ce-subject': orderId },
      });
    };
    emit('order.created.v1', 0, {
      total,
      currency: 'EUR',
      lines: [{ sku: `sku-${i % 4}`, qty: 1 + (i % 3) }],
    });
    if (i % 10 === 3) {
      emit('payment.failed.v1', 500 + (i % 7) * 100, { reason: 'card_declined' });
      emit('order.cancelled.v1', 1000, { reason: 'payment failed' });
      continue;
    }
    emit('payment.processed.v1', 500 + (i % 7) * 100, { amount: total });
    emit('shipment.dispatched.v1', ((i % 5) + 1) * 60_000, { carrier: 'sandbox' });
    emit('shipment.delivered.v1', ((i % 4) + 1) * 3_600_000, {});
    emit('order.completed.v1', 1000, {});
    if (i % 10 === 7) emit('payment.refunded.v1', 86_400_000, { amount: total });
  }
  return events;
}

const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** BigQuery's APPROX_QUANTILES(x, n)[OFFSET(k)] on small inputs: the nearest-rank value. */
function quantile(values: number[], k: number, n: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((k * sorted.length) / n)) - 1]!;
}

/** NUMERIC as BigQuery prints it, from cents. */
const numeric = (cents: number) => String(cents / 100);

const DEDUPED = (table: string) => `
  SELECT * FROM \`${table}\`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY published_at) = 1`;

const VIEWS = {
  order_funnel_daily: (table: string) => `
    WITH events AS (${DEDUPED(table)}),
    orders AS (
      SELECT
        order_id,
        DATE(MIN(IF(type = 'order.created.v1', event_time, NULL))) AS day,
        LOGICAL_OR(type = 'payment.processed.v1') AS paid,
        LOGICAL_OR(type = 'shipment.dispatched.v1') AS dispatched,
        LOGICAL_OR(type = 'order.completed.v1') AS completed,
        LOGICAL_OR(type = 'order.cancelled.v1') AS cancelled
      FROM events
      GROUP BY order_id
    )
    SELECT
      day,
      COUNT(*) AS created,
      COUNTIF(paid) AS paid,
      COUNTIF(dispatched) AS dispatched,
      COUNTIF(completed) AS completed,
      COUNTIF(cancelled) AS cancelled,
      ROUND(SAFE_DIVIDE(COUNTIF(completed), COUNT(*)), 4) AS completion_rate
    FROM orders
    GROUP BY day`,
  fulfilment_latency: (table: string) => `
    WITH events AS (${DEDUPED(table)}),
    steps AS (
      SELECT
        order_id,
        MIN(IF(type = 'order.created.v1', event_time, NULL)) AS created_at,
        MIN(IF(type = 'payment.processed.v1', event_time, NULL)) AS paid_at,
        MIN(IF(type = 'shipment.dispatched.v1', event_time, NULL)) AS dispatched_at,
        MIN(IF(type = 'shipment.delivered.v1', event_time, NULL)) AS delivered_at
      FROM events
      GROUP BY order_id
    ),
    latencies AS (
      SELECT 'payment' AS step, TIMESTAMP_DIFF(paid_at, created_at, MILLISECOND) AS ms FROM steps WHERE paid_at IS NOT NULL
      UNION ALL
      SELECT 'dispatch', TIMESTAMP_DIFF(dispatched_at, paid_at, MILLISECOND) FROM steps WHERE dispatched_at IS NOT NULL
      UNION ALL
      SELECT 'delivery', TIMESTAMP_DIFF(delivered_at, dispatched_at, MILLISECOND) FROM steps WHERE delivered_at IS NOT NULL
    )
    SELECT
      step,
      COUNT(*) AS orders,
      APPROX_QUANTILES(ms, 100)[OFFSET(50)] AS p50_ms,
      APPROX_QUANTILES(ms, 100)[OFFSET(90)] AS p90_ms,
      APPROX_QUANTILES(ms, 100)[OFFSET(99)] AS p99_ms,
      MAX(ms) AS max_ms
    FROM latencies
    GROUP BY step`,
  revenue_daily: (table: string) => `
    SELECT
      DATE(event_time) AS day,
      SUM(IF(type = 'payment.processed.v1', CAST(JSON_VALUE(payload, '$.amount') AS NUMERIC), 0)) AS revenue,
      SUM(IF(type = 'payment.refunded.v1', CAST(JSON_VALUE(payload.amount) AS NUMERIC), 0)) AS refunds,
      COUNTIF(type = 'payment.refunded.v1') AS refund_count
    FROM (${DEDUPED(table)})
    WHERE type IN UNNEST(['payment.processed.v1', 'payment.refunded.v1'])
    GROUP BY day`,
};

describe('BigQuery emulator: analyst views over order events', () => {
  let bq: EmulatedBigQuery;
  let dataset: Dataset;
  const events = generate();
  const duplicates = events.filter((_, i) => i % 5 === 0);

  before(async () => {
    bq = await startEmulatedBigQuery();
    [dataset] = await bq.client.createDataset(datasetName('analytics'));
    await dataset.createTable('events', {
      schema: [
        { name: 'event_id', type: 'STRING', mode: 'REQUIRED' },
        { name: 'type', type: 'STRING', mode: 'REQUIRED' },
        { name: 'order_id', type: 'STRING' },
        { name: 'sequence', type: 'INTEGER' },
        { name: 'event_time', type: 'TIMESTAMP', mode: 'REQUIRED' },
        { name: 'published_at', type: 'TIMESTAMP' },
        { name: 'payload', type: 'JSON' },
        { name: 'attributes', type: 'JSON' },
      ],
      timePartitioning: { type: 'DAY', field: 'event_time' },
      clustering: { fields: ['type', 'order_id'] },
    });
    const rows = (list: Event[], suffix: string) =>
      list.map((e) => ({
        insertId: `${e.event_id}${suffix}`,
        json: { ...e, payload: JSON.stringify(e.payload), attributes: JSON.stringify(e.attributes) },
      }));
    const table = dataset.table('events');
    for (let i = 0; i < events.length; i += 200)
      await table.insert(rows(events.slice(i, i + 200), ''), { raw: true });
    // Redelivered after the de-duplication window: same event ids, new insertIds, later publish.
    await table.insert(
      rows(
        duplicates.map((e) => ({ ...e, published_at: new Date(e.published_at.getTime() + 60_000) })),
        ':redelivered',
      ),
      { raw: true },
    );
    const name = `${TEST_PROJECT}.${dataset.id}.events`;
    for (const [view, sql] of Object.entries(VIEWS)) await dataset.createTable(view, { view: sql(name) });
  });
  after(() => bq.stop());

  const query = async (sql: string) => (await bq.client.query(sql))[0] as Record<string, unknown>[];

  it('holds the duplicates the views have to remove', async () => {
    const [row] = await query(
      `SELECT COUNT(*) AS rows, COUNT(DISTINCT event_id) AS events FROM ${dataset.id}.events`,
    );
    assert.deepEqual(row, { rows: events.length + duplicates.length, events: events.length });
  });

  it('order funnel per day', async () => {
    const byDay = new Map<
      string,
      { created: number; paid: number; dispatched: number; completed: number; cancelled: number }
    >();
    for (const e of events) {
      if (e.type !== 'order.created.v1') continue;
      const own = events.filter((x) => x.order_id === e.order_id).map((x) => x.type);
      const day = byDay.get(isoDay(e.event_time)) ?? {
        created: 0,
        paid: 0,
        dispatched: 0,
        completed: 0,
        cancelled: 0,
      };
      day.created++;
      if (own.includes('payment.processed.v1')) day.paid++;
      if (own.includes('shipment.dispatched.v1')) day.dispatched++;
      if (own.includes('order.completed.v1')) day.completed++;
      if (own.includes('order.cancelled.v1')) day.cancelled++;
      byDay.set(isoDay(e.event_time), day);
    }
    const expected = [...byDay.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([day, counts]) => ({
        day,
        ...counts,
        completion_rate: Math.round((counts.completed / counts.created) * 10_000) / 10_000,
      }));
    const rows = await query(`SELECT * FROM ${dataset.id}.order_funnel_daily ORDER BY day`);
    assert.deepEqual(
      rows.map((r) => ({ ...r, day: (r.day as { value: string }).value })),
      expected,
    );
    assert.equal(
      expected.reduce((n, d) => n + d.created, 0),
      ORDERS,
    );
  });

  it('fulfilment latency percentiles per step', async () => {
    const at = (order: string, type: string) =>
      events.find((e) => e.order_id === order && e.type === type)?.event_time.getTime();
    const orders = [...new Set(events.map((e) => e.order_id))];
    const latencies = (from: string, to: string) =>
      orders.flatMap((o) => {
        const [start, end] = [at(o, from), at(o, to)];
        return start !== undefined && end !== undefined ? [end - start] : [];
      });
    const steps = {
      payment: latencies('order.created.v1', 'payment.processed.v1'),
      dispatch: latencies('payment.processed.v1', 'shipment.dispatched.v1'),
      delivery: latencies('shipment.dispatched.v1', 'shipment.delivered.v1'),
    };
    const expected = Object.entries(steps)
      .map(([step, ms]) => ({
        step,
        orders: ms.length,
        p50_ms: quantile(ms, 50, 100),
        p90_ms: quantile(ms, 90, 100),
        p99_ms: quantile(ms, 99, 100),
        max_ms: Math.max(...ms),
      }))
      .sort((a, b) => a.step.localeCompare(b.step));
    assert.deepEqual(await query(`SELECT * FROM ${dataset.id}.fulfilment_latency ORDER BY step`), expected);
  });

  it('revenue and refunds per day, exact to the cent', async () => {
    const byDay = new Map<string, { revenue: number; refunds: number; refund_count: number }>();
    for (const e of events) {
      if (e.type !== 'payment.processed.v1' && e.type !== 'payment.refunded.v1') continue;
      const day = byDay.get(isoDay(e.event_time)) ?? { revenue: 0, refunds: 0, refund_count: 0 };
      const cents = Math.round(Number(e.payload.amount) * 100);
      if (e.type === 'payment.processed.v1') day.revenue += cents;
      else {
        day.refunds += cents;
        day.refund_count++;
      }
      byDay.set(isoDay(e.event_time), day);
    }
    const expected = [...byDay.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([day, d]) => ({
        day,
        revenue: numeric(d.revenue),
        refunds: numeric(d.refunds),
        refund_count: d.refund_count,
      }));
    const rows = await query(`SELECT * FROM ${dataset.id}.revenue_daily ORDER BY day`);
    assert.deepEqual(
      rows.map((r) => ({
        ...r,
        day: (r.day as { value: string }).value,
        revenue: String(r.revenue),
        refunds: String(r.refunds),
      })),
      expected,
    );
  });

  it('filters on the partitioning and clustering columns as analysts do', async () => {
    const from = new Date(DAY0 + 86_400_000).toISOString();
    const rows = await bq.client.query({
      query: `SELECT type, COUNT(DISTINCT event_id) AS n
              FROM \`${TEST_PROJECT}.${dataset.id}.events\`
              WHERE DATE(event_time) = DATE(@from) AND type IN UNNEST(@types)
              GROUP BY type ORDER BY type`,
      params: { from: bq.client.timestamp(from), types: ['order.created.v1', 'order.cancelled.v1'] },
    });
    const day = isoDay(new Date(from));
    const count = (type: string) =>
      events.filter((e) => e.type === type && isoDay(e.event_time) === day).length;
    assert.deepEqual(rows[0], [
      { type: 'order.cancelled.v1', n: count('order.cancelled.v1') },
      { type: 'order.created.v1', n: count('order.created.v1') },
    ]);
  });
});
