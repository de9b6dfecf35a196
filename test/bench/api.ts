/**
 * The accept-path benchmark: POST /v1/orders (committed and published) against a bare Fastify route
 * doing one Postgres insert, in the same run on the same Postgres, both as processes the way they
 * are deployed (api/server.ts, and this file with `bare-server`), driven by autocannon at 50
 * connections with a unique Idempotency-Key per request. Then the API again at half its peak rate
 * for p99. The relay publishes to the local Pub/Sub emulator (its own process); the publish lag of
 * every accepted order is read from the outbox afterwards.
 *
 *   BENCH_DURATION_S=10 (per round)  BENCH_ROUNDS=3  BENCH_WARMUP_S=3  BENCH_CONNECTIONS=50
 *   BENCH_PG_POOL_MAX=20  BENCH_API_NODE_FLAGS (extra node flags for the API process)
 *   The API's own tuning variables (ORDER_BATCH_CONCURRENCY, OUTBOX_LINGER_MS, ...) pass through.
 *   BENCH_PG_DURABLE=1 (fsync and synchronous commit on; default off, like the local stack)
 *   DATABASE_URL (use that server instead of an embedded one)
 *   BENCH_PROFILE=1 (write CPU profiles of the API and bare server to .tmp/bench/profiles)
 *   BENCH_API_LOG_LEVEL=debug BENCH_API_LOG=<file> (keep the API's log, one line per request at debug)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { startLocalPostgres, type LocalPostgres } from '../../local/postgres/index.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { putCatalogueItem, setInventory } from '#shared/store/catalogue.ts';
import { migrate } from '#shared/store/migrate.ts';
import { createPool } from '#shared/store/pool.ts';
import { startProcess, type ManagedProcess } from '../helpers/processes.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROJECT_ID = 'conveyor-bench';

export interface LoadResult {
  /** Successful (2xx) requests per second. */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU of the server process per 1,000 requests, in ms (user + system). */
  serverCpuMsPer1k: number;
  /** CPU per 1,000 requests of everything involved: server, Postgres, Pub/Sub emulator, load generator. */
  cpuMsPer1k: { server: number; postgres: number; emulator: number; loadGenerator: number; total: number };
}

export interface PublishLag {
  /** commit → marked published, over the orders of the run. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Unpublished rows when the load stopped, and how long the relay took to clear them. */
  backlogAtEnd: number;
  drainMs: number;
  /** Rows per relay cycle (rows marked by one statement share their published_at). */
  rowsPerCycle: number;
}

export interface ApiBenchResult {
  name: 'api';
  config: {
    connections: number;
    durationSeconds: number;
    rounds: number;
    pgPoolMax: number;
    pgDurable: boolean;
    cpus: number;
    node: string;
  };
  bare: LoadResult;
  accept: LoadResult & { publishLag: PublishLag };
  ratio: number;
  halfPeak: LoadResult & { targetRps: number; publishLag: PublishLag };
  /** Every round's figure, of which the medians above. */
  rounds: { bare: number[]; accept: number[]; halfPeakP99Ms: number[] };
  targets: { ratio: number; halfPeakP99Ms: number };
  pass: boolean;
}

const ORDER = JSON.stringify({
  customerId: 'bench-customer',
  currency: 'EUR',
  lines: [
    { sku: 'BENCH-1', quantity: 2 },
    { sku: 'BENCH-2', quantity: 1 },
  ],
  shippingAddress: {
    name: 'Ada Lovelace',
    line1: '1 Analytical St',
    city: 'London',
    postalCode: 'N1 9GU',
    country: 'GB',
  },
});

