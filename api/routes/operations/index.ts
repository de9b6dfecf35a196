/**
 * /v1/operations (operators, admin scope): what the operations console reads besides the resource
 * routes. The console's session (who signed in, where traces live), an order's timeline, the
 * traces this API keeps (the local stack's span store: by order or correlation id, one by id) and
 * the live overview of the metrics. In production spans go to Cloud Trace: the trace routes answer
 * 404 there and the console links to Cloud Trace instead.
 */
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { loadOrderState, readOrderHistory } from '#shared/store/orders.ts';
import { readOrderActivity } from '#shared/store/timeline.ts';
import type { SpanStore, StoredSpan, Telemetry } from '#shared/telemetry/index.ts';
import { COMMON_PROBLEMS, problems, success } from '../../http.ts';
import { HttpProblem } from '../../problems.ts';
import { toOrder } from '../orders/schemas.ts';
import { buildOverview, OverviewSchema } from './overview.ts';
import {
  SessionSchema,
  SpanSchema,
  TimelineParamsSchema,
  TimelineSchema,
  TraceIdParamsSchema,
  TraceListQuerySchema,
  TraceSummarySchema,
} from './schemas.ts';
import { buildTimeline } from './timeline.ts';

export interface OperationsRoutesOptions {
  telemetry: Telemetry;
}

const PATH = '/v1/operations';
const admin = { scope: 'admin' } as const;

/** Spans of at most this many of an order's traces go into its timeline. */
const TIMELINE_TRACES = 20;

export const operationsRoutes: FastifyPluginCallbackZod<OperationsRoutesOptions> = (app, options, done) => {
  const { services } = app;
  const spans: SpanStore | undefined = options.telemetry.spans;
  const kept = () => {
    if (!spans) {
      throw new HttpProblem(404, 'traces-elsewhere', 'this API keeps no spans: traces are in Cloud Trace', {
        title: 'Traces are kept elsewhere',
      });
    }
    return spans;
  };

  app.get(
    `${PATH}/session`,
    {
      config: admin,
      schema: {
        tags: ['operations'],
        summary: 'Who the console is signed in as',
        response: {
          200: success(SessionSchema, 'The API key and what this API offers'),
          ...problems(...COMMON_PROBLEMS),
        },
      },
    },
    (request) => ({
      client: request.apiClient!.name,
      scopes: request.apiClient!.scopes,
      projectId: services.settings.projectId,
      traces: spans ? ('here' as const) : ('elsewhere' as const),
    }),
  );

  app.get(
    '/v1/orders/:id/timeline',
    {
      config: admin,
      schema: {
        tags: ['operations'],
        summary: "An order's timeline (operators)",
        description:
          'Events, saga steps, other deliveries, failures, provider webhooks, dead letters and (where spans are ' +
          'kept here) provider calls, in time order, with durations and trace ids.',
        params: TimelineParamsSchema,
        response: { 200: success(TimelineSchema, 'The timeline'), ...problems(...COMMON_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const orderId = request.params.id;
      const [state, history] = await Promise.all([
        loadOrderState(services.pool, orderId),
        readOrderHistory(services.pool, orderId),
      ]);
      if (!state) throw new HttpProblem(404, 'not-found', `order ${orderId} not found`);
      const activity = await readOrderActivity(
        services.pool,
        orderId,
        history.map((stored) => stored.envelope.id),
      );
      const traces = spans ? spans.traces({ orderId, limit: TIMELINE_TRACES }) : null;
      const orderSpans: StoredSpan[] = (traces ?? []).flatMap((summary) =>
        spans!.trace(summary.traceId).filter((span) => span.attributes['conveyor.order_id'] === orderId),
      );
      return {
        order: toOrder(state),
        entries: buildTimeline(history, activity, orderSpans),
        traces,
      };
    },
  );

  app.get(
    `${PATH}/traces`,
    {
      config: admin,
      schema: {
        tags: ['operations'],
        summary: 'Traces kept here, newest first (local stack)',
        querystring: TraceListQuerySchema,
        response: {
          200: success(z.object({ items: z.array(TraceSummarySchema) }), 'Matching traces'),
          ...problems(...COMMON_PROBLEMS, 404),
        },
      },
    },
    (request) => {
      const { orderId, correlationId, limit } = request.query;
      return {
        items: kept().traces({
          limit,
          ...(orderId ? { orderId } : {}),
          ...(correlationId ? { correlationId } : {}),
        }),
      };
    },
  );

  app.get(
    `${PATH}/traces/:traceId`,
    {
      config: admin,
      schema: {
        tags: ['operations'],
        summary: 'One trace: its spans, by start time (local stack)',
        params: TraceIdParamsSchema,
        response: {
          200: success(z.object({ traceId: z.string(), spans: z.array(SpanSchema) }), 'The spans'),
          ...problems(...COMMON_PROBLEMS, 404),
        },
      },
    },
    (request) => {
      const found = kept().trace(request.params.traceId);
      if (found.length === 0)
        throw new HttpProblem(404, 'not-found', `trace ${request.params.traceId} is not (or no longer) kept`);
      return { traceId: request.params.traceId, spans: found };
    },
  );

  app.get(
    `${PATH}/overview`,
    {
      config: admin,
      schema: {
        tags: ['operations'],
        summary: 'Live numbers: throughput, latency, lag, backlog, dead letters, circuits',
        description:
          'Cumulative counters and histograms of every process that reports here, and current gauges; two ' +
          'snapshots give rates and the latency percentiles of the interval between them.',
        response: { 200: success(OverviewSchema, 'A snapshot'), ...problems(...COMMON_PROBLEMS) },
      },
    },
    async () => buildOverview(await options.telemetry.metricSources(), Date.now()),
  );

  done();
};
