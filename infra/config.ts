/**
 * The per-environment settings of the infrastructure, one typed and validated object per stack.
 * Values that differ for every installation (project, region, state bucket, alert emails) can be
 * overridden from the environment of `npm run synth` (see ENV_OVERRIDES); everything else is edited here.
 *
 * One environment per Google Cloud project: topic, subscription and dataset names come from the
 * catalogue unprefixed (the code publishes by those names), so two environments cannot share one.
 */
import { z } from 'zod';
import { METRICS } from '#shared/telemetry/metrics-catalogue.ts';
import { functionsWithDatabase } from './deployables.ts';

export const ENVIRONMENT_NAMES = ['dev', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

const projectId = z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'expected a Google Cloud project id');
const region = z.string().regex(/^[a-z]+-[a-z]+\d+$/, 'expected a region such as europe-west1');
const count = z.number().int().min(0);
const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 CIDR range');
/** Cloud Run / Cloud Functions memory, e.g. 512Mi or 1Gi. */
const memory = z.string().regex(/^\d+(Mi|Gi)$/, 'expected a size such as 512Mi');
const cpu = z.string().regex(/^\d+(\.\d+)?$/, 'expected a number of vCPUs such as 1');
const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (UTC)');

const scalingSchema = z
  .object({
    minInstances: count,
    maxInstances: z.number().int().min(1),
    /** Requests one instance serves at once. */
    concurrency: z.number().int().min(1).max(1000),
    cpu,
    memory,
    /** Postgres pool size per instance (PG_POOL_MAX of shared/config). */
    poolMax: z.number().int().min(1).max(100),
  })
  .refine((s) => s.minInstances <= s.maxInstances, { message: 'minInstances must not exceed maxInstances' });

export const EnvironmentConfigSchema = z
  .object({
    name: z.enum(ENVIRONMENT_NAMES),
    projectId,
    region,
    /** GCS bucket holding Terraform state (created by hand once, see infra/README.md). */
    stateBucket: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
    /** Guards every stateful resource (database, dataset, services, secrets) against deletion. */
    deletionProtection: z.boolean(),
    network: z.object({
      /** Subnet for Direct VPC egress of the API and the migration job. */
      subnetCidr: cidr,
      /** /28 subnet of the Serverless VPC Access connector the functions use. */
      connectorCidr: cidr.refine((value) => value.endsWith('/28'), 'a VPC Access connector needs a /28'),
      /** Size of the range reserved for private services access (Cloud SQL private IP). */
      privateServicesPrefixLength: z.number().int().min(16).max(24),
    }),
    connector: z.object({
      minInstances: z.number().int().min(2).max(9),
      maxInstances: z.number().int().min(3).max(10),
      machineType: z.enum(['f1-micro', 'e2-micro', 'e2-standard-4']),
    }),
    sql: z.object({
      instanceName: z.string().regex(/^[a-z][a-z0-9-]{0,96}[a-z0-9]$/),
      databaseVersion: z.string().regex(/^POSTGRES_\d+$/, 'expected POSTGRES_<major>'),
      /** Stated explicitly: new POSTGRES_16+ instances default to ENTERPRISE_PLUS, which rejects small tiers. */
      edition: z.enum(['ENTERPRISE', 'ENTERPRISE_PLUS']),
      tier: z.string().regex(/^db-/),
      availabilityType: z.enum(['ZONAL', 'REGIONAL']),
      diskSizeGb: z.number().int().min(10),
      backupStartTime: time,
      retainedBackups: z.number().int().min(1).max(365),
      /** Point-in-time recovery window (write-ahead log retention), days. */
      transactionLogRetentionDays: z.number().int().min(1).max(35),
      maintenanceWindow: z.object({
        /** 1 = Monday … 7 = Sunday. */
        day: z.number().int().min(1).max(7),
        hour: z.number().int().min(0).max(23),
      }),
      /** The max_connections flag; must cover every pool (checked below). */
      maxConnections: z.number().int().min(25).max(262_143),
    }),
    api: scalingSchema,
    functions: scalingSchema,
    /** Sandbox providers in dev; the real ones in production. */
    providers: z.object({ paymentUrl: z.url(), shippingUrl: z.url() }),
    /** Orders above this total (minor units) wait for an operator's approval. */
    approvalThresholdMinor: z.number().int().min(0),
    bigquery: z.object({ location: z.string().min(2) }),
    /** What the deployables export to Cloud Trace and Cloud Monitoring (shared/telemetry). */
    telemetry: z.object({
      /** Share of new traces recorded; a request or message that arrives sampled stays sampled. */
      traceSampleRatio: z.number().min(0).max(1),
      /** Between metric exports; Cloud Monitoring takes a point per series every 5 s at most. */
      metricExportIntervalMs: z.number().int().min(10_000),
    }),
    /** Alert policies (constructs/monitoring.ts): who is told, and when they fire. */
    alerts: z.object({
      /** One email notification channel each; none: the policies still open incidents in the console. */
      emails: z.array(z.email()),
      /** A live subscription's oldest unacknowledged message older than this (s), for 5 minutes. */
      consumerLagSeconds: z.number().int().min(60),
      /** More dead letters stored than this within 10 minutes. */
      deadLettersPerTenMinutes: z.number().int().min(0),
      /** More open dead letters than this at one subscription, for 30 minutes. */
      deadLettersOpen: z.number().int().min(0),
      /** The oldest unpublished outbox row older than this (s), for 3 minutes (the API's readiness gives up at 60 s). */
      outboxAgeSeconds: z.number().int().min(10),
      /** More than this share of the API's responses are 5xx, over 5 minutes. */
      apiErrorRatio: z.number().gt(0).lt(1),
    }),
    /**
     * The end-to-end objective (DESIGN.md: p99 < 1 s): `goal` of the orders completed within
     * `thresholdSeconds` of being accepted, over `rollingDays`; alerts when the error budget burns
     * faster than `burnRate` over `lookbackMinutes`.
     */
    latencyObjective: z.object({
      goal: z.number().gt(0).lt(1),
      thresholdSeconds: z
        .number()
        .refine((value) => (METRICS.orderDuration.buckets as readonly number[]).includes(value), {
          message: `must be a bucket bound of ${METRICS.orderDuration.name} (${METRICS.orderDuration.buckets.join(', ')})`,
        }),
      rollingDays: z.number().int().min(1).max(30),
      burnRateAlerts: z
        .array(z.object({ lookbackMinutes: z.number().int().min(5).max(1_440), burnRate: z.number().gt(1) }))
        .min(1),
    }),
  })
  .superRefine((config, context) => {
    // Cloud SQL editions: Enterprise keeps at most 7 days of logs for point-in-time recovery, and
    // Enterprise Plus runs only on performance-optimized machine types.
    if (config.sql.edition === 'ENTERPRISE' && config.sql.transactionLogRetentionDays > 7)
      context.addIssue({
        code: 'custom',
        path: ['sql', 'transactionLogRetentionDays'],
        message: 'ENTERPRISE edition keeps at most 7 days of transaction logs',
      });
    if (config.sql.edition === 'ENTERPRISE_PLUS' && !config.sql.tier.startsWith('db-perf-optimized-'))
      context.addIssue({
        code: 'custom',
        path: ['sql', 'tier'],
        message: 'ENTERPRISE_PLUS needs a db-perf-optimized-* tier',
      });
    // Every pool that can be open at once must fit under max_connections, with headroom for the
    // migration job and operators.
    const reserve = 10;
    const functions = functionsWithDatabase().length;
    const budget =
      config.api.maxInstances * config.api.poolMax +
      functions * config.functions.maxInstances * config.functions.poolMax +
      reserve;
    if (budget > config.sql.maxConnections) {
      context.addIssue({
        code: 'custom',
        path: ['sql', 'maxConnections'],
        message: `pools can open ${budget} connections (api ${config.api.maxInstances}×${config.api.poolMax}, ${functions} functions ${config.functions.maxInstances}×${config.functions.poolMax}, ${reserve} reserved) but max_connections is ${config.sql.maxConnections}`,
      });
    }
  });