export async function runApiBench(log: (line: string) => void = console.log): Promise<ApiBenchResult> {
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const duration = Number(process.env.BENCH_DURATION_S ?? 10);
  const warmup = Number(process.env.BENCH_WARMUP_S ?? 3);
  const poolMax = Number(process.env.BENCH_PG_POOL_MAX ?? 20);
  const durable = process.env.BENCH_PG_DURABLE === '1';
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const stack: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const stop of stack.reverse())
      await stop().catch((error: unknown) => log(`cleanup: ${String(error)}`));
  };
  try {
    log('bench api: starting Postgres, the Pub/Sub emulator, the API and the bare server');
    const { url: databaseUrl, pid: postgresPid, stop: stopPostgres } = await benchDatabase(durable);
    stack.push(stopPostgres);
    const emulator = startProcess(
      process.execPath,
      ['local/pubsub-emulator/main.ts', '--host', '127.0.0.1', '--port', '0'],
      {
        cwd: ROOT,
      },
    );
    stack.push(() => emulator.stop());
    const [, host, port] = await emulator.waitFor(/Pub\/Sub emulator listening on (\S+):(\d+)/);
    const emulatorAddress = `${host}:${port}`;
    const pubsub = new PubSub({
      projectId: PROJECT_ID,
      apiEndpoint: emulatorAddress,
      emulatorMode: true,
      universeDomain: 'googleapis.com',
    });
    stack.push(() => pubsub.close());
    const [topic] = await pubsub.createTopic('order-events');
    // A subscription nobody drains: the emulator keeps what it is sent, as for a real consumer.
    await topic.createSubscription('saga', { enableMessageOrdering: true });

    const pool = createPool({ url: databaseUrl, applicationName: 'bench', max: 2 });
    stack.push(() => pool.end());
    const { key } = await createApiKey(pool, {
      name: 'bench',
      scopes: ['orders:write'],
      rateLimitPerMinute: 1e9,
    });
    for (const [sku, price] of [
      ['BENCH-1', 1250],
      ['BENCH-2', 199],
    ] as const) {
      await putCatalogueItem(pool, { sku, name: sku, unitPriceMinor: price, currency: 'EUR' }, 'bench');
      await setInventory(pool, { sku, available: 1_000_000_000 }, 'bench');
    }
    await pool.query(
      'CREATE TABLE bench_bare (id uuid PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
    );

    const serverEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PG_POOL_MAX: String(poolMax),
      LOG_LEVEL: process.env.BENCH_API_LOG_LEVEL ?? 'info',
    };
    const profile =
      process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', '--cpu-prof-dir=.tmp/bench/profiles'] : [];
    const nodeFlags = (process.env.BENCH_API_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const api = startProcess(process.execPath, [...profile, ...nodeFlags, 'api/server.ts'], {
      cwd: ROOT,
      env: {
        ...serverEnv,
        PORT: '0',
        HOST: '127.0.0.1',
        CONVEYOR_PROJECT_ID: PROJECT_ID,
        PUBSUB_EMULATOR_HOST: emulatorAddress,
        OUTBOX_LISTEN: 'false',
      },
    });
    if (process.env.LOOP_STATS) api.child.stderr?.on('data', (c: Buffer) => process.stderr.write(c));
    stack.push(async () => {
      await api.stop();
      if (process.env.BENCH_API_LOG) await writeFile(process.env.BENCH_API_LOG, api.output());
    });
    const [, apiUrl] = await api.waitFor(/listening on (http:\/\/[\d.:]+)/);
    const bare = startProcess(process.execPath, [...profile, fileURLToPath(import.meta.url), 'bare-server'], {
      cwd: ROOT,
      env: serverEnv,
    });
    stack.push(() => bare.stop());
    const [, bareUrl] = await bare.waitFor(/bare listening on (http:\/\/[\d.:]+)/);

    // Both routes get the same request, a unique Idempotency-Key each (autocannon's [<id>]), so the
    // load generator costs the same on both sides.
    const request = (url: string, rate?: number): autocannon.Options => ({
      url,
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': '[<id>]',
      },
      idReplacement: true,
      body: ORDER,
      connections,
      ...(rate ? { overallRate: rate } : {}),
    });
    const orders = (rate?: number) => request(`${apiUrl}/v1/orders`, rate);
    const bareRequests = request(`${bareUrl}/bare`);
    // Postgres' own processes (with DATABASE_URL the server is elsewhere and not measured).
    const processes: Processes = {
      postgres: () => (postgresPid ? treeCpuMs(postgresPid) : Promise.resolve(0)),
      emulator: emulator.child.pid,
    };
    log(`bench api: warming up (${warmup} s each)`);
    await load(bareRequests, warmup, bare, processes);
    await load(orders(), warmup, api, processes);
    await drained(pool, 60_000);

    // Rounds alternate bare and accept runs, and each figure is the median round: other work on a
    // shared machine comes and goes, and alternating spreads it over both sides.
    const bareRounds: LoadResult[] = [];
    const acceptRounds: (LoadResult & { publishLag: PublishLag })[] = [];
    for (let round = 1; round <= rounds; round++) {
      log(
        `bench api: round ${round}/${rounds}: bare route, then POST /v1/orders, ${connections} connections, ${duration} s each`,
      );
      bareRounds.push(await load(bareRequests, duration, bare, processes));
      const acceptStart = await dbNow(pool);
      const accepted = await load(orders(), duration, api, processes);
      acceptRounds.push({ ...accepted, publishLag: await publishLag(pool, acceptStart) });
    }
    const bareResult = median(bareRounds);
    const acceptResult = median(acceptRounds);

    const targetRps = Math.max(1, Math.round(acceptResult.rps / 2));
    const halfRounds: (LoadResult & { publishLag: PublishLag })[] = [];
    for (let round = 1; round <= rounds; round++) {
      log(
        `bench api: round ${round}/${rounds}: POST /v1/orders at half the peak rate (${targetRps}/s), ${duration} s`,
      );
      const halfStart = await dbNow(pool);
      const half = await load(orders(targetRps), duration, api, processes);
      halfRounds.push({ ...half, publishLag: await publishLag(pool, halfStart) });
    }
    // At a fixed rate the figure that matters is latency: the median round by p99.
    const halfResult = halfRounds.toSorted((a, b) => a.p99Ms - b.p99Ms)[Math.floor(halfRounds.length / 2)]!;
    const ratio = acceptResult.rps / bareResult.rps;
    const targets = { ratio: 0.6, halfPeakP99Ms: 50 };
    return {
      name: 'api',
      config: {
        connections,
        durationSeconds: duration,
        rounds,
        pgPoolMax: poolMax,
        pgDurable: durable,
        cpus: os.availableParallelism(),
        node: process.version,
      },
      bare: bareResult,
      accept: acceptResult,
      ratio,
      halfPeak: { ...halfResult, targetRps },
      rounds: {
        bare: bareRounds.map((r) => r.rps),
        accept: acceptRounds.map((r) => r.rps),
        halfPeakP99Ms: halfRounds.map((r) => r.p99Ms),
      },
      targets,
      pass: ratio >= targets.ratio && halfResult.p99Ms < targets.halfPeakP99Ms && halfResult.non2xx === 0,
    };
  } finally {
    await cleanup();
  }
}

