/**
 * What each deployable gets: its environment (one table per deployable: the contract with
 * api/config.ts and functions/<name>/config.ts), the topics it publishes to, and how it reaches
 * Cloud SQL. Least-privilege IAM is derived from this table, so access follows the wiring: a
 * deployable can read exactly the secrets its environment names and publish exactly where it says.
 */
import { FUNCTION, SUBSCRIPTIONS, TOPIC, BIGQUERY } from '#shared/contracts/catalogue.ts';
import type { FunctionName, TopicName } from '#shared/contracts/catalogue.ts';
import type { EnvironmentConfig } from './config.ts';

/** Secret Manager secret ids. Webhook and signing secrets start random; operators replace them. */
export const SECRET = {
  /** postgresql://… over the VPC to the private IP, TLS required (functions). */
  databaseUrlPrivate: 'conveyor-database-url-private',
  /** postgresql://… over the Cloud SQL unix socket mounted at /cloudsql (API, migration job). */
  databaseUrlSocket: 'conveyor-database-url-socket',
  paymentWebhook: 'conveyor-payment-webhook-secret',
  shippingWebhook: 'conveyor-shipping-webhook-secret',
  notifierSigning: 'conveyor-notifier-signing-secret',
} as const;
export type SecretKey = keyof typeof SECRET;

export type EnvSource =
  { readonly secret: SecretKey } | { readonly value: (config: EnvironmentConfig) => string };

export const DEPLOYABLE = { api: 'api', migrate: 'migrate', ...FUNCTION } as const;
export type DeployableName = (typeof DEPLOYABLE)[keyof typeof DEPLOYABLE];

export interface DeployableSpec {
  kind: 'service' | 'job' | 'function';
  /** Its own service account (6–30 characters). */
  serviceAccountId: string;
  description: string;
  /** Environment variable → where its value comes from. */
  env: Readonly<Record<string, EnvSource>>;
  /** Topics it may publish to (roles/pubsub.publisher on each). */
  publishes: readonly TopicName[];
  /** Reaches Cloud SQL through the Cloud SQL volume (needs roles/cloudsql.client). */
  cloudSqlSocket: boolean;
  /** Streams rows into the analytics dataset (roles/bigquery.dataEditor on it). */
  bigqueryDataEditor: boolean;
}

const plain = (value: (config: EnvironmentConfig) => string): EnvSource => ({ value });
const secret = (key: SecretKey): EnvSource => ({ secret: key });

/** Every deployable logs and knows its project. Source maps make bundled stack traces readable. */
const common = {
  CONVEYOR_PROJECT_ID: plain((c) => c.projectId),
  LOG_LEVEL: plain((c) => c.logLevel),
  NODE_OPTIONS: plain(() => '--enable-source-maps'),
} satisfies Record<string, EnvSource>;

/**
 * Every running deployable (not the migration job) exports its traces to Cloud Trace and its
 * metrics to Cloud Monitoring (shared/telemetry/config.ts).
 */
const telemetry = {
  CONVEYOR_TRACE_EXPORTER: plain(() => 'cloud-trace'),
  CONVEYOR_METRICS_EXPORTER: plain(() => 'cloud-monitoring'),
  CONVEYOR_TRACE_SAMPLE_RATIO: plain((c) => String(c.telemetry.traceSampleRatio)),
  OTEL_METRIC_EXPORT_INTERVAL: plain((c) => String(c.telemetry.metricExportIntervalMs)),
} satisfies Record<string, EnvSource>;

const functionDatabase = {
  DATABASE_URL: secret('databaseUrlPrivate'),
  PG_POOL_MAX: plain((c) => String(c.functions.poolMax)),
} satisfies Record<string, EnvSource>;

/** A consumer sends poison messages straight to the dead-letter topic of its subscriptions. */
function deadLetterTopicsOf(name: FunctionName): TopicName[] {
  const topics = SUBSCRIPTIONS.filter((s) => s.pushTo === name).flatMap((s) =>
    'topic' in s.deadLetter ? [s.deadLetter.topic] : [],
  );
  return [...new Set(topics)];
}

/** A redrive republishes a dead letter to its source: any topic a subscription dead-letters from. */
const REDRIVE_TOPICS = [
  ...new Set(
    SUBSCRIPTIONS.filter((s) => 'topic' in s.deadLetter && s.deadLetter.topic === TOPIC.deadLetters).map(
      (s) => s.topic,
    ),
  ),
];

function fn(
  name: FunctionName,
  description: string,
  env: Record<string, EnvSource>,
  options: { publishes?: TopicName[]; bigqueryDataEditor?: boolean } = {},
): DeployableSpec {
  return {
    kind: 'function',
    serviceAccountId: `conveyor-${name}`,
    description,
    env: { ...common, ...telemetry, ...env },
    publishes: [...new Set([...(options.publishes ?? []), ...deadLetterTopicsOf(name)])],
    cloudSqlSocket: false,
    bigqueryDataEditor: options.bigqueryDataEditor ?? false,
  };
}

