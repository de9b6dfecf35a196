/**
 * The telemetry settings every deployable reads from its environment. `telemetryEnv` is a plain
 * zod object each deployable spreads into its own config schema (as it does loggingConfig);
 * `telemetryConfigFrom` turns the parsed values into the structured settings startTelemetry takes,
 * with the checks that span variables.
 */
import { z } from 'zod';
import { ConfigError } from '#shared/errors.ts';
import { parseConfig, type Env } from '#shared/config/index.ts';

export const TRACE_EXPORTERS = ['cloud-trace', 'otlp', 'local', 'none'] as const;
export type TraceExporterName = (typeof TRACE_EXPORTERS)[number];
export const METRICS_EXPORTERS = ['cloud-monitoring', 'otlp', 'local', 'none'] as const;
export type MetricsExporterName = (typeof METRICS_EXPORTERS)[number];

/** Cloud Monitoring refuses points of one series closer than 5 s apart; 10 s leaves room. */
export const MIN_CLOUD_MONITORING_INTERVAL_MS = 10_000;

export const telemetryEnv = z.object({
  /**
   * Where spans go: cloud-trace (production), otlp (OTEL_EXPORTER_OTLP_ENDPOINT; also how the
   * functions of the local stack reach the API's console), local (kept in this process for the
   * console), none. Default: otlp when an OTLP endpoint is set, else local.
   */
  CONVEYOR_TRACE_EXPORTER: z.enum(TRACE_EXPORTERS).optional(),
  /** Where metrics go: cloud-monitoring, otlp, local (/metrics of this process only), none. Same default. */
  CONVEYOR_METRICS_EXPORTER: z.enum(METRICS_EXPORTERS).optional(),
  /** Base URL of an OTLP/HTTP receiver; /v1/traces and /v1/metrics are appended (OpenTelemetry's rule). */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
  /** Share of new traces recorded (0–1). A message or request that arrives sampled stays sampled. */
  CONVEYOR_TRACE_SAMPLE_RATIO: z.coerce
    .number({ message: 'expected a number from 0 to 1' })
    .min(0, 'expected a number from 0 to 1')
    .max(1, 'expected a number from 0 to 1')
    .default(1),
  /** Milliseconds between metric exports (OpenTelemetry's variable); default 60 s. */
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().min(1_000).default(60_000),
  /** Spans kept by the local exporter and the API's receiver (oldest dropped first). */
  CONVEYOR_TRACE_STORE_SPANS: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
});
export type TelemetryEnv = z.infer<typeof telemetryEnv>;

export interface TelemetryConfig {
  traces: {
    exporter: TraceExporterName;
    /** Full URL spans are POSTed to (otlp). */
    otlpUrl: string | undefined;
    sampleRatio: number;
  };
  metrics: {
    exporter: MetricsExporterName;
    /** Full URL metrics are POSTed to (otlp). */
    otlpUrl: string | undefined;
    exportIntervalMs: number;
  };
  /** Capacity of the local span store. */
  storeSpans: number;
}

/** OpenTelemetry appends the signal's path to a base endpoint (spec: OTEL_EXPORTER_OTLP_ENDPOINT). */
export function otlpSignalUrl(endpoint: string, signal: 'traces' | 'metrics'): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

/** Structured settings from parsed variables; throws ConfigError naming every inconsistency. */
export function telemetryConfigFrom(env: TelemetryEnv): TelemetryConfig {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const traces = env.CONVEYOR_TRACE_EXPORTER ?? (endpoint ? 'otlp' : 'local');
  const metrics = env.CONVEYOR_METRICS_EXPORTER ?? (endpoint ? 'otlp' : 'local');
  const problems: string[] = [];
  if (traces === 'otlp' && !endpoint)
    problems.push('CONVEYOR_TRACE_EXPORTER: otlp needs OTEL_EXPORTER_OTLP_ENDPOINT');
  if (metrics === 'otlp' && !endpoint)
    problems.push('CONVEYOR_METRICS_EXPORTER: otlp needs OTEL_EXPORTER_OTLP_ENDPOINT');
  if (metrics === 'cloud-monitoring' && env.OTEL_METRIC_EXPORT_INTERVAL < MIN_CLOUD_MONITORING_INTERVAL_MS)
    problems.push(
      `OTEL_METRIC_EXPORT_INTERVAL: Cloud Monitoring needs at least ${MIN_CLOUD_MONITORING_INTERVAL_MS} ms`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    traces: {
      exporter: traces,
      otlpUrl: traces === 'otlp' && endpoint ? otlpSignalUrl(endpoint, 'traces') : undefined,
      sampleRatio: env.CONVEYOR_TRACE_SAMPLE_RATIO,
    },
    metrics: {
      exporter: metrics,
      otlpUrl: metrics === 'otlp' && endpoint ? otlpSignalUrl(endpoint, 'metrics') : undefined,
      exportIntervalMs: env.OTEL_METRIC_EXPORT_INTERVAL,
    },
    storeSpans: env.CONVEYOR_TRACE_STORE_SPANS,
  };
}

/** Parses the telemetry variables of `env` alone (tests, tools); throws ConfigError listing every problem. */
export function parseTelemetryConfig(env: Env): TelemetryConfig {
  return telemetryConfigFrom(parseConfig(telemetryEnv, env));
}

/**
 * telemetryConfigFrom for an entry file: a combination that cannot work (otlp without an endpoint…)
 * ends the process as a bad config does in loadConfigOrExit.
 */
export function telemetryConfigOrExit(env: TelemetryEnv, service: string): TelemetryConfig {
  try {
    return telemetryConfigFrom(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(78);
  }
}
