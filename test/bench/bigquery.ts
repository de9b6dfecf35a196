/**
 * BigQuery emulator benchmark (`npm run bench:bigquery`): streams N order events through
 * tabledata.insertAll in batches of 500 with insertIds (the analytics sink's shape) with the real
 * client, re-sends a slice to measure de-duplication, then times analyst queries over the table
 * and reading every row back through paged query results. The emulator runs as its own process,
 * as `npm run emulator:bigquery` starts it. Prints rows/s and query times; writes
 * .tmp/bench/bigquery.json (and a timestamped copy). Exits 1 when insertAll is under the floor a
 * 100,000-event replay in 60 s needs.
 *
 *   BENCH_ROWS=100000 (default)  BENCH_BATCH=500  BENCH_CONCURRENCY=1,4 (batches in flight)
 */
import { randomUUID } from 'node:crypto';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BigQuery, type BigQueryOptions, type Table } from '@google-cloud/bigquery';
import CliTable from 'cli-table3';
import { startProcess } from '../helpers/processes.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,4').split(',').map(Number);
/** A 100,000-event replay must land in under 60 s; insertAll alone must clear that with room. */
const FLOOR_ROWS_PER_SECOND = 2_000;
const OUT_DIR = path.resolve(import.meta.dirname, '../../.tmp/bench');
const PROJECT = 'conveyor-bench';
const TYPES = [
  'order.created.v1',
  'inventory.reserved.v1',
  'payment.processed.v1',
  'shipment.dispatched.v1',
  'shipment.delivered.v1',
  'order.completed.v1',
];

const noCredentials = {
  getRequestHeaders: () => Promise.resolve(new Headers()),
} as unknown as BigQueryOptions['authClient'];

/** Order events as the analytics function would stream them: insertId = event id. */
function eventRows(from: number, count: number, runId: string) {
  const start = Date.parse('2024-06-01T00:00:00Z');
  return Array.from({ length: count }, (_, k) => {
    const n = from + k;
    const order = Math.floor(n / TYPES.length);
    const type = TYPES[n % TYPES.length]!;
    const eventId = `${runId}-${String(n).padStart(8, '0')}`;
    const time = new Date(start + order * 45_000 + (n % TYPES.length) * 90_000);
    return {
      insertId: eventId,
      json: {
        event_id: eventId,
        type,
        order_id: `order-${order}`,
        sequence: (n % TYPES.length) + 1,
        event_time: time.toISOString(),
        published_at: new Date(time.getTime() + 40).toISOString(),
        payload: JSON.stringify({
          orderId: `order-${order}`,
          amount: ((order % 97) + 3.5).toFixed(2),
          currency: 'EUR',
          lines: [{ sku: `sku-${order % 13}`, quantity: 1 + (order % 3), unitPrice: '3.50' }],
        }),
        attributes: JSON.stringify({
          'ce-type': type,
          'ce-subject': `order-${order}`,
          'ce-sequence': String((n % TYPES.length) + 1),
        }),
      },
    };
  });
}

