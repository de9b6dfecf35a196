/**
 * /v1/replays (operators, admin scope): republish history from the event store to ONE consumer
 * (analytics, saga, notifier) without disturbing the others, follow its progress, cancel it.
 * Requests are idempotent and audited. With a publisher, this plugin also runs the replay runner
 * of this instance (shared/replay/runner.ts): it starts when the app is ready and stops, handing
 * its lease back, when the app closes; without one, replays wait for an instance that has one.
 */
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { ConflictError } from '#shared/errors.ts';
import type { Publisher } from '#shared/messaging/publisher.ts';
import { normalizeReplayRequest, ReplayRequestSchema } from '#shared/replay/request.ts';
import { createReplayRunner, type ReplayRunnerOptions } from '#shared/replay/runner.ts';
import { cancelReplay, createReplay, getReplay, listReplays } from '#shared/replay/store.ts';
import { requestHash } from '#shared/store/idempotency.ts';
import type { Logger } from '#shared/logging/index.ts';
import { COMMON_PROBLEMS, decodeCursor, encodeCursor, problems } from '../../http.ts';
import { HttpProblem } from '../../problems.ts';
import {
  CreateReplayHeadersSchema,
  ListReplaysQuerySchema,
  ReplayCursorSchema,
  ReplayIdParamsSchema,
  ReplayPageSchema,
  ReplaySchema,
  toReplay,
} from './schemas.ts';

export interface ReplayRoutesOptions {
  /** Publishes replays (the relay's publisher); without it this instance runs none. */
  publisher?: Publisher | undefined;
  /** Runner tuning (tests, benchmarks). */
  runner?: Partial<Omit<ReplayRunnerOptions, 'pool' | 'publisher' | 'logger'>>;
}

const PATH = '/v1/replays';
export const REPLAYED_HEADER = 'idempotent-replayed';

export const replayRoutes: FastifyPluginCallbackZod<ReplayRoutesOptions> = (app, options, done) => {
  const { services } = app;
  const runner = options.publisher
    ? createReplayRunner({
        pool: services.pool,
        publisher: options.publisher,
        logger: app.log.child({ component: 'replay-runner' }) as Logger,
        ...options.runner,
      })
    : undefined;
  if (runner) {
    app.addHook('onReady', (ready) => {
      runner.start();
      ready();
    });
    app.addHook('onClose', async () => runner.stop());
  }
  const notFound = (id: string) => new HttpProblem(404, 'not-found', `replay ${id} not found`);

  app.post(
    PATH,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'Replay history to one consumer',
        description:
          'Republishes the events that occurred in [from, to) (optionally of some types, of one order) from ' +
          'the event store, in store order, to the replays topic addressed to `consumer` only: its ' +
          '`<consumer>-replay` subscription receives them, no other consumer does. Events keep their ids, so ' +
          'consumers de-duplicate. Answers 202 with the replay; the same request again answers the same replay ' +
          '(header Idempotent-Replayed: true); to replay the same range again, send a new Idempotency-Key.',
        headers: CreateReplayHeadersSchema,
        body: ReplayRequestSchema,
        response: { 202: ReplaySchema, ...problems(...COMMON_PROBLEMS, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const client = request.apiClient!;
      const normalized = normalizeReplayRequest(request.body);
      let result: Awaited<ReturnType<typeof createReplay>>;
      try {
        result = await createReplay(services.pool, {
          id: services.newId(),
          request: normalized,
          requestHash: requestHash('POST', PATH, normalized),
          client: { id: client.id, name: client.name },
          idempotencyKey: request.headers['idempotency-key'],
          reuseWithinSeconds: services.settings.idempotencyTtlSeconds,
        });
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        throw new HttpProblem(422, 'idempotency-key-reused', error.message, {
          title: 'Idempotency-Key reused',
        });
      }
      if (result.created) runner?.trigger();
      return reply
        .code(202)
        .header('location', `${PATH}/${result.replay.id}`)
        .header(REPLAYED_HEADER, String(!result.created))
        .send(toReplay(result.replay, services.clock()));
    },
  );

  app.get(
    `${PATH}/:id`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'A replay and its progress',
        description: 'Published of total, the average rate so far and the time left at that rate.',
        params: ReplayIdParamsSchema,
        response: { 200: ReplaySchema, ...problems(...COMMON_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const replay = await getReplay(services.pool, request.params.id);
      if (!replay) throw notFound(request.params.id);
      return toReplay(replay, services.clock());
    },
  );

  app.get(
    PATH,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'List replays, newest first',
        querystring: ListReplaysQuerySchema,
        response: { 200: ReplayPageSchema, ...problems(...COMMON_PROBLEMS) },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, ReplayCursorSchema) : undefined;
      if (cursor && !after) {
        throw new HttpProblem(400, 'invalid-request', 'the cursor is not one this API issued', {
          title: 'Invalid request',
          errors: [{ path: 'querystring.cursor', message: 'unknown cursor' }],
        });
      }
      const page = await listReplays(services.pool, {
        status,
        limit,
        after: after ? { createdAt: after.c, id: after.i } : undefined,
      });
      const now = services.clock();
      return {
        items: page.replays.map((replay) => toReplay(replay, now)),
        ...(page.next ? { nextCursor: encodeCursor({ c: page.next.createdAt, i: page.next.id }) } : {}),
      };
    },
  );

  app.post(
    `${PATH}/:id/cancel`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'Cancel a replay',
        description:
          'Stops a pending or running replay after the page being published (what went out stays out). ' +
          'Cancelling a cancelled replay changes nothing; a completed or failed one answers 409.',
        params: ReplayIdParamsSchema,
        response: { 200: ReplaySchema, ...problems(...COMMON_PROBLEMS, 404, 409) },
      },
    },
    async (request) => {
      const replay = await cancelReplay(services.pool, request.params.id, request.apiClient!.name);
      if (!replay) throw notFound(request.params.id);
      return toReplay(replay, services.clock());
    },
  );

  done();
};
