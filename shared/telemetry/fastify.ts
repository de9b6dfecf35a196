/**
 * Fastify wiring: a SERVER span and the HTTP metric for every request (httpTelemetry), and the
 * routes of the local telemetry endpoints (telemetryRoutes): GET /metrics and, where a local
 * collector runs, POST /v1/traces and /v1/metrics (OTLP/HTTP JSON).
 *
 * The span is the active span for the whole request: entered in onRequest, whose continuation runs
 * every later hook and the handler (Fastify parses the body in an AsyncResource bound to that
 * context). Its parent is the caller's `traceparent` (or X-Cloud-Trace-Context).
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify';
import { httpContext } from './context.ts';
import { handleOtlpRequest, type LocalCollector, type OtlpSignal } from './otlp.ts';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.ts';
import type { Telemetry } from './setup.ts';

/** Paths neither traced nor measured: probes and telemetry's own traffic. */
export const UNTRACED_PATHS: readonly string[] = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/v1/traces',
  '/v1/metrics',
];

interface RequestTelemetry {
  span: Span;
  ended: boolean;
}

const requests = new WeakMap<FastifyRequest, RequestTelemetry>();

/** The SERVER span of a request (to add attributes such as the order id); undefined when untraced. */
export function requestSpan(request: FastifyRequest): Span | undefined {
  return requests.get(request)?.span;
}

export interface HttpTelemetryOptions {
  telemetry: Telemetry;
  /** Default UNTRACED_PATHS. */
  untracedPaths?: readonly string[];
}

/**
 * Adds the hooks to `app` itself (call it on the root instance, before the routes, like the other
 * request-wide hooks of api/app.ts) so that every route and the 404 handler are covered.
 */
export function httpTelemetry(app: FastifyInstance, options: HttpTelemetryOptions): void {
  const { telemetry } = options;
  const untraced = new Set(options.untracedPaths ?? UNTRACED_PATHS);
  const pathOf = (url: string) => {
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  };

  app.addHook('onRequest', (request, _reply, done) => {
    const path = pathOf(request.url);
    if (untraced.has(path)) return done();
    const route = request.routeOptions.url;
    const parent = httpContext(request.headers);
    const span = telemetry.tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: request.method,
          [ATTR_URL_PATH]: path,
          ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
          ...(request.headers['user-agent']
            ? { [ATTR_USER_AGENT_ORIGINAL]: request.headers['user-agent'] }
            : {}),
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    requests.set(request, { span, ended: false });
    context.with(active, done);
  });

  app.addHook('onError', (request, _reply, error, done) => {
    const entry = requests.get(request);
    if (entry) entry.span.recordException(error);
    done();
  });

  const finish = (request: FastifyRequest, status: number | undefined, seconds: number, error?: string) => {
    const entry = requests.get(request);
    if (!entry || entry.ended) return;
    entry.ended = true;
    const route = request.routeOptions.url;
    if (status !== undefined) entry.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    // A server span is an error only for 5xx: a 4xx is the client's (OpenTelemetry's HTTP conventions).
    if (error || (status !== undefined && status >= 500)) {
      entry.span.setAttribute(ATTR_ERROR_TYPE, error ?? String(status));
      entry.span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
    }
    entry.span.end();
    telemetry.metrics.httpRequest(request.method, route, status ?? 499, seconds);
  };

  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    const entry = requests.get(request);
    if (entry) finish(request, undefined, 0, 'aborted');
    done();
  });
  app.addHook('onTimeout', (request, reply, done) => {
    finish(request, undefined, reply.elapsedTime / 1000, 'timeout');
    done();
  });
}

export interface TelemetryRoutesOptions {
  telemetry: Telemetry;
  /** Mount POST /v1/traces and /v1/metrics into this collector (the local stack's API only). */
  collector?: LocalCollector;
  /** Route config of GET /metrics (e.g. `{ public: true }` locally, or an admin scope). */
  metricsConfig?: FastifyContextConfig;
  /** Route config of the OTLP routes. */
  otlpConfig?: FastifyContextConfig;
  /** Largest OTLP body accepted; default 16 MiB (an exporter batch of 512 spans is ~0.5 MiB). */
  otlpBodyLimit?: number;
}

/** GET /metrics, and the OTLP receiver when a collector is given. Register in a plugin or on the root. */
export function telemetryRoutes(app: FastifyInstance, options: TelemetryRoutesOptions): void {
  app.get(
    '/metrics',
    { config: options.metricsConfig ?? {}, schema: { hide: true } },
    async (_request, reply) => {
      const text = await options.telemetry.prometheus();
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(text);
    },
  );
  const { collector } = options;
  if (!collector) return;
  for (const signal of ['traces', 'metrics'] as const satisfies readonly OtlpSignal[]) {
    app.post(
      `/v1/${signal}`,
      {
        config: options.otlpConfig ?? {},
        bodyLimit: options.otlpBodyLimit ?? 16 * 1024 * 1024,
        schema: { hide: true },
      },
      async (request, reply) => {
        const answer = handleOtlpRequest(collector, signal, {
          contentType: request.headers['content-type'],
          body: request.body,
        });
        return reply.code(answer.status).type('application/json').send(answer.body);
      },
    );
  }
}