/** The round with the median throughput. */
function median<T extends LoadResult>(results: readonly T[]): T {
  return results.toSorted((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)]!;
}

/** An embedded Postgres in a scratch directory (or a new database on DATABASE_URL), migrated. */
async function benchDatabase(
  durable: boolean,
): Promise<{ url: string; pid: number | undefined; stop: () => Promise<void> }> {
  let server: LocalPostgres | undefined;
  let scratch: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'conveyor-bench-'));
    server = await startLocalPostgres({
      dataDir: path.join(scratch, 'data'),
      ephemeral: true,
      fast: !durable,
    });
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
    pid: server?.pid,
    async stop() {
      if (server) {
        await server.stop();
        if (scratch) await rm(scratch, { recursive: true, force: true });
        return;
      }
      const cleanup = new pg.Client(adminUrl);
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

interface Processes {
  postgres: () => Promise<number>;
  emulator: number | undefined;
}

async function load(
  options: autocannon.Options,
  seconds: number,
  server: ManagedProcess,
  processes: Processes,
): Promise<LoadResult> {
  const sample = async () => ({
    server: await cpuMs(server.child.pid),
    postgres: await processes.postgres(),
    emulator: await cpuMs(processes.emulator),
    loadGenerator: ownCpuMs(),
  });
  const before = await sample();
  const result = await autocannon({ ...options, duration: seconds });
  const after = await sample();
  const ok = result['2xx'];
  const per1k = (key: keyof typeof before) =>
    ok > 0 ? Math.round(((after[key] - before[key]) / ok) * 1000) : 0;
  const cpu = {
    server: per1k('server'),
    postgres: per1k('postgres'),
    emulator: per1k('emulator'),
    loadGenerator: per1k('loadGenerator'),
  };
  return {
    cpuMsPer1k: { ...cpu, total: cpu.server + cpu.postgres + cpu.emulator + cpu.loadGenerator },
    rps: Math.round(ok / seconds),
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    serverCpuMsPer1k: cpu.server,
  };
}

function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU of a process and all its descendants so far, in ms (Postgres runs a process per connection). */
async function treeCpuMs(root: number): Promise<number> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parents.set(pid, Number(fields[1]));
    cpu.set(
      pid,
      ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / 100,
    );
  }
  let total = 0;
  for (const [pid, ms] of cpu) {
    for (let at: number | undefined = pid; at; at = parents.get(at)) {
      if (at === root) {
        total += ms;
        break;
      }
    }
  }
  return total;
}