async function insertAll(
  table: Table,
  offset: number,
  count: number,
  concurrency: number,
  runId: string,
): Promise<number> {
  const started = performance.now();
  let next = offset;
  const end = offset + count;
  const worker = async () => {
    while (next < end) {
      const from = next;
      next += BATCH;
      await table.insert(eventRows(from, Math.min(BATCH, end - from), runId), { raw: true });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

async function timed<T>(task: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const started = performance.now();
  const result = await task();
  return { seconds: (performance.now() - started) / 1000, result };
}

async function peakRssKiB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmHWM:\s+(\d+)/.exec(status);
  return match ? Number(match[1]) : undefined;
}

const child = startProcess(
  process.execPath,
  ['local/bigquery-emulator/main.ts', '--host', '127.0.0.1', '--port', '0'],
  {
    cwd: path.resolve(import.meta.dirname, '../..'),
  },
);
let exitCode = 0;
try {
  const ready = await child.waitFor(/BigQuery emulator listening on (\S+):(\d+)/);
  const client = new BigQuery({
    projectId: PROJECT,
    apiEndpoint: `http://${ready[1]}:${ready[2]}`,
    authClient: noCredentials,
  });
  const runId = randomUUID().slice(0, 8);
  const [dataset] = await client.createDataset('analytics');

  const inserts: { concurrency: number; rows: number; seconds: number; rowsPerSecond: number }[] = [];
  let total = 0;
  let table: Table | undefined;
  for (const concurrency of CONCURRENCY) {
    const name = `events_c${concurrency}`;
    [table] = await dataset.createTable(name, {
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
    const seconds = await insertAll(table, 0, ROWS, concurrency, runId);
    inserts.push({ concurrency, rows: ROWS, seconds, rowsPerSecond: ROWS / seconds });
    total = ROWS;
  }
  const events = table!;
  const tableName = `\`${PROJECT}.analytics.${events.id}\``;

  // The same events again (a replay's redelivery): all dropped by insertId.
  const resend = Math.min(ROWS, 20_000);
  const dedupSeconds = await insertAll(events, 0, resend, CONCURRENCY.at(-1) ?? 1, runId);
  const [[counts]] = await client.query(
    `SELECT COUNT(*) AS rows, COUNT(DISTINCT event_id) AS events FROM ${tableName}`,
  );
  const duplicates = Number(counts.rows) - Number(counts.events);
  if (Number(counts.rows) !== total || duplicates !== 0) {
    console.error(
      `expected ${total} rows and no duplicates, found ${String(counts.rows)} rows, ${duplicates} duplicates`,
    );
    exitCode = 1;
  }

  const queries: Record<string, string> = {
    'events per type': `SELECT type, COUNT(*) AS n FROM ${tableName} GROUP BY type`,
    'funnel per day (QUALIFY dedup)': `
      WITH events AS (SELECT * FROM ${tableName} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY published_at) = 1)
      SELECT DATE(event_time) AS day, COUNTIF(type = 'order.created.v1') AS created, COUNTIF(type = 'order.completed.v1') AS completed
      FROM events GROUP BY day ORDER BY day`,
    'latency p50/p99 per step': `
      WITH steps AS (
        SELECT order_id, MIN(IF(type = 'order.created.v1', event_time, NULL)) AS created_at,
               MIN(IF(type = 'payment.processed.v1', event_time, NULL)) AS paid_at
        FROM ${tableName} GROUP BY order_id)
      SELECT APPROX_QUANTILES(TIMESTAMP_DIFF(paid_at, created_at, MILLISECOND), 100)[OFFSET(50)] AS p50,
             APPROX_QUANTILES(TIMESTAMP_DIFF(paid_at, created_at, MILLISECOND), 100)[OFFSET(99)] AS p99
      FROM steps WHERE paid_at IS NOT NULL`,
    'revenue per day (JSON_VALUE)': `
      SELECT DATE(event_time) AS day, SUM(CAST(JSON_VALUE(payload, '$.amount') AS NUMERIC)) AS revenue
      FROM ${tableName} WHERE type = 'payment.processed.v1' GROUP BY day ORDER BY day`,
  };
  const queryTimes: { name: string; seconds: number; rows: number }[] = [];
  for (const [name, sql] of Object.entries(queries)) {
    await client.query(sql);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await timed(() => client.query(sql)));
    runs.sort((a, b) => a.seconds - b.seconds);
    queryTimes.push({ name, seconds: runs[1]!.seconds, rows: runs[1]!.result[0].length });
  }
  const readBack = await timed(() => client.query(`SELECT * FROM ${tableName}`));
  queryTimes.push({
    name: `read all ${total} rows (paged results)`,
    seconds: readBack.seconds,
    rows: readBack.result[0].length,
  });

  const memory = await peakRssKiB(child.child.pid);
  const best = Math.max(...inserts.map((i) => i.rowsPerSecond));
  const pass = best >= FLOOR_ROWS_PER_SECOND && exitCode === 0;
  if (!pass) exitCode = 1;

  const table1 = new CliTable({ head: ['insertAll', 'rows', 'seconds', 'rows/s'] });
  for (const i of inserts)
    table1.push([
      `batches of ${BATCH}, ${i.concurrency} in flight`,
      i.rows,
      i.seconds.toFixed(2),
      Math.round(i.rowsPerSecond),
    ]);
  table1.push([
    `re-sent ${resend} (all de-duplicated)`,
    resend,
    dedupSeconds.toFixed(2),
    Math.round(resend / dedupSeconds),
  ]);
  const table2 = new CliTable({ head: [`query over ${total} rows`, 'rows out', 'median seconds'] });
  for (const q of queryTimes) table2.push([q.name, q.rows, q.seconds.toFixed(3)]);
  console.log(table1.toString());
  console.log(table2.toString());
  console.log(
    `insertAll best ${Math.round(best)} rows/s (floor ${FLOOR_ROWS_PER_SECOND}): ${pass ? 'ok' : 'BELOW TARGET'}; ` +
      `duplicates after re-send: ${duplicates}` +
      (memory ? `; emulator peak RSS ${(memory / 1024).toFixed(0)} MiB` : ''),
  );

  await mkdir(OUT_DIR, { recursive: true });
  const json = `${JSON.stringify({ at: new Date().toISOString(), rows: ROWS, batch: BATCH, inserts, dedup: { resent: resend, seconds: dedupSeconds, duplicates }, queries: queryTimes, peakRssKiB: memory, pass }, null, 2)}\n`;
  await writeFile(path.join(OUT_DIR, 'bigquery.json'), json);
  await writeFile(
    path.join(OUT_DIR, `bigquery-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    json,
  );
  console.log(`results written to ${path.join(OUT_DIR, 'bigquery.json')}`);
} catch (error) {
  console.error('bench failed:', error);
  if (child.output()) console.error(child.output());
  exitCode = 1;
} finally {
  await child.stop();
}
process.exit(exitCode);
