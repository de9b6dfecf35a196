/**
 * Conveyor on one machine, as `npm start` runs it and as e2e tests and the benchmark drive it:
 *
 * - PostgreSQL (embedded unless a databaseUrl is given), migrated, the catalogue seeded, a dev API
 *   key registered;
 * - the Pub/Sub and BigQuery emulators as child processes, the way a person runs them, the
 *   catalogue's topics and subscriptions (push to the functions, with OIDC tokens the functions
 *   verify against the emulator's JWKS), the analytics dataset, tables and views;
 * - every function under functions-framework and the API as in its container (`node api/server.ts`),
 *   one child process each, with the environment infra gives them plus the local endpoints;
 * - the sandbox payment and shipping providers (in this process: their faults can be changed while
 *   running), and the scheduler's ticks.
 *
 *   const stack = await startLocalStack();            // every port picked free, data in a temp dir
 *   await fetch(`${stack.apiUrl}/v1/orders`, …);       // Authorization: Bearer ${stack.apiKey}
 *   await stack.processes.get('saga')!.kill();        // a crash; .start() brings it back
 *   await stack.stop();
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import { createBigQueryClient } from '#shared/analytics/client.ts';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import { FUNCTION, LOCAL_PROJECT_ID, type FunctionName } from '#shared/contracts/catalogue.ts';
import { createPool } from '#shared/store/pool.ts';
import { freePort } from '../ports.ts';
import {
  startPaymentSandbox,
  startShippingSandbox,
  type Faults,
  type PaymentSandbox,
  type ShippingSandbox,
  type WebhookRetry,
} from '../sandbox-providers/index.ts';
import { createChildSupervisor, reapStaleChildren, type ChildSpec, type ManagedChild } from './children.ts';
import { ensureDevApiKey } from './dev-key.ts';
import { deployableEnv, inheritedEnv, type LocalSettings } from './environment.ts';
import { postgresComponent, type LocalDatabase } from './postgres.ts';
import { readSeed, seedCatalogue, type Seed } from './seed.ts';
import { startStack, together, type Component } from './stack.ts';
import { startTicker, type Ticker } from './ticks.ts';
import { ensureTopology, syncPushEndpoints } from './topology.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FUNCTIONS_FRAMEWORK = path.join(
  ROOT,
  'node_modules/@google-cloud/functions-framework/build/src/main.js',
);

/** Every function, in the order their ports are numbered from the first function port. */
export const LOCAL_FUNCTIONS: readonly FunctionName[] = [
  FUNCTION.saga,
  FUNCTION.analytics,
  FUNCTION.notifier,
  FUNCTION.ingest,
  FUNCTION.deadLetter,
  FUNCTION.timeouts,
];

/** Child processes other than the functions. */
export type ServiceName = 'api' | 'pubsub' | 'bigquery';
export type ProcessName = ServiceName | FunctionName;

export interface LocalPorts {
  api: number;
  pubsub: number;
  bigquery: number;
  postgres: number;
  /** The first function's port; the others follow in LOCAL_FUNCTIONS order. 0: each a free one. */
  functions: number;
  payment: number;
  shipping: number;
}

