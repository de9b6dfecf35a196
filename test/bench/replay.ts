/**
 * Replay benchmark (`npm run bench:replay`): a 100,000-event replay into BigQuery through the real
 * path, every piece in its own process as in the local stack: the event store (embedded Postgres,
 * or a new database on DATABASE_URL) → the API (api/server.ts, which runs the replay) → the Pub/Sub
 * emulator's replays topic → the analytics-replay push subscription → the analytics function under
 * functions-framework → the BigQuery emulator. Timed from POST /v1/replays until BigQuery holds
 * every event; then the views must count every event exactly once. Prints events/s; writes
 * .tmp/bench/replay.json (and a timestamped copy). Exits 1 when the target is missed.
 *
 *   BENCH_EVENTS=100000 (default)  BENCH_TARGET_SECONDS=60
 *   BENCH_FUNCTION_ENV='ANALYTICS_BATCH_MAX_DELAY_MS=20 …' (extra environment for the function)
 *   BENCH_PROFILE=analytics-function,api,pubsub-emulator,bigquery-emulator (CPU profiles of those
 *   processes in .tmp/bench/profiles)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BigQuery } from '@google-cloud/bigquery';
import { PubSub } from '@google-cloud/pubsub';
import pg from 'pg';
import { createBigQueryClient } from '#shared/analytics/client.ts';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import { LOCAL_PROJECT_ID } from '#shared/contracts/catalogue.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { migrate } from '#shared/store/migrate.ts';
import { createPool } from '#shared/store/pool.ts';
import { ensureTopology } from '../../local/launcher/topology.ts';
import { startLocalPostgres, type LocalPostgres } from '../../local/postgres/index.ts';
import { generateHistory, storeHistory } from '../fixtures/order-history.ts';
import { startProcess, type ManagedProcess } from '../helpers/processes.ts';
import { freePort } from '../../local/ports.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const TARGET_SECONDS = Number(process.env.BENCH_TARGET_SECONDS ?? 60);
const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT_DIR = path.join(ROOT, '.tmp/bench');
const PROJECT = LOCAL_PROJECT_ID;
const DATASET = 'analytics';
const FUNCTIONS_FRAMEWORK = path.join(
  ROOT,
  'node_modules/@google-cloud/functions-framework/build/src/main.js',
);

const log = (line: string) => process.stderr.write(`bench replay: ${line}\n`);

async function peakRssKiB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmHWM:\s+(\d+)/.exec(status);
  return match ? Number(match[1]) : undefined;
}

async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / 100 : undefined;
}

/** An embedded Postgres in a scratch directory (or a new database on DATABASE_URL), migrated. */
async function benchDatabase(): Promise<{ url: string; stop: () => Promise<void> }> {
  let server: LocalPostgres | undefined;
  let scratch: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'conveyor-bench-'));
    server = await startLocalPostgres({ dataDir: path.join(scratch, 'data'), ephemeral: true, fast: true });
    adminUrl = server.url();
  }
  const name = `conveyor_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate({ databaseUrl: url.toString() });
  return {
    url: url.toString(),
    async stop() {
      if (server) {
        await server.stop();
        if (scratch) await rm(scratch, { recursive: true, force: true });
      } else {
        const again = new pg.Client(adminUrl);
        await again.connect();
        await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await again.end();
      }
    },
  };
}

async function count(bigquery: BigQuery, sql: string): Promise<Record<string, number>> {
  const [rows] = await bigquery.query(sql);
  return Object.fromEntries(
    Object.entries((rows as Record<string, unknown>[])[0]!).map(([k, v]) => [k, Number(v)]),
  );
}

const stack: (() => Promise<void>)[] = [];
let exitCode: number;
try {
  log(`generating ${EVENTS.toLocaleString('en')} events`);
  // ~7.4 events per order on average (test/fixtures/order-history.ts); trim to exactly EVENTS.
  const history = generateHistory({ orders: Math.ceil(EVENTS / 7) + 50, days: 7 }).slice(0, EVENTS);
  const from = history[0]!.time;
  const to = new Date(Date.parse(history.at(-1)!.time) + 1).toISOString();
  const orders = new Set(history.filter((e) => e.type === 'order.created.v1').map((e) => e.subject)).size;

  const database = await benchDatabase();
  stack.push(() => database.stop());
  const pool = createPool({ url: database.url, applicationName: 'bench', max: 4 });
  stack.push(() => pool.end());
  await storeHistory(pool, history);
  const apiKey = (await createApiKey(pool, { name: 'bench-ops', scopes: ['admin'] })).key;
  log('event store ready');

  const processes: Record<string, ManagedProcess> = {};
  const profile = (process.env.BENCH_PROFILE ?? '').split(',').filter(Boolean);
  const start = (name: string, args: string[], env: Record<string, string> = {}) => {
    const flags = profile.includes(name)
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(OUT_DIR, 'profiles')}`]
      : [];
    const child = startProcess(process.execPath, [...flags, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    processes[name] = child;
    stack.push(() => child.stop());
    return child;
  };

  const pubsubProcess = start('pubsub-emulator', [
    'local/pubsub-emulator/main.ts',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ]);
  const bigqueryProcess = start('bigquery-emulator', [
    'local/bigquery-emulator/main.ts',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ]);
  const [, pubsubAddress] = await pubsubProcess.waitFor(/Pub\/Sub emulator listening on (\S+)/);
  const [, bqHost, bqPort] = await bigqueryProcess.waitFor(/BigQuery emulator listening on (\S+):(\d+)/);
  const bigqueryUrl = `http://${bqHost}:${bqPort}`;
  const bigquery = createBigQueryClient({ projectId: PROJECT, apiEndpoint: bigqueryUrl });
  await ensureAnalyticsDataset(bigquery, { dataset: DATASET });

  const functionPort = await freePort();
  const extraEnv = Object.fromEntries(
    (process.env.BENCH_FUNCTION_ENV ?? '')
      .split(' ')
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, string]),
  );
  const fn = start(
    'analytics-function',
    [
      FUNCTIONS_FRAMEWORK,
      '--target=analytics',
      '--source=functions/analytics/index.ts',
      `--port=${functionPort}`,
    ],
    {
      CONVEYOR_PROJECT_ID: PROJECT,
      LOG_LEVEL: 'warn',
      BIGQUERY_DATASET: DATASET,
      BIGQUERY_API_ENDPOINT: bigqueryUrl,
      PUBSUB_EMULATOR_HOST: pubsubAddress!,
      ...extraEnv,
    },
  );
  await fn.waitFor(/Serving function/);
  const pubsub = new PubSub({
    projectId: PROJECT,
    apiEndpoint: pubsubAddress!,
    emulatorMode: true,
    universeDomain: 'googleapis.com',
  });
  stack.push(() => pubsub.close());
  await ensureTopology({ pubsub, endpoints: { analytics: `http://127.0.0.1:${functionPort}/` } });

  const api = start('api', ['api/server.ts'], {
    DATABASE_URL: database.url,
    PORT: '0',
    HOST: '127.0.0.1',
    CONVEYOR_PROJECT_ID: PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubAddress!,
    OUTBOX_LISTEN: 'false',
    LOG_LEVEL: 'info',
  });
  const [, apiUrl] = await api.waitFor(/listening on (http:\/\/[\d.:]+)/);
  log(
    `stack ready: API ${apiUrl}, function :${functionPort}, Pub/Sub ${pubsubAddress}, BigQuery ${bigqueryUrl}`,
  );

  const cpuBefore = Object.fromEntries(
    await Promise.all(
      Object.entries(processes).map(async ([name, p]) => [name, await cpuSeconds(p.child.pid)]),
    ),
  ) as Record<string, number | undefined>;
  const started = performance.now();
  const response = await fetch(`${apiUrl}/v1/replays`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ from, to, consumer: 'analytics' }),
  });
  if (response.status !== 202)
    throw new Error(`POST /v1/replays: ${response.status} ${await response.text()}`);
  const { id } = (await response.json()) as { id: string };
  log(`replay ${id} accepted`);

  let publishedSeconds: number | undefined;
  let landed = 0;
  const deadline = started + Math.max(TARGET_SECONDS * 3, 120) * 1000;
  let lastReport = 0;
  while (landed < EVENTS && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (publishedSeconds === undefined) {
      const replay = (await (
        await fetch(`${apiUrl}/v1/replays/${id}`, { headers: { authorization: `Bearer ${apiKey}` } })
      ).json()) as { status: string; progress: { published: number } };
      if (replay.status === 'failed') throw new Error(`the replay failed: ${JSON.stringify(replay)}`);
      if (replay.status === 'completed') publishedSeconds = (performance.now() - started) / 1000;
    }
    landed =
      (await count(bigquery, `SELECT COUNT(DISTINCT event_id) AS landed FROM ${DATASET}.events`)).landed ?? 0;
    if (performance.now() - lastReport > 5_000) {
      lastReport = performance.now();
      log(
        `${((performance.now() - started) / 1000).toFixed(1)} s: ${landed.toLocaleString('en')} events in BigQuery`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = Object.fromEntries(
    await Promise.all(
      Object.entries(processes).map(async ([name, p]) => {
        const after = await cpuSeconds(p.child.pid);
        const before = cpuBefore[name];
        return [
          name,
          after !== undefined && before !== undefined ? Math.round((after - before) * 10) / 10 : undefined,
        ];
      }),
    ),
  ) as Record<string, number | undefined>;

  const table = await count(
    bigquery,
    `SELECT COUNT(*) AS rows, COUNT(DISTINCT event_id) AS events FROM ${DATASET}.events`,
  );
  const unique = await count(
    bigquery,
    `SELECT COUNT(*) AS rows, COUNT(DISTINCT event_id) AS events FROM ${DATASET}.events_unique`,
  );
  const funnel = await count(bigquery, `SELECT SUM(placed) AS placed FROM ${DATASET}.order_funnel_daily`);
  const duplicatesInViews = unique.rows! - unique.events!;
  const eventsPerSecond = Math.round(EVENTS / seconds);
  const pass =
    landed === EVENTS &&
    seconds < TARGET_SECONDS &&
    duplicatesInViews === 0 &&
    unique.events === EVENTS &&
    funnel.placed === orders;
  const result = {
    name: 'replay',
    config: {
      events: EVENTS,
      orders,
      cpus: os.availableParallelism(),
      node: process.version,
      functionEnv: extraEnv,
    },
    seconds: Math.round(seconds * 10) / 10,
    publishedSeconds: publishedSeconds === undefined ? null : Math.round(publishedSeconds * 10) / 10,
    eventsPerSecond,
    landed,
    table: { rows: table.rows, events: table.events, duplicateRows: table.rows! - table.events! },
    views: { events: unique.events, duplicates: duplicatesInViews, funnelPlaced: funnel.placed, orders },
    cpuSeconds: cpu,
    peakRssKiB: Object.fromEntries(
      await Promise.all(
        Object.entries(processes).map(async ([name, p]) => [name, await peakRssKiB(p.child.pid)]),
      ),
    ),
    target: { seconds: TARGET_SECONDS, duplicatesInViews: 0 },
    pass,
    at: new Date().toISOString(),
  };
  console.log(
    `\nreplay of ${EVENTS.toLocaleString('en')} events into BigQuery: ${result.seconds} s` +
      ` (published in ${result.publishedSeconds ?? '?'} s), ${eventsPerSecond.toLocaleString('en')} events/s;` +
      ` ${table.rows! - table.events!} duplicate rows in the table, ${duplicatesInViews} in the views;` +
      ` target < ${TARGET_SECONDS} s: ${pass ? 'PASS' : 'FAIL'}`,
  );
  console.log(`CPU seconds per process: ${JSON.stringify(cpu)}`);
  await mkdir(OUT_DIR, { recursive: true });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  await writeFile(path.join(OUT_DIR, 'replay.json'), json);
  await writeFile(path.join(OUT_DIR, `replay-${result.at.replace(/[:.]/g, '-')}.json`), json);
  exitCode = pass ? 0 : 1;
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  for (const stop of stack.reverse())
    await stop().catch((error: unknown) => log(`cleanup: ${String(error)}`));
}
process.exit(exitCode);
