/**
 * Per-request context: the trace a request belongs to, carried onto the events it writes, and a
 * Cloud Logging line per response joined to its trace (the request logger's bindings carry the
 * trace fields): at error for 5xx, at debug otherwise, since Cloud Run's request log already
 * records every request.
 *
 * The trace is the request's SERVER span (shared/telemetry httpTelemetry, registered before this),
 * a child of the caller's `traceparent` (or X-Cloud-Trace-Context). Where no span is recorded
 * (telemetry off, or an untraced path such as /healthz) the caller's context stands in for it.
 */
import { isSpanContextValid } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseTraceHeaders, traceLogFields, type Logger, type TraceContext } from '#shared/logging/index.ts';
import { CONVEYOR_ATTRIBUTE, formatTraceparent, requestSpan } from '#shared/telemetry/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The trace this request belongs to: its server span, else what the caller sent, if anything. */
    trace: TraceContext | undefined;
  }
}

/** The trace context as a W3C traceparent, for event envelopes. */
export function traceparentOf(request: FastifyRequest): string | undefined {
  const trace = request.trace;
  if (!trace) return undefined;
  return formatTraceparent({
    traceId: trace.traceId,
    spanId: trace.spanId,
    traceFlags: trace.sampled ? 1 : 0,
  });
}

/**
 * Names the order (and correlation) a request acts on, on its server span: the console finds an
 * order's traces by these, and every span the request starts inherits them.
 */
export function tagRequest(request: FastifyRequest, ids: { orderId: string; correlationId?: string }): void {
  requestSpan(request)?.setAttributes({
    [CONVEYOR_ATTRIBUTE.orderId]: ids.orderId,
    ...(ids.correlationId ? { [CONVEYOR_ATTRIBUTE.correlationId]: ids.correlationId } : {}),
  });
}

/** The request's server span as a TraceContext; else the caller's headers'. */
function traceOf(request: FastifyRequest): TraceContext | undefined {
  const spanContext = requestSpan(request)?.spanContext();
  if (spanContext && isSpanContextValid(spanContext)) {
    return {
      traceId: spanContext.traceId,
      spanId: spanContext.spanId,
      sampled: (spanContext.traceFlags & 1) === 1,
    };
  }
  return parseTraceHeaders(request.headers);
}

export function requestContext(app: FastifyInstance, projectId: string): void {
  app.decorateRequest('trace', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    request.trace = traceOf(request);
    // Bound here rather than in the child logger factory, which runs before the span exists.
    if (request.trace) {
      const log = request.log.child(traceLogFields(projectId, request.trace));
      request.log = log;
      reply.log = log;
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : 'debug';
    // The app's logger is pino (shared/logging); skip building the entry when the level is off.
    if ((request.log as Logger).isLevelEnabled(level)) {
      // https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest
      request.log[level](
        {
          httpRequest: {
            requestMethod: request.method,
            requestUrl: request.url,
            status,
            latency: `${(reply.elapsedTime / 1000).toFixed(4)}s`,
            userAgent: request.headers['user-agent'],
            remoteIp: request.ip,
          },
        },
        `${request.method} ${request.routeOptions.url ?? request.url} ${status}`,
      );
    }
    done();
  });
}
