/**
 * Structured JSON logs in the shape Google Cloud Logging reads from stdout on Cloud Run and
 * Cloud Functions: `severity`, `message`, `time`, and the trace fields that join a log line to
 * its trace. https://cloud.google.com/logging/docs/structured-logging
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export const TRACE_FIELD = 'logging.googleapis.com/trace';
export const SPAN_FIELD = 'logging.googleapis.com/spanId';
export const SAMPLED_FIELD = 'logging.googleapis.com/trace_sampled';

export interface LoggerConfig {
  service: string;
  level?: string;
  /** Extra fields on every line (component, revision, ...). */
  base?: Record<string, unknown>;
}

/** A pino logger writing Cloud Logging JSON, one object per line, to `destination` (stdout by default). */
export function createLogger(config: LoggerConfig, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    messageKey: 'message',
    errorKey: 'error',
    base: { service: config.service, ...config.base },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: {
      level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }),
      log: (object) => withErrorReportingType(object),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Error Reporting groups a log entry as an error when it carries a stack trace in `stack_trace`
 * or `@type` ReportedErrorEvent; pino's `error` serializer gives us the stack.
 */
function withErrorReportingType(object: Record<string, unknown>): Record<string, unknown> {
  const error = object.error as { stack?: unknown } | undefined;
  if (error && typeof error.stack === 'string') {
    return {
      ...object,
      '@type': 'type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent',
      stack_trace: error.stack,
    };
  }
  return object;
}

export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/;
const CLOUD_TRACE = /^([\da-f]{32})(?:\/(\d+))?(?:;o=([01]))?$/i;

/**
 * Reads a W3C `traceparent` or, failing that, Google's `X-Cloud-Trace-Context`
 * (`TRACE_ID/SPAN_ID;o=1`, span id in decimal). Returns undefined for absent or malformed headers.
 */
export function parseTraceHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): TraceContext | undefined {
  const traceparent = first(headers.traceparent);
  const w3c = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  if (w3c && !/^0+$/.test(w3c[1]!) && !/^0+$/.test(w3c[2]!)) {
    return { traceId: w3c[1]!, spanId: w3c[2]!, sampled: (parseInt(w3c[3]!, 16) & 1) === 1 };
  }
  const cloud = first(headers['x-cloud-trace-context']);
  const google = cloud ? CLOUD_TRACE.exec(cloud.trim()) : null;
  if (google) {
    const spanId = google[2] ? BigInt(google[2]).toString(16).padStart(16, '0').slice(-16) : '0'.repeat(16);
    return { traceId: google[1]!.toLowerCase(), spanId, sampled: google[3] === '1' };
  }
  return undefined;
}

/** The Cloud Logging fields that join a log entry to its trace in Cloud Trace. */
export function traceLogFields(projectId: string, trace: TraceContext | undefined): Record<string, unknown> {
  if (!trace) return {};
  return {
    [TRACE_FIELD]: `projects/${projectId}/traces/${trace.traceId}`,
    [SPAN_FIELD]: trace.spanId,
    [SAMPLED_FIELD]: trace.sampled,
  };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
