/**
 * Runs test tiers with Node's built-in test runner.
 *
 *   node test/run.ts <unit|integration|e2e|all> [test files...]
 *
 * Integration and e2e tests get one real PostgreSQL for the whole run (embedded, or the server in
 * DATABASE_URL) holding a migrated template database that each test file clones
 * (test/helpers/database.ts). Everything started here is stopped on the way out, also when tests
 * fail or the run is interrupted; any process a test left running fails the run and is killed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../local/postgres/index.ts';
import { isRunning } from '../local/processes.ts';
import { migrate } from '#shared/store/migrate.ts';
import { leftoverProcesses, RUN_ID_VARIABLE } from './helpers/processes.ts';
import { TEST_ENV } from './helpers/database.ts';
import { stackSlotsDir } from './helpers/stack-slots.ts';

const TIERS = {
  unit: 'test/unit/**/*.test.ts',
  integration: 'test/integration/**/*.test.ts',
  e2e: 'test/e2e/**/*.test.ts',
} as const;
type Tier = keyof typeof TIERS;

const [tierArgument = 'all', ...files] = process.argv.slice(2);
const tiers: Tier[] =
  tierArgument === 'all' ? ['unit', 'integration', 'e2e'] : isTier(tierArgument) ? [tierArgument] : [];
if (tiers.length === 0) {
  console.error(`usage: node test/run.ts <unit|integration|e2e|all> [test files...]`);
  process.exit(2);
}

const runId = randomBytes(4).toString('hex');
const needsDatabase = tiers.some((tier) => tier !== 'unit');
const patterns = files.length > 0 ? files : tiers.map((tier) => TIERS[tier]);
let database: TestCluster | undefined;
let interrupted = false;

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping tests and everything they started`);
  });
}

let exitCode = 1;
try {
  if (needsDatabase) database = await startTestCluster(runId);
  // NODE_TEST_CONTEXT would make a runner started from inside a test skip every file.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  exitCode = await runNodeTests(patterns, {
    ...inherited,
    [RUN_ID_VARIABLE]: runId,
    ...(database?.env ?? {}),
  });
} catch (error) {
  console.error('test run failed to start:', error);
} finally {
  await database?.stop().catch((error: unknown) => console.error('stopping test database:', error));
  await rm(stackSlotsDir(runId), { recursive: true, force: true });
  const left = await leftoverProcesses(runId);
  if (left.length > 0) {
    console.error(
      `tests left ${left.length} process(es) running; killed:\n${left.map((p) => `  ${p}`).join('\n')}`,
    );
    exitCode = exitCode || 1;
  }
}
process.exit(interrupted ? 130 : exitCode);

function isTier(value: string): value is Tier {
  return value in TIERS;
}

function runNodeTests(testPatterns: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const concurrency = process.env.TEST_CONCURRENCY ?? String(Math.max(2, os.availableParallelism() + 1));
  const args = [
    '--test',
    // Each test file's process waits for its report to reach us before a forced exit.
    `--import=${path.join(import.meta.dirname, 'helpers/drain-before-exit.ts')}`,
    '--test-reporter=spec',
    '--test-force-exit',
    `--test-concurrency=${concurrency}`,
    // Per test file: e2e files wait for a stack slot (test/helpers/stack-slots.ts) before their own minutes.
    `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 600_000}`,
    ...testPatterns,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const signal of signals) process.on(signal, forward);
    child.on('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

interface TestCluster {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** One PostgreSQL for the run plus the migrated template database every test file clones. */
async function startTestCluster(id: string): Promise<TestCluster> {
  const started = performance.now();
  let server: LocalPostgres | undefined;
  let adminUrl: string;
  let scratch: string | undefined;

  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    await sweepAbandonedClusters();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'conveyor-test-'));
    await writeFile(path.join(scratch, 'runner.pid'), String(process.pid));
    server = await startLocalPostgres({ dataDir: path.join(scratch, 'data'), ephemeral: true, fast: true });
    adminUrl = server.url();
  }
  const serverReady = performance.now();

  const template = `conveyor_test_${id}_template`;
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${template}`);
    await migrate({ databaseUrl: withDatabase(adminUrl, template) });
    // Nobody may connect to the template by accident: a connection would block every clone.
    await admin.query(`ALTER DATABASE ${template} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`);
  } finally {
    await admin.end();
  }
  const templateReady = performance.now();
  console.log(
    `test database: PostgreSQL ${server ? `embedded on port ${server.port} (data directory: ${scratch})` : 'from DATABASE_URL'} ` +
      `ready in ${Math.round(serverReady - started)} ms; migrated template ready ` +
      `${Math.round(templateReady - serverReady)} ms later`,
  );

  return {
    env: {
      [TEST_ENV.adminUrl]: adminUrl,
      [TEST_ENV.template]: template,
      [TEST_ENV.prefix]: `conveyor_test_${id}_`,
    },
    async stop() {
      if (server) {
        await server.stop();
        if (scratch) await rm(scratch, { recursive: true, force: true });
        return;
      }
      await dropRunDatabases(adminUrl, `conveyor_test_${id}_`);
    },
  };
}

/** On a shared server (DATABASE_URL) drop every database this run created, the template last. */
async function dropRunDatabases(adminUrl: string, prefix: string): Promise<void> {
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datistemplate, datname`,
      [prefix],
    );
    for (const { datname } of rows) {
      await admin.query(`ALTER DATABASE ${datname} IS_TEMPLATE false`);
      await admin.query(`DROP DATABASE ${datname} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/** A run killed with SIGKILL cannot clean up after itself: the next run does it. */
async function sweepAbandonedClusters(): Promise<void> {
  for (const entry of await readdir(os.tmpdir())) {
    if (!entry.startsWith('conveyor-test-')) continue;
    const dir = path.join(os.tmpdir(), entry);
    const owner = Number(await readFile(path.join(dir, 'runner.pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && isRunning(owner)) continue;
    const postmaster = await readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(postmaster.split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0 && isRunning(pid)) process.kill(pid, 'SIGQUIT');
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
