/**
 * /v1/dead-letters (operators, admin scope): list and inspect dead letters, redrive them to their
 * source topic (one, or in bulk by filter) or discard them with a reason. Every action is audited.
 */
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { Publisher } from '#shared/messaging/publisher.ts';
import {
  closeDeadLetter,
  getDeadLetter,
  listDeadLetters,
  lockDeadLetter,
} from '#shared/store/dead-letters.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { COMMON_PROBLEMS, decodeCursor, encodeCursor, problems } from '../../http.ts';
import { HttpProblem } from '../../problems.ts';
import { DeadLetterStateError, redriveMany, redriveOne } from './redrive.ts';
import {
  BulkRedriveBodySchema,
  BulkRedrivenSchema,
  DeadLetterCursorSchema,
  DeadLetterIdParamsSchema,
  DeadLetterPageSchema,
  DeadLetterSchema,
  DiscardBodySchema,
  ListDeadLettersQuerySchema,
  RedriveBodySchema,
  RedrivenSchema,
  toDeadLetter,
} from './schemas.ts';

export interface DeadLetterRoutesOptions {
  /** Publishes redrives; without it redrive answers 503. */
  publisher?: Publisher | undefined;
}

const PATH = '/v1/dead-letters';

export const deadLetterRoutes: FastifyPluginCallbackZod<DeadLetterRoutesOptions> = (app, options, done) => {
  const { services } = app;
  const notFound = (id: string) => new HttpProblem(404, 'not-found', `dead letter ${id} not found`);
  const conflict = (error: DeadLetterStateError) => new HttpProblem(409, 'dead-letter-closed', error.message);
  const publisher = () => {
    if (!options.publisher) {
      throw new HttpProblem(503, 'unavailable', 'redrive is not configured here (no publisher)');
    }
    return options.publisher;
  };

  app.get(
    PATH,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['dead-letters'],
        summary: 'List dead letters, newest first',
        querystring: ListDeadLettersQuerySchema,
        response: { 200: DeadLetterPageSchema, ...problems(...COMMON_PROBLEMS) },
      },
    },
    async (request) => {
      const { status, subscription, orderId, eventType, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, DeadLetterCursorSchema) : undefined;
      if (cursor && !after) {
        throw new HttpProblem(400, 'invalid-request', 'the cursor is not one this API issued', {
          title: 'Invalid request',
          errors: [{ path: 'querystring.cursor', message: 'unknown cursor' }],
        });
      }
      const page = await listDeadLetters(services.pool, {
        status,
        subscription,
        orderId,
        eventType,
        limit,
        after: after ? { deadLetteredAt: after.t, id: after.i } : undefined,
      });
      return {
        items: page.items.map(toDeadLetter),
        ...(page.next ? { nextCursor: encodeCursor({ t: page.next.deadLetteredAt, i: page.next.id }) } : {}),
      };
    },
  );

  app.get(
    `${PATH}/:id`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['dead-letters'],
        summary: 'Read a dead letter: the message, its attributes, why it died',
        params: DeadLetterIdParamsSchema,
        response: { 200: DeadLetterSchema, ...problems(...COMMON_PROBLEMS, 404) },
      },
    },
    async (request) => {
      const letter = await getDeadLetter(services.pool, request.params.id);
      if (!letter) throw notFound(request.params.id);
      return toDeadLetter(letter);
    },
  );

  app.post(
    `${PATH}/:id/redrive`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['dead-letters'],
        summary: 'Republish a dead letter to its source topic, with its original event id',
        params: DeadLetterIdParamsSchema,
        body: RedriveBodySchema,
        response: { 200: RedrivenSchema, ...problems(...COMMON_PROBLEMS, 404, 409, 415) },
      },
    },
    async (request) => {
      try {
        const result = await redriveOne({ pool: services.pool, publisher: publisher() }, request.params.id, {
          actor: request.apiClient!.name,
          reason: request.body.reason ?? 'redriven by an operator',
        });
        if (!result) throw notFound(request.params.id);
        const letter = await getDeadLetter(services.pool, request.params.id);
        return { deadLetter: toDeadLetter(letter ?? result.letter), messageId: result.messageId };
      } catch (error) {
        if (error instanceof DeadLetterStateError) throw conflict(error);
        throw error;
      }
    },
  );

  app.post(
    `${PATH}/:id/discard`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['dead-letters'],
        summary: 'Drop a dead letter, saying why',
        params: DeadLetterIdParamsSchema,
        body: DiscardBodySchema,
        response: { 200: DeadLetterSchema, ...problems(...COMMON_PROBLEMS, 404, 409, 415, 422) },
      },
    },
    async (request) => {
      const { id } = request.params;
      await withTransaction(services.pool, async (client) => {
        const letter = await lockDeadLetter(client, id);
        if (!letter) throw notFound(id);
        const closed = await closeDeadLetter(client, id, {
          status: 'discarded',
          reason: request.body.reason,
          actor: request.apiClient!.name,
        });
        if (!closed) throw conflict(new DeadLetterStateError(`dead letter ${id} is ${letter.status}`));
      });
      return toDeadLetter((await getDeadLetter(services.pool, id))!);
    },
  );

  app.post(
    `${PATH}/redrive`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['dead-letters'],
        summary: 'Redrive the open dead letters matching a filter (oldest first, at most `limit`)',
        body: BulkRedriveBodySchema,
        response: { 200: BulkRedrivenSchema, ...problems(...COMMON_PROBLEMS, 415) },
      },
    },
    async (request) => {
      const { filter, limit, reason } = request.body;
      return redriveMany({ pool: services.pool, publisher: publisher() }, filter, limit, {
        actor: request.apiClient!.name,
        reason: reason ?? 'bulk redrive by an operator',
      });
    },
  );

  done();
};
