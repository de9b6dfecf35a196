/** Probes: /healthz (the process answers), /readyz (Postgres reachable, outbox relay not stuck). */
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpProblem } from '../../problems.ts';
import { problems, success } from '../../http.ts';

const ReadySchema = z.object({
  status: z.literal('ready'),
  outbox: z.object({ backlog: z.number().int(), oldestAgeMs: z.number().int() }),
});

export const healthRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  const { services } = app;

  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up',
        security: [],
        response: { 200: success(z.object({ status: z.literal('ok') }), 'The process is up') },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Readiness: Postgres answers and the outbox relay keeps up',
        description:
          'Unready (503) when Postgres does not answer or the oldest unpublished outbox row is older than the ' +
          'configured threshold (Pub/Sub unreachable, or the relay stuck).',
        security: [],
        response: { 200: success(ReadySchema, 'Ready to take traffic'), ...problems(503) },
      },
    },
    async (request) => {
      let outbox;
      try {
        // One query: it also proves Postgres answers.
        outbox = await services.relay.stats();
      } catch (error) {
        request.log.warn({ error }, 'readiness: Postgres is not reachable');
        throw new HttpProblem(503, 'not-ready', 'Postgres is not reachable', {
          title: 'Not ready',
          headers: { 'retry-after': '5' },
        });
      }
      if (outbox.oldestAgeMs > services.settings.outboxStuckAfterMs) {
        throw new HttpProblem(
          503,
          'not-ready',
          `the oldest unpublished outbox row is ${Math.round(outbox.oldestAgeMs / 1000)} s old ` +
            `(backlog ${outbox.backlog}); publishing is stuck`,
          { title: 'Not ready', headers: { 'retry-after': '5' } },
        );
      }
      return {
        status: 'ready' as const,
        outbox: { backlog: outbox.backlog, oldestAgeMs: outbox.oldestAgeMs },
      };
    },
  );
  done();
};
