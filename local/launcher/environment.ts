/**
 * The environment of each deployable on this machine: the variables infra gives it in Google Cloud
 * (infra/deployables.ts, the same table, so the names cannot drift), with local values, plus the
 * variables that point it at the emulators and make it check push OIDC tokens as Cloud Run does.
 */
import { loadEnvironments, type EnvironmentConfig } from '../../infra/config.ts';
import { DEPLOYABLES, resolveEnv, type DeployableName, type SecretKey } from '../../infra/deployables.ts';

export interface LocalSettings {
  projectId: string;
  logLevel: string;
  databaseUrl: string;
  /** host:port of the Pub/Sub emulator. */
  pubsubHost: string;
  /** URL of the BigQuery emulator. */
  bigqueryUrl: string;
  paymentUrl: string;
  shippingUrl: string;
  approvalThresholdMinor: number;
  /** PG_POOL_MAX of the API and of each function, where not infra's. */
  poolMax: { api?: number | undefined; functions?: number | undefined };
  /** The API's URL: it collects the other processes' traces and metrics (OTLP) for the console. */
  apiUrl: string;
  secrets: { paymentWebhook: string; shippingWebhook: string; notifierSigning: string };
}

/** Variables of the machine a child keeps (the rest of the launcher's environment stays out). */
const PASSED_THROUGH =
  /^(PATH|HOME|USER|LOGNAME|LANG|LC_\w+|TZ|TMPDIR|TEMP|TMP|SYSTEMROOT|CONVEYOR_TEST_RUN_ID|OTEL_\w+|CONVEYOR_(TRACE|METRICS)_EXPORTER)$/;

/** The part of the launcher's own environment every child inherits. */
export function inheritedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && PASSED_THROUGH.test(name)) kept[name] = value;
  // Nothing local asks the GCE metadata server who it is.
  kept.METADATA_SERVER_DETECTION = 'none';
  return kept;
}

/** Infra's variables of `name` with local values, plus the emulator endpoints it needs. */
export function deployableEnv(name: DeployableName, local: LocalSettings): Record<string, string> {
  // Infra's dev environment with this machine's values where the table reads them.
  const dev = loadEnvironments({}).dev;
  const config: EnvironmentConfig = {
    ...dev,
    projectId: local.projectId,
    logLevel: local.logLevel as EnvironmentConfig['logLevel'],
    approvalThresholdMinor: local.approvalThresholdMinor,
    api: { ...dev.api, poolMax: local.poolMax.api ?? dev.api.poolMax },
    functions: { ...dev.functions, poolMax: local.poolMax.functions ?? dev.functions.poolMax },
    providers: { paymentUrl: local.paymentUrl, shippingUrl: local.shippingUrl },
  };
  const { plain, secrets } = resolveEnv(name, config);
  const secretValues: Record<SecretKey, string> = {
    databaseUrlPrivate: local.databaseUrl,
    databaseUrlSocket: local.databaseUrl,
    paymentWebhook: local.secrets.paymentWebhook,
    shippingWebhook: local.secrets.shippingWebhook,
    notifierSigning: local.secrets.notifierSigning,
  };
  const env: Record<string, string> = { ...plain };
  for (const [variable, key] of Object.entries(secrets)) env[variable] = secretValues[key];
  env.PUBSUB_EMULATOR_HOST = local.pubsubHost;
  if (DEPLOYABLES[name].bigqueryDataEditor) env.BIGQUERY_API_ENDPOINT = local.bigqueryUrl;
  // Telemetry stays on this machine: the API keeps it (`local`, the console's collector), the
  // other processes send theirs to the API over OTLP, instead of Cloud Trace and Monitoring.
  if ('CONVEYOR_TRACE_EXPORTER' in env) {
    if (name === 'api') {
      env.CONVEYOR_TRACE_EXPORTER = 'local';
      env.CONVEYOR_METRICS_EXPORTER = 'local';
    } else {
      env.CONVEYOR_TRACE_EXPORTER = 'otlp';
      env.CONVEYOR_METRICS_EXPORTER = 'otlp';
      env.OTEL_EXPORTER_OTLP_ENDPOINT = local.apiUrl;
    }
  }
  return env;
}