export const DEPLOYABLES: Readonly<Record<DeployableName, DeployableSpec>> = {
  api: {
    kind: 'service',
    serviceAccountId: 'conveyor-api',
    description: 'Conveyor API (Cloud Run): orders, webhooks, dead-letter redrive, replay',
    env: {
      ...common,
      ...telemetry,
      DATABASE_URL: secret('databaseUrlSocket'),
      PG_POOL_MAX: plain((c) => String(c.api.poolMax)),
      PAYMENT_WEBHOOK_SECRET: secret('paymentWebhook'),
      SHIPPING_WEBHOOK_SECRET: secret('shippingWebhook'),
      // api/config.ts lists it for features to come (approval in the API's order view).
      APPROVAL_THRESHOLD_MINOR: plain((c) => String(c.approvalThresholdMinor)),
    },
    // The outbox relay, replays, and redrives back to each dead-lettered subscription's topic.
    publishes: [...new Set([TOPIC.orderEvents, TOPIC.replays, ...REDRIVE_TOPICS])],
    cloudSqlSocket: true,
    bigqueryDataEditor: false,
  },
  migrate: {
    kind: 'job',
    serviceAccountId: 'conveyor-migrate',
    description: 'Conveyor schema migrations (Cloud Run job)',
    // MIGRATIONS_DIR stays unset: the bundle finds migrations/ beside migrate.js.
    env: { ...common, DATABASE_URL: secret('databaseUrlSocket') },
    publishes: [],
    cloudSqlSocket: true,
    bigqueryDataEditor: false,
  },
  saga: fn(
    FUNCTION.saga,
    'Conveyor saga: drives fulfilment and compensation',
    {
      ...functionDatabase,
      PAYMENT_PROVIDER_URL: plain((c) => c.providers.paymentUrl),
      SHIPPING_PROVIDER_URL: plain((c) => c.providers.shippingUrl),
      APPROVAL_THRESHOLD_MINOR: plain((c) => String(c.approvalThresholdMinor)),
    },
    { publishes: [TOPIC.orderEvents] },
  ),
  analytics: fn(
    FUNCTION.analytics,
    'Conveyor analytics: streams events into BigQuery',
    { BIGQUERY_DATASET: plain(() => BIGQUERY.dataset) },
    { bigqueryDataEditor: true },
  ),
  notifier: fn(FUNCTION.notifier, 'Conveyor notifier: signed notifications to shops', {
    ...functionDatabase,
    NOTIFIER_SIGNING_SECRET: secret('notifierSigning'),
  }),
  ingest: fn(FUNCTION.ingest, 'Conveyor ingest: validates events from outside producers', functionDatabase, {
    publishes: [TOPIC.orderEvents],
  }),
  'dead-letter': fn(
    FUNCTION.deadLetter,
    'Conveyor dead letters: stores them for inspection and redrive, and streams them to BigQuery',
    { ...functionDatabase, BIGQUERY_DATASET: plain(() => BIGQUERY.dataset) },
    { publishes: [TOPIC.deadLettersParked], bigqueryDataEditor: true },
  ),
  timeouts: fn(
    FUNCTION.timeouts,
    'Conveyor timeouts: approval deadlines and the outbox sweep',
    {
      ...functionDatabase,
      // Refunds charges (cancels parcels) that a cancelled order never recorded.
      PAYMENT_PROVIDER_URL: plain((c) => c.providers.paymentUrl),
      SHIPPING_PROVIDER_URL: plain((c) => c.providers.shippingUrl),
    },
    { publishes: [TOPIC.orderEvents] },
  ),
};

/** Whether a deployable writes traces and metrics (then it holds TELEMETRY_WRITER_ROLES). */
export function exportsTelemetry(name: DeployableName): boolean {
  return 'CONVEYOR_TRACE_EXPORTER' in DEPLOYABLES[name].env;
}

/** The secrets a deployable's environment reads. */
export function secretsOf(name: DeployableName): SecretKey[] {
  return Object.values(DEPLOYABLES[name].env).flatMap((source) =>
    'secret' in source ? [source.secret] : [],
  );
}

/** Plain environment values for `config`, and secret references, of one deployable. */
export function resolveEnv(
  name: DeployableName,
  config: EnvironmentConfig,
): { plain: Record<string, string>; secrets: Record<string, SecretKey> } {
  const plainValues: Record<string, string> = {};
  const secrets: Record<string, SecretKey> = {};
  for (const [variable, source] of Object.entries(DEPLOYABLES[name].env)) {
    if ('secret' in source) secrets[variable] = source.secret;
    else plainValues[variable] = source.value(config);
  }
  return { plain: plainValues, secrets };
}

/** Functions that hold a Postgres pool (for the connection budget in config.ts). */
export function functionsWithDatabase(): FunctionName[] {
  return Object.values(FUNCTION).filter((name) => 'DATABASE_URL' in DEPLOYABLES[name].env);
}