export type EnvironmentConfig = z.infer<typeof EnvironmentConfigSchema>;

/**
 * 99 % of orders completed within 1 s, over 28 days (four whole weeks, so weekdays weigh the same
 * in every window). Burn-rate alerts as in Google's SRE workbook: 2 % of the budget in an hour
 * (14.4×) pages; 5 % in six hours (6×) too, more slowly.
 */
const LATENCY_OBJECTIVE = {
  goal: 0.99,
  thresholdSeconds: 1,
  rollingDays: 28,
  burnRateAlerts: [
    { lookbackMinutes: 60, burnRate: 14.4 },
    { lookbackMinutes: 360, burnRate: 6 },
  ],
};

const DEFAULTS: Record<EnvironmentName, z.input<typeof EnvironmentConfigSchema>> = {
  dev: {
    name: 'dev',
    projectId: 'conveyor-dev',
    region: 'europe-west1',
    stateBucket: 'conveyor-dev-tfstate',
    logLevel: 'debug',
    deletionProtection: false,
    network: { subnetCidr: '10.10.0.0/24', connectorCidr: '10.10.8.0/28', privateServicesPrefixLength: 20 },
    connector: { minInstances: 2, maxInstances: 3, machineType: 'e2-micro' },
    sql: {
      instanceName: 'conveyor',
      databaseVersion: 'POSTGRES_16',
      edition: 'ENTERPRISE',
      tier: 'db-g1-small',
      availabilityType: 'ZONAL',
      diskSizeGb: 10,
      backupStartTime: '03:00',
      retainedBackups: 7,
      transactionLogRetentionDays: 3,
      maintenanceWindow: { day: 7, hour: 3 },
      maxConnections: 100,
    },
    api: { minInstances: 0, maxInstances: 2, concurrency: 80, cpu: '1', memory: '512Mi', poolMax: 10 },
    functions: { minInstances: 0, maxInstances: 3, concurrency: 8, cpu: '1', memory: '512Mi', poolMax: 4 },
    providers: {
      paymentUrl: 'https://payments.sandbox.example.com',
      shippingUrl: 'https://shipping.sandbox.example.com',
    },
    approvalThresholdMinor: 100_000,
    bigquery: { location: 'EU' },
    telemetry: { traceSampleRatio: 1, metricExportIntervalMs: 60_000 },
    alerts: {
      emails: [],
      consumerLagSeconds: 600,
      deadLettersPerTenMinutes: 0,
      deadLettersOpen: 0,
      outboxAgeSeconds: 120,
      apiErrorRatio: 0.05,
    },
    latencyObjective: LATENCY_OBJECTIVE,
  },
  prod: {
    name: 'prod',
    projectId: 'conveyor-prod',
    region: 'europe-west1',
    stateBucket: 'conveyor-prod-tfstate',
    logLevel: 'info',
    deletionProtection: true,
    network: { subnetCidr: '10.20.0.0/24', connectorCidr: '10.20.8.0/28', privateServicesPrefixLength: 20 },
    connector: { minInstances: 2, maxInstances: 10, machineType: 'e2-micro' },
    sql: {
      instanceName: 'conveyor',
      databaseVersion: 'POSTGRES_16',
      edition: 'ENTERPRISE',
      tier: 'db-custom-2-7680',
      availabilityType: 'REGIONAL',
      diskSizeGb: 50,
      backupStartTime: '02:00',
      retainedBackups: 30,
      transactionLogRetentionDays: 7,
      maintenanceWindow: { day: 7, hour: 4 },
      maxConnections: 600,
    },
    api: { minInstances: 1, maxInstances: 10, concurrency: 80, cpu: '1', memory: '1Gi', poolMax: 10 },
    functions: { minInstances: 0, maxInstances: 20, concurrency: 16, cpu: '1', memory: '512Mi', poolMax: 4 },
    providers: { paymentUrl: 'https://payments.example.com', shippingUrl: 'https://shipping.example.com' },
    approvalThresholdMinor: 100_000,
    bigquery: { location: 'EU' },
    // A tenth of the traces at production volume; metrics are not sampled.
    telemetry: { traceSampleRatio: 0.1, metricExportIntervalMs: 60_000 },
    alerts: {
      emails: [],
      consumerLagSeconds: 600,
      deadLettersPerTenMinutes: 0,
      deadLettersOpen: 0,
      outboxAgeSeconds: 120,
      apiErrorRatio: 0.02,
    },
    latencyObjective: LATENCY_OBJECTIVE,
  },
};

