/**
 * The analyst views of shared/analytics/views/, created by ensureAnalyticsDataset exactly as the
 * launcher creates them, over a generated history with known answers (test/fixtures/order-history.ts)
 * streamed through the BigQuery sink, plus late duplicates of some events and dead letters: each
 * view returns the answers computed here from the same history, counting every event once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureAnalyticsDataset, loadViews } from '#shared/analytics/dataset.ts';
import {
  deadLetterRow,
  deadLetterStreamRow,
  eventRow,
  eventStreamRow,
  type DeadLetterMessage,
} from '#shared/analytics/rows.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE, PUBSUB_DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import { dayOf, generateHistory } from '../../fixtures/order-history.ts';
import {
  datasetName,
  startEmulatedBigQuery,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

const events = generateHistory({ orders: 120, days: 3 });
/** Every seventh event arrives again after BigQuery's de-duplication window: a new insertId. */
const late = events.filter((_, i) => i % 7 === 0);

/** APPROX_QUANTILES(x, 100)[OFFSET(k)] as the emulator computes it: the nearest-rank value. */
function quantile(values: number[], k: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((k * sorted.length) / 100)) - 1]!;
}

const byOrder = new Map<string, DomainEvent[]>();
for (const event of events) byOrder.set(event.subject, [...(byOrder.get(event.subject) ?? []), event]);
const firstAt = (order: DomainEvent[], type: string) => {
  const found = order.find((event) => event.type === type);
  return found ? Date.parse(found.time) : undefined;
};

type Row = Record<string, unknown>;
const sortedBy = <T extends Row>(rows: T[], ...keys: string[]) =>
  [...rows].sort((a, b) =>
    keys
      .map((key) => String(a[key]))
      .join('|')
      .localeCompare(keys.map((key) => String(b[key])).join('|')),
  );