export interface LocalStackOptions {
  /** Where state lives (PostgreSQL, the emulators' data, the dev key). Default: a temp dir removed on stop. */
  dataDir?: string;
  /** Use this PostgreSQL database instead of an embedded server (migrated, seeded, not stopped). */
  databaseUrl?: string;
  /** 0 or absent: a free port. */
  ports?: Partial<LocalPorts>;
  /** Interface everything listens on (functions-framework: every interface). Default 127.0.0.1. */
  host?: string;
  projectId?: string;
  /** The dev API key; default the one kept in the data directory, or a new one. */
  apiKey?: string;
  /** The functions to run (their push subscriptions are created). Default: all. */
  functions?: readonly FunctionName[];
  /** Failure injection of the sandbox providers; default none (every call succeeds). */
  sandboxFaults?: { payment?: Partial<Faults>; shipping?: Partial<Faults> };
  webhookRetry?: Partial<WebhookRetry>;
  /** How often the scheduler ticks; 0: never (tick() still works). Default 60 000, as in production. */
  tickIntervalMs?: number;
  /** Orders above this total (minor units) wait for an operator. Default 100 000 (1,000.00). */
  approvalThresholdMinor?: number;
  /** LOG_LEVEL of every component. Default info. */
  logLevel?: string;
  /** Pool sizes (PG_POOL_MAX) of the API and of each function. Default: infra's dev environment's. */
  poolMax?: { api?: number; functions?: number };
  /** Keep the BigQuery emulator's tables on disk in the data directory. Default true. */
  persistBigQuery?: boolean;
  /** The catalogue and stock of a new database. Default local/launcher/seed.json. */
  seed?: Seed;
  /** Extra environment per process (tuning: SAGA_CONCURRENCY, OUTBOX_LINGER_MS…). */
  env?: Partial<Record<ProcessName, Record<string, string>>>;
  /** Extra node flags per process (--cpu-prof…). */
  nodeFlags?: Partial<Record<ProcessName, string[]>>;
  /** Every line a component writes (children's stdout and stderr, PostgreSQL's log). */
  onLine?: (component: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** A child process exited without being asked to. */
  onUnexpectedExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
  /** One line per component ready (with its start time). */
  onProgress?: (message: string) => void;
}

export interface LocalStack {
  readonly dataDir: string;
  readonly projectId: string;
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly databaseUrl: string;
  readonly database: LocalDatabase;
  /** host:port, for PUBSUB_EMULATOR_HOST. */
  readonly pubsubHost: string;
  /** http://host:port of the BigQuery emulator. */
  readonly bigqueryUrl: string;
  /** Push endpoint of each running function. */
  readonly functionUrls: Readonly<Partial<Record<FunctionName, string>>>;
  readonly payment: PaymentSandbox;
  readonly shipping: ShippingSandbox;
  /** The child processes: api, pubsub, bigquery and each function. */
  readonly processes: ReadonlyMap<string, ManagedChild>;
  /** Label → address, for people. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** What a producer, analyst or tool needs in its environment. */
  readonly env: Readonly<Record<string, string>>;
  /** From the call to everything ready, ms. */
  readonly readyMs: number;
  /** Publishes one tick now, as the scheduler does. */
  tick(): Promise<string>;
  /** Stops everything, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

/** The service account whose OIDC tokens push carries, as production's push-invoker. */
export const pushServiceAccount = (projectId: string) => `push-invoker@${projectId}.iam.gserviceaccount.com`;

/** A PubSub client for the emulator at `host` (no credentials, no metadata server). */
export function emulatorClient(projectId: string, host: string): PubSub {
  return new PubSub({ projectId, apiEndpoint: host, emulatorMode: true, universeDomain: 'googleapis.com' });
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const started = performance.now();
  const host = options.host ?? '127.0.0.1';
  const projectId = options.projectId ?? LOCAL_PROJECT_ID;
  const logLevel = options.logLevel ?? 'info';
  const temporary = options.dataDir === undefined;
  const dataDir = path.resolve(options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'conveyor-stack-'))));
  await mkdir(dataDir, { recursive: true });
  const progress = options.onProgress ?? (() => {});
  const line = options.onLine ?? (() => {});
  const functions = options.functions ?? LOCAL_FUNCTIONS;

  await reapStaleChildren(dataDir, progress);
  const supervisor = createChildSupervisor(dataDir, {
    onLine: line,
    onUnexpectedExit: options.onUnexpectedExit,
  });

  const portOf = async (value: number | undefined) => (value ? value : freePort());
  const ports = {
    api: await portOf(options.ports?.api),
    pubsub: await portOf(options.ports?.pubsub),
    bigquery: await portOf(options.ports?.bigquery),
    postgres: options.ports?.postgres ?? 0,
    payment: options.ports?.payment ?? 0,
    shipping: options.ports?.shipping ?? 0,
  };
  const functionPorts = new Map<FunctionName, number>();
  for (const [index, name] of LOCAL_FUNCTIONS.entries()) {
    if (!functions.includes(name)) continue;
    functionPorts.set(name, options.ports?.functions ? options.ports.functions + index : await freePort());
  }

  // Consumer lag for the API's /metrics and console (the emulator's --monitoring-port).
  const monitoringPort = await freePort();
  const apiUrl = `http://${host}:${ports.api}`;
  const pubsubHost = `${host}:${ports.pubsub}`;
  const bigqueryUrl = `http://${host}:${ports.bigquery}`;
  const jwksFile = path.join(dataDir, 'pubsub-jwks.json');
  const secret = (name: string) => `whsec_${name}_${randomBytes(16).toString('hex')}`;
  const secrets = {
    paymentWebhook: secret('payment'),
    shippingWebhook: secret('shipping'),
    notifierSigning: secret('notifier'),
  };
  const inherited = inheritedEnv(process.env);
  const functionUrls: Partial<Record<FunctionName, string>> = {};
  for (const [name, port] of functionPorts) functionUrls[name] = `http://${host}:${port}/`;

  let database!: LocalDatabase;
  let apiKey!: string;
  let payment!: PaymentSandbox;
  let shipping!: ShippingSandbox;
  let pubsub: PubSub | undefined;
  let ticker: Ticker | undefined;
  const node = (name: ProcessName, args: string[]) => [...(options.nodeFlags?.[name] ?? []), ...args];
  const child = (
    spec: ChildSpec,
    endpoints: Record<string, string>,
    env: Record<string, string> = {},
  ): Component => ({
    name: spec.name,
    async start() {
      const running = await supervisor.launch(spec);
      return { name: spec.name, endpoints, env, stop: () => running.stop() };
    },
  });
  const settings = (): LocalSettings => ({
    projectId,
    logLevel,
    databaseUrl: database.url,
    pubsubHost,
    bigqueryUrl,
    paymentUrl: payment.url,
    shippingUrl: shipping.url,
    approvalThresholdMinor: options.approvalThresholdMinor ?? 100_000,
    poolMax: options.poolMax ?? {},
    apiUrl,
    secrets,
  });

  const databaseComponent: Component = {
    name: 'PostgreSQL',
    async start(env) {
      const postgres = await postgresComponent({
        databaseUrl: options.databaseUrl,
        port: ports.postgres,
        dataDir,
        ephemeral: temporary,
        log: (text) => line('postgres', text, 'stderr'),
        onReady: (ready) => (database = ready),
      }).start(env);
      try {
        const pool = createPool({ url: database.url, applicationName: 'launcher', max: 2 });
        try {
          const added = await seedCatalogue(pool, options.seed ?? (await readSeed()));
          if (added.length) progress(`seeded the catalogue: ${added.join(', ')}`);
          apiKey = (await ensureDevApiKey(pool, { dataDir, key: options.apiKey })).key;
        } finally {
          await pool.end();
        }
      } catch (error) {
        await postgres.stop();
        throw error;
      }
      return postgres;
    },
  };

  const pubsubComponent = child(
    {
      name: 'pubsub',
      command: process.execPath,
      args: node('pubsub', [
        'local/pubsub-emulator/main.ts',
        '--host',
        host,
        '--port',
        String(ports.pubsub),
        '--jwks-out',
        jwksFile,
        '--data-dir',
        path.join(dataDir, 'pubsub'),
        '--monitoring-port',
        String(monitoringPort),
      ]),
      env: { ...inherited, ...options.env?.pubsub },
      cwd: ROOT,
      ready: /Pub\/Sub emulator listening on/,
    },
    { 'Pub/Sub emulator': pubsubHost },
  );

  const bigqueryComponent: Component = {
    name: 'BigQuery emulator',
    async start(env) {
      const running = await child(
        {
          name: 'bigquery',
          command: process.execPath,
          args: node('bigquery', [
            'local/bigquery-emulator/main.ts',
            '--host',
            host,
            '--port',
            String(ports.bigquery),
            ...(options.persistBigQuery === false ? [] : ['--data-dir', path.join(dataDir, 'bigquery')]),
          ]),
          env: { ...inherited, ...options.env?.bigquery },
          cwd: ROOT,
          ready: /BigQuery emulator listening on/,
        },
        { 'BigQuery emulator': bigqueryUrl },
      ).start(env);
      try {
        const done = await ensureAnalyticsDataset(
          createBigQueryClient({ projectId, apiEndpoint: bigqueryUrl }),
        );
        if (done.length) progress(`BigQuery: created ${done.join(', ')}`);
      } catch (error) {
        await running.stop();
        throw error;
      }
      return running;
    },
  };

  const sandboxComponent: Component = {
    name: 'sandbox providers',
    async start() {
      const common = { host, webhookRetry: options.webhookRetry };
      payment = await startPaymentSandbox({
        ...common,
        port: ports.payment,
        webhookUrl: `${apiUrl}/v1/webhooks/payments`,
        webhookSecret: secrets.paymentWebhook,
        faults: options.sandboxFaults?.payment ?? {},
      });
      try {
        shipping = await startShippingSandbox({
          ...common,
          port: ports.shipping,
          webhookUrl: `${apiUrl}/v1/webhooks/shipping`,
          webhookSecret: secrets.shippingWebhook,
          faults: options.sandboxFaults?.shipping ?? {},
        });
      } catch (error) {
        await payment.stop();
        throw error;
      }
      return {
        name: 'sandbox providers',
        endpoints: { 'Payment sandbox': payment.url, 'Shipping sandbox': shipping.url },
        env: {},
        stop: async () => {
          await Promise.all([payment.stop(), shipping.stop()]);
        },
      };
    },
  };

  const functionComponent = (name: FunctionName): Component => ({
    name,
    start: (env) =>
      child(
        {
          name,
          command: process.execPath,
          args: node(name, [
            FUNCTIONS_FRAMEWORK,
            `--target=${name}`,
            `--source=functions/${name}/index.ts`,
            `--port=${functionPorts.get(name)}`,
          ]),
          env: {
            ...inherited,
            ...deployableEnv(name, settings()),
            PUSH_AUTH_JWKS_FILE: jwksFile,
            PUSH_AUTH_AUDIENCE: functionUrls[name]!,
            PUSH_AUTH_SERVICE_ACCOUNT: pushServiceAccount(projectId),
            ...options.env?.[name],
          },
          cwd: ROOT,
          ready: /Serving function/,
        },
        { [`function ${name}`]: functionUrls[name]! },
      ).start(env),
  });

  const apiComponent: Component = {
    name: 'API',
    start: (env) =>
      child(
        {
          name: 'api',
          command: process.execPath,
          args: node('api', ['api/server.ts']),
          env: {
            ...inherited,
            ...deployableEnv('api', settings()),
            HOST: host,
            PORT: String(ports.api),
            PUBSUB_EMULATOR_MONITORING_URL: `http://${host}:${monitoringPort}`,
            ...options.env?.api,
          },
          cwd: ROOT,
          // Whatever LOG_LEVEL says: ready when it answers.
          ready: () =>
            fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
              (response) => response.ok,
            ),
        },
        { API: apiUrl, 'API docs': `${apiUrl}/docs` },
      ).start(env),
  };

  const topologyComponent: Component = {
    name: 'topics and subscriptions',
    async start() {
      pubsub = emulatorClient(projectId, pubsubHost);
      const account = pushServiceAccount(projectId);
      const created = await ensureTopology({ pubsub, endpoints: functionUrls, pushServiceAccount: account });
      // Kept from an earlier run (--data-dir): point them at this run's functions.
      const moved = await syncPushEndpoints({ pubsub, endpoints: functionUrls, pushServiceAccount: account });
      if (created.length) progress(`Pub/Sub: created ${created.length} topics and subscriptions`);
      if (moved.length) progress(`Pub/Sub: push endpoints updated: ${moved.join(', ')}`);
      ticker = startTicker({
        pubsub,
        intervalMs: options.tickIntervalMs ?? 60_000,
        onError: (error) => line('ticks', `tick not published: ${String(error)}`, 'stderr'),
      });
      return {
        name: 'topics and subscriptions',
        endpoints: {},
        env: {},
        async stop() {
          ticker?.stop();
          await pubsub?.close();
        },
      };
    },
  };

  let stack;
  try {
    stack = await startStack(
      [
        together('PostgreSQL, emulators, sandboxes', [
          databaseComponent,
          pubsubComponent,
          bigqueryComponent,
          sandboxComponent,
        ]),
        together('API and functions', [apiComponent, ...functions.map(functionComponent)]),
        topologyComponent,
      ],
      progress,
    );
  } catch (error) {
    await supervisor.stopAll();
    if (temporary) await rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    throw error;
  }
  const readyMs = Math.round(performance.now() - started);

  const env: Record<string, string> = {
    PUBSUB_EMULATOR_HOST: pubsubHost,
    PUBSUB_PROJECT_ID: projectId,
    CONVEYOR_PROJECT_ID: projectId,
    BIGQUERY_API_ENDPOINT: bigqueryUrl,
    CONVEYOR_API_URL: apiUrl,
    CONVEYOR_API_KEY: apiKey,
    DATABASE_URL: database.url,
  };
  const endpoints: Record<string, string> = {};
  for (const component of stack.components) Object.assign(endpoints, component.endpoints);

  let stopping: Promise<void> | undefined;
  return {
    dataDir,
    projectId,
    apiUrl,
    apiKey,
    databaseUrl: database.url,
    database,
    pubsubHost,
    bigqueryUrl,
    functionUrls,
    payment,
    shipping,
    processes: supervisor.children,
    endpoints,
    env,
    readyMs,
    tick: () => ticker!.tick(),
    stop: () =>
      (stopping ??= (async () => {
        // Children restarted by hand are not in the stack's list: the supervisor stops what is left.
        await stack.stop();
        await supervisor.stopAll();
        await database.stop().catch(() => undefined);
        if (temporary) await rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
      })()),
  };
}
