/**
 * Per-request context: the W3C trace context from `traceparent` (or Google's
 * X-Cloud-Trace-Context), carried onto the events a request writes, and a Cloud Logging line per
 * response joined to its trace (the logger's child bindings carry the trace fields): at error for
 * 5xx, at debug otherwise, since Cloud Run's request log already records every request.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseTraceHeaders, traceLogFields, type Logger, type TraceContext } from '#shared/logging/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The trace this request belongs to, if the caller sent one. */
    trace: TraceContext | undefined;
  }
}

/** The trace context as a W3C traceparent, for event envelopes. */
export function traceparentOf(request: FastifyRequest): string | undefined {
  const trace = request.trace;
  if (!trace) return undefined;
  return `00-${trace.traceId}-${trace.spanId}-${trace.sampled ? '01' : '00'}`;
}

export function requestContext(app: FastifyInstance, projectId: string): void {
  app.decorateRequest('trace', undefined);
  app.setChildLoggerFactory((logger, bindings, options, raw) => {
    const trace = parseTraceHeaders(raw.headers);
    return logger.child({ ...bindings, ...traceLogFields(projectId, trace) }, options);
  });
  app.addHook('onRequest', (request, _reply, done) => {
    request.trace = parseTraceHeaders(request.headers);
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