describe('analytics views on the BigQuery emulator', () => {
  let bq: EmulatedBigQuery;
  const dataset = datasetName('views');
  const deadLetters: DeadLetterMessage[] = [];

  before(async () => {
    bq = await startEmulatedBigQuery();
    await ensureAnalyticsDataset(bq.client, { dataset });
    const sink = createBigQuerySink({ bigquery: bq.client, dataset });
    const rows = events.map((event) =>
      eventStreamRow(eventRow(event, { publishTime: event.time, attributes: toMessage(event).attributes })),
    );
    const lateRows = late.map((event) => {
      const row = eventRow(event, {
        publishTime: new Date(Date.parse(event.time) + 3_600_000).toISOString(),
        attributes: { ...toMessage(event).attributes, 'conveyor-replay': 'r-1' },
      });
      return { insertId: `${event.id}:after-the-window`, json: { ...row } };
    });
    for (const outcome of await sink.insert(BIGQUERY.eventsTable, [...rows, ...lateRows]))
      assert.equal(outcome.status, 'inserted');

    // Dead letters: saga gave up on some events at once, notifier after its last attempt (one of
    // them twice: redriven, then dead-lettered again), ingest on a message that was no event.
    let n = 0;
    const letter = (event: DomainEvent | undefined, attributes: Record<string, string>) => {
      const message = event ? toMessage(event) : { data: Buffer.from('{not json'), attributes: {} };
      deadLetters.push({
        messageId: `dl-${++n}`,
        publishTime: new Date(Date.parse(event?.time ?? '2024-03-02T12:00:00Z') + 60_000).toISOString(),
        attributes: { ...message.attributes, ...attributes },
        data: message.data,
      });
    };
    const permanent = (subscription: string) => ({
      [DEAD_LETTER_ATTRIBUTE.subscription]: subscription,
      [DEAD_LETTER_ATTRIBUTE.reason]: 'ValidationError: invalid',
      [DEAD_LETTER_ATTRIBUTE.deliveryAttempt]: '1',
    });
    const exhausted = (subscription: string) => ({
      [PUBSUB_DEAD_LETTER_ATTRIBUTE.subscription]: `projects/conveyor-test/subscriptions/${subscription}`,
      [PUBSUB_DEAD_LETTER_ATTRIBUTE.deliveryCount]: '10',
    });
    events.filter((_, i) => i % 40 === 1).forEach((event) => letter(event, permanent('saga')));
    const notified = events.filter((_, i) => i % 55 === 2);
    notified.forEach((event) => letter(event, exhausted('notifier')));
    letter(notified[0], exhausted('notifier'));
    letter(undefined, { ...permanent('ingest'), [DEAD_LETTER_ATTRIBUTE.topic]: 'inbound-events' });
    const dlRows = deadLetters.map((message) => deadLetterStreamRow(deadLetterRow(message)));
    // One dead letter stored twice (a redelivery to the dead-letter path after the window).
    const again = { ...dlRows[0]!, insertId: `${dlRows[0]!.insertId}:again` };
    for (const outcome of await sink.insert(BIGQUERY.deadLettersTable, [...dlRows, again]))
      assert.equal(outcome.status, 'inserted');
  });
  after(() => bq.stop());

  const query = async (sql: string) => (await bq.client.query(sql))[0] as Record<string, unknown>[];
  const day = (value: unknown) => (value as { value: string }).value;

  it('creates every view of shared/analytics/views, each after the views it reads', () => {
    const names = loadViews({ project: 'p', dataset: 'd' }).map((view) => view.name);
    assert.deepEqual([...names].sort(), [
      'dead_letter_rate_daily',
      'events_unique',
      'fulfilment_latency_daily',
      'order_funnel_daily',
      'revenue_daily',
    ]);
    assert.ok(names.indexOf('events_unique') < names.indexOf('order_funnel_daily'));
  });

  it('the table holds duplicates; events_unique holds every event once', async () => {
    const [raw] = await query(`SELECT COUNT(*) AS n FROM ${dataset}.events`);
    assert.equal(raw!.n, events.length + late.length);
    const [unique] = await query(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids FROM ${dataset}.events_unique`,
    );
    assert.deepEqual(unique, { n: events.length, ids: events.length });
  });

  it('order_funnel_daily: orders placed per day and the steps they reached', async () => {
    const days = new Map<string, Record<string, number>>();
    const steps = {
      approval_requested: EVENT_TYPE.orderApprovalRequested,
      reserved: EVENT_TYPE.inventoryReserved,
      paid: EVENT_TYPE.paymentProcessed,
      shipped: EVENT_TYPE.shipmentDispatched,
      delivered: EVENT_TYPE.shipmentDelivered,
      completed: EVENT_TYPE.orderCompleted,
      cancelled: EVENT_TYPE.orderCancelled,
    };
    for (const order of byOrder.values()) {
      const placed = dayOf(order[0]!.time);
      const counts = days.get(placed) ?? {
        placed: 0,
        ...Object.fromEntries(Object.keys(steps).map((k) => [k, 0])),
      };
      counts.placed!++;
      for (const [step, type] of Object.entries(steps))
        if (order.some((e) => e.type === type)) counts[step]!++;
      days.set(placed, counts);
    }
    const expected = [...days.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([placed, counts]): Row => ({
        day: placed,
        ...counts,
        conversion: Math.round((counts.completed! / counts.placed!) * 10_000) / 10_000,
      }));
    const rows = await query(`SELECT * FROM ${dataset}.order_funnel_daily ORDER BY day`);
    assert.deepEqual(
      rows.map((row) => ({ ...row, day: day(row.day) })),
      expected,
    );
    assert.ok(
      expected.every((d) => Number(d.cancelled) > 0 && Number(d.completed) > 0 && Number(d.conversion) < 1),
    );
  });

  it('fulfilment_latency_daily: p50/p90/p99 per step for the orders of each day', async () => {
    const stepTypes: Record<string, [string, string]> = {
      placed_to_reserved: [EVENT_TYPE.orderCreated, EVENT_TYPE.inventoryReserved],
      reserved_to_paid: [EVENT_TYPE.inventoryReserved, EVENT_TYPE.paymentProcessed],
      paid_to_shipped: [EVENT_TYPE.paymentProcessed, EVENT_TYPE.shipmentDispatched],
      shipped_to_delivered: [EVENT_TYPE.shipmentDispatched, EVENT_TYPE.shipmentDelivered],
      placed_to_completed: [EVENT_TYPE.orderCreated, EVENT_TYPE.orderCompleted],
    };
    const samples = new Map<string, number[]>();
    for (const order of byOrder.values()) {
      for (const [step, [from, to]] of Object.entries(stepTypes)) {
        const [start, end] = [firstAt(order, from), firstAt(order, to)];
        if (start === undefined || end === undefined) continue;
        const key = `${dayOf(order[0]!.time)}|${step}`;
        samples.set(key, [...(samples.get(key) ?? []), end - start]);
      }
    }
    const expected = sortedBy(
      [...samples.entries()].map(([key, ms]) => {
        const [placed, step] = key.split('|') as [string, string];
        return {
          day: placed,
          step,
          orders: ms.length,
          p50_ms: quantile(ms, 50),
          p90_ms: quantile(ms, 90),
          p99_ms: quantile(ms, 99),
        };
      }),
      'day',
      'step',
    );
    const rows = await query(`SELECT * FROM ${dataset}.fulfilment_latency_daily`);
    assert.deepEqual(
      sortedBy(
        rows.map((row) => ({ ...row, day: day(row.day) })),
        'day',
        'step',
      ),
      expected,
    );
    assert.equal(expected.length, 15, 'five steps on each of three days');
  });

  it('revenue_daily: revenue and refunds per day and currency, to the cent', async () => {
    const totals = new Map<string, Record<string, number>>();
    for (const event of events) {
      if (event.type !== EVENT_TYPE.paymentProcessed && event.type !== EVENT_TYPE.paymentRefunded) continue;
      const key = `${dayOf(event.time)}|${event.data.currency}`;
      const t = totals.get(key) ?? { payments: 0, revenue_minor: 0, refunds: 0, refunded_minor: 0 };
      if (event.type === EVENT_TYPE.paymentProcessed) {
        t.payments!++;
        t.revenue_minor! += event.data.amountMinor;
      } else {
        t.refunds!++;
        t.refunded_minor! += event.data.amountMinor;
      }
      totals.set(key, t);
    }
    const expected = sortedBy(
      [...totals.entries()].map(([key, t]): Row => {
        const [paid, currency] = key.split('|') as [string, string];
        return { day: paid, currency, ...t, net_minor: t.revenue_minor! - t.refunded_minor! };
      }),
      'day',
      'currency',
    );
    const rows = await query(`SELECT * FROM ${dataset}.revenue_daily`);
    assert.deepEqual(
      sortedBy(
        rows.map((row) => ({ ...row, day: day(row.day) })),
        'day',
        'currency',
      ),
      expected,
    );
    assert.ok(
      expected.some((row) => Number(row.refunds) > 0) && expected.some((row) => row.currency === 'USD'),
    );
  });

  it('dead_letter_rate_daily: dead letters per day and subscription, and the rate of order events', async () => {
    const eventsPerDay = new Map<string, number>();
    for (const event of events)
      eventsPerDay.set(dayOf(event.time), (eventsPerDay.get(dayOf(event.time)) ?? 0) + 1);
    const groups = new Map<string, { rows: ReturnType<typeof deadLetterRow>[] }>();
    for (const message of deadLetters) {
      const row = deadLetterRow(message);
      const key = `${dayOf(row.event_time ?? row.dead_lettered_at)}|${row.subscription}`;
      groups.set(key, { rows: [...(groups.get(key)?.rows ?? []), row] });
    }
    const expected = sortedBy(
      [...groups.entries()].map(([key, { rows }]) => {
        const [letterDay, subscription] = key.split('|') as [string, string];
        const topic = rows[0]!.source_topic;
        const distinct = new Set(rows.map((row) => row.event_id).filter(Boolean)).size;
        const delivered = eventsPerDay.get(letterDay) ?? 0;
        return {
          day: letterDay,
          subscription,
          source_topic: topic,
          dead_letters: rows.length,
          permanent: rows.filter((row) => row.kind === 'permanent').length,
          exhausted: rows.filter((row) => row.kind === 'exhausted').length,
          events_dead_lettered: distinct,
          events_delivered: topic === 'order-events' ? delivered : null,
          rate: topic === 'order-events' ? Math.round((distinct / delivered) * 1e6) / 1e6 : null,
        };
      }),
      'day',
      'subscription',
    );
    const rows = await query(`SELECT * FROM ${dataset}.dead_letter_rate_daily`);
    assert.deepEqual(
      sortedBy(
        rows.map((row) => ({ ...row, day: day(row.day) })),
        'day',
        'subscription',
      ),
      expected,
    );
    const notifier = expected.filter((row) => row.subscription === 'notifier');
    assert.ok(
      notifier.some((row) => row.dead_letters > row.events_dead_lettered),
      'one event dead-lettered twice',
    );
    assert.deepEqual(
      expected.filter((row) => row.subscription === 'ingest').map((row) => [row.source_topic, row.rate]),
      [['inbound-events', null]],
    );
  });
});