/** user + system CPU of a process so far, in ms (Linux /proc). */
async function cpuMs(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / 100 : 0;
}

async function dbNow(pool: pg.Pool): Promise<Date> {
  return (await pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
}

async function drained(pool: pg.Pool, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
    );
    if (rows[0]!.n === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`outbox still holds ${rows[0]!.n} rows after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function publishLag(pool: pg.Pool, since: Date): Promise<PublishLag> {
  const { rows: pending } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
  );
  const drainMs = await drained(pool, 120_000);
  const { rows } = await pool.query<{ p50: number; p99: number; max: number; per_cycle: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99, max(lag) AS max,
            count(*)::float8 / greatest(count(DISTINCT published_at), 1) AS per_cycle
       FROM (SELECT extract(epoch FROM published_at - created_at) * 1000 AS lag, published_at
               FROM outbox WHERE created_at >= $1) lags`,
    [since],
  );
  const row = rows[0]!;
  return {
    p50Ms: Math.round(Number(row.p50) * 10) / 10,
    p99Ms: Math.round(Number(row.p99) * 10) / 10,
    maxMs: Math.round(Number(row.max)),
    backlogAtEnd: pending[0]!.n,
    drainMs,
    rowsPerCycle: Math.round(Number(row.per_cycle) * 10) / 10,
  };
}

/** The comparison route: Fastify parses the JSON body and inserts it, one statement, nothing else. */
async function bareServer(): Promise<void> {
  const pool = createPool({
    url: process.env.DATABASE_URL!,
    applicationName: 'bench-bare',
    max: Number(process.env.PG_POOL_MAX ?? 20),
  });
  const app = Fastify({ logger: false });
  app.post('/bare', async (request, reply) => {
    const id = uuidv7();
    await pool.query({
      name: 'bare.insert',
      text: 'INSERT INTO bench_bare (id, payload) VALUES ($1, $2)',
      values: [id, JSON.stringify(request.body)],
    });
    return reply.code(201).send({ id });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  console.log(`bare listening on ${url}`);
  process.once('SIGTERM', () => {
    void app.close().then(() => pool.end());
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'bare-server')
  await bareServer();