/**
 * Variables that override the defaults above, per environment: CONVEYOR_DEV_PROJECT_ID,
 * CONVEYOR_PROD_REGION, … The state bucket defaults to `<project>-tfstate` when the project is
 * overridden and the bucket is not.
 */
export const ENV_OVERRIDES = {
  projectId: 'PROJECT_ID',
  region: 'REGION',
  stateBucket: 'STATE_BUCKET',
  /** Comma-separated: alerts.emails. */
  alertEmails: 'ALERT_EMAILS',
} as const;

export function overrideVariable(environment: EnvironmentName, key: keyof typeof ENV_OVERRIDES): string {
  return `CONVEYOR_${environment.toUpperCase()}_${ENV_OVERRIDES[key]}`;
}

/**
 * Every environment's config, defaults merged with overrides from `env`; throws one error listing
 * every problem of every environment.
 */
export function loadEnvironments(
  env: Readonly<Record<string, string | undefined>> = {},
): Readonly<Record<EnvironmentName, EnvironmentConfig>> {
  const problems: string[] = [];
  const configs = {} as Record<EnvironmentName, EnvironmentConfig>;
  for (const name of ENVIRONMENT_NAMES) {
    const projectOverride = env[overrideVariable(name, 'projectId')] || undefined;
    const input = {
      ...DEFAULTS[name],
      ...(projectOverride ? { projectId: projectOverride, stateBucket: `${projectOverride}-tfstate` } : {}),
      ...(env[overrideVariable(name, 'region')] ? { region: env[overrideVariable(name, 'region')] } : {}),
      ...(env[overrideVariable(name, 'stateBucket')]
        ? { stateBucket: env[overrideVariable(name, 'stateBucket')] }
        : {}),
      ...(env[overrideVariable(name, 'alertEmails')]
        ? {
            alerts: {
              ...DEFAULTS[name].alerts,
              emails: env[overrideVariable(name, 'alertEmails')]!.split(',')
                .map((email) => email.trim())
                .filter(Boolean),
            },
          }
        : {}),
    };
    const result = EnvironmentConfigSchema.safeParse(input);
    if (result.success) configs[name] = Object.freeze(result.data);
    else
      problems.push(
        ...result.error.issues.map(
          (issue) => `${name}.${issue.path.join('.') || '(config)'}: ${issue.message}`,
        ),
      );
  }
  if (problems.length === 0) {
    const projects = ENVIRONMENT_NAMES.map((name) => configs[name].projectId);
    if (new Set(projects).size !== projects.length)
      problems.push(`every environment needs its own project (got ${projects.join(', ')})`);
  }
  if (problems.length > 0) throw new Error(`invalid infrastructure config:\n  ${problems.join('\n  ')}`);
  return Object.freeze(configs);
}
