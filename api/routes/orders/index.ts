/** /v1/orders: place (idempotently), read, list, history, cancel, approve or reject. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { ApiClient } from '#shared/store/api-keys.ts';
import type { Actor } from '#shared/contracts/values.ts';
import { ValidationError } from '#shared/errors.ts';
import type { OrderCommand, OrderState } from '#shared/domain/order/index.ts';
import { executeOrderCommand, type CommandMeta } from '#shared/orders/execute.ts';
import { findIdempotentRequest, requestHash, type StoredResponse } from '#shared/store/idempotency.ts';
import { listOrders, loadOrderState, readOrderHistory } from '#shared/store/orders.ts';
import {
  COMMON_PROBLEMS,
  decodeCursor,
  encodeCursor,
  etag,
  ifMatchVersions,
  IfMatchHeadersSchema,
  problems,
  success,
} from '../../http.ts';
import { HttpProblem } from '../../problems.ts';
import { tagRequest, traceparentOf } from '../../plugins/request-context.ts';
import {
  ApprovalBodySchema,
  CancelBodySchema,
  IdempotencyHeadersSchema,
  ListOrdersQuerySchema,
  OrderCursorSchema,
  OrderHistorySchema,
  OrderIdParamsSchema,
  OrderPageSchema,
  OrderSchema,
  PlaceOrderBodySchema,
  toOrder,
} from './schemas.ts';

const ORDERS_PATH = '/v1/orders';
export const REPLAYED_HEADER = 'idempotent-replayed';

export const ordersRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  const { services } = app;

  app.post(
    ORDERS_PATH,
    {
      config: { scope: 'orders:write' },
      schema: {
        tags: ['orders'],
        summary: 'Place an order',
        description:
          'Prices every line from the catalogue, records order.created and answers 202 with the order and its ' +
          'URL. Requires an Idempotency-Key: the same key and body replay the first response (header ' +
          'Idempotent-Replayed: true); the same key with another body is refused with 422.',
        headers: IdempotencyHeadersSchema,
        body: PlaceOrderBodySchema,
        response: {
          202: success(
            OrderSchema,
            'Accepted: the new order (Location: its URL, ETag: its version; Idempotent-Replayed: true on a replay)',
          ),
          ...problems(...COMMON_PROBLEMS, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const client = request.apiClient!;
      const key = request.headers['idempotency-key'];
      const hash = requestHash('POST', ORDERS_PATH, request.body);
      const record = {
        clientId: client.id,
        key,
        method: 'POST',
        path: ORDERS_PATH,
        requestHash: hash,
        ttlSeconds: services.settings.idempotencyTtlSeconds,
      };
      // Twice at most: a key that expires and is purged between our attempt and our look-up.
      for (let attempt = 1; ; attempt++) {
        const orderId = services.newId();
        tagRequest(request, { orderId, correlationId: orderId });
        try {
          const result = await services.placer.place({
            orderId,
            input: { ...request.body, channel: 'api' },
            meta: commandMeta(request),
            record,
            respond: ({ state }) => orderResponse(state, 202),
          });
          if (result.outcome === 'created') return send(reply, result.response, false);
        } catch (error) {
          // A retry of a request that succeeded must replay its answer even if, say, a SKU has since
          // left the catalogue.
          if (!(error instanceof ValidationError)) throw error;
          const stored = await findIdempotentRequest(services.pool, client.id, key);
          if (stored?.response && stored.requestHash === hash) return send(reply, stored.response, true);
          throw error;
        }
        const stored = await findIdempotentRequest(services.pool, client.id, key);
        if (!stored && attempt < 2) continue;
        if (!stored)
          throw new HttpProblem(409, 'idempotency-conflict', 'the Idempotency-Key is in use; retry');
        if (stored.requestHash !== hash) {
          throw new HttpProblem(
            422,
            'idempotency-key-reused',
            'this Idempotency-Key was used for a different request; use a new key for a new order',
            { title: 'Idempotency-Key reused' },
          );
        }
        if (!stored.response) {
          throw new HttpProblem(
            409,
            'idempotency-in-progress',
            'a request with this Idempotency-Key is in progress',
            {
              headers: { 'retry-after': '1' },
            },
          );
        }
        return send(reply, stored.response, true);
      }
    },
  );

  app.get(
    `${ORDERS_PATH}/:id`,
    {
      config: { scope: 'orders:read' },
      schema: {
        tags: ['orders'],
        summary: 'Read an order',
        params: OrderIdParamsSchema,
        response: {
          200: success(OrderSchema, 'The order (ETag: its version)'),
          ...problems(...COMMON_PROBLEMS, 404),
        },
      },
    },
    async (request, reply) => {
      const state = await loadOrderState(services.pool, request.params.id);
      if (!state) throw notFound(request.params.id);
      return reply.header('etag', etag(state.version)).send(toOrder(state));
    },
  );

  app.get(
    ORDERS_PATH,
    {
      config: { scope: 'orders:read' },
      schema: {
        tags: ['orders'],
        summary: 'List orders, newest first',
        description:
          'Filtered by status, customer and creation time ([createdAfter, createdBefore)); keyset paged: ' +
          'pass nextCursor with the same filters for the next page.',
        querystring: ListOrdersQuerySchema,
        response: {
          200: success(OrderPageSchema, 'A page of orders, newest first'),
          ...problems(...COMMON_PROBLEMS),
        },
      },
    },
    async (request) => {
      const { status, customerId, createdAfter, createdBefore, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, OrderCursorSchema) : undefined;
      if (cursor && !after) {
        throw new HttpProblem(400, 'invalid-request', 'the cursor is not one this API issued', {
          title: 'Invalid request',
          errors: [{ path: 'querystring.cursor', message: 'unknown cursor' }],
        });
      }
      const page = await listOrders(services.pool, {
        status,
        customerId,
        createdAfter,
        createdBefore,
        limit,
        after: after ? { createdAt: after.c, id: after.i } : undefined,
      });
      return {
        items: page.orders.map(toOrder),
        ...(page.next ? { nextCursor: encodeCursor({ c: page.next.createdAt, i: page.next.id }) } : {}),
      };
    },
  );

  app.get(
    `${ORDERS_PATH}/:id/events`,
    {
      config: { scope: 'orders:read' },
      schema: {
        tags: ['orders'],
        summary: "An order's full history",
        description: 'Every event of the order in sequence order, with its CloudEvents envelope (audit).',
        params: OrderIdParamsSchema,
        response: {
          200: success(OrderHistorySchema, 'Every event of the order, in sequence order'),
          ...problems(...COMMON_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const history = await readOrderHistory(services.pool, request.params.id);
      if (history.length === 0) throw notFound(request.params.id);
      return {
        orderId: request.params.id,
        events: history.map((stored) => ({
          position: stored.position,
          recordedAt: stored.recordedAt,
          event: stored.envelope,
        })),
      };
    },
  );

  app.post(
    `${ORDERS_PATH}/:id/cancel`,
    {
      config: { scope: 'orders:write' },
      schema: {
        tags: ['orders'],
        summary: 'Ask to cancel an order',
        description:
          'Records order.cancellation_requested; the saga then undoes what was done and records order.cancelled. ' +
          '202 when recorded now, 200 when the order was already being cancelled.',
        params: OrderIdParamsSchema,
        headers: IfMatchHeadersSchema,
        body: CancelBodySchema,
        response: {
          200: OrderSchema,
          202: OrderSchema,
          ...problems(...COMMON_PROBLEMS, 404, 409, 412, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const client = request.apiClient!;
      return runCommand(request, reply, request.params.id, {
        type: 'RequestCancellation',
        by: actorOf(client),
        reason: request.body.reason,
      });
    },
  );

  app.post(
    `${ORDERS_PATH}/:id/approval`,
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['orders'],
        summary: 'Approve or reject an order awaiting approval (operators)',
        params: OrderIdParamsSchema,
        headers: IfMatchHeadersSchema,
        body: ApprovalBodySchema,
        response: {
          200: OrderSchema,
          202: OrderSchema,
          ...problems(...COMMON_PROBLEMS, 404, 409, 412, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const client = request.apiClient!;
      return runCommand(request, reply, request.params.id, {
        type: 'DecideApproval',
        decision: request.body.decision,
        by: { kind: 'operator', id: client.name },
        ...(request.body.reason ? { reason: request.body.reason } : {}),
      });
    },
  );

  async function runCommand(
    request: FastifyRequest<{ Headers: { 'if-match'?: string | undefined } }>,
    reply: FastifyReply,
    orderId: string,
    command: OrderCommand,
  ) {
    tagRequest(request, { orderId });
    const outcome = await executeOrderCommand(services.commands, orderId, command, {
      ...commandMeta(request),
      expectedVersions: ifMatchVersions(request.headers['if-match']),
    });
    return reply
      .code(outcome.events.length > 0 ? 202 : 200)
      .header('etag', etag(outcome.state.version))
      .header('location', `${ORDERS_PATH}/${orderId}`)
      .send(toOrder(outcome.state));
  }
  done();
};

/** Who acts through an API key: operators (admin keys) or a shop acting for its customer. */
function actorOf(client: ApiClient): Actor {
  return { kind: client.scopes.includes('admin') ? 'operator' : 'customer', id: client.name };
}

function commandMeta(request: FastifyRequest): CommandMeta {
  return { causationId: `request:${String(request.id)}`, traceparent: traceparentOf(request) };
}

function notFound(id: string): HttpProblem {
  return new HttpProblem(404, 'not-found', `order ${id} not found`);
}

/** The 202 of a new order, serialised once: the same bytes are stored for replays. */
function orderResponse(state: OrderState, status: number): StoredResponse {
  return {
    status,
    headers: {
      location: `${ORDERS_PATH}/${state.id}`,
      etag: etag(state.version),
      'content-type': 'application/json; charset=utf-8',
    },
    body: JSON.stringify(toOrder(state)),
  };
}

function send(reply: FastifyReply, response: StoredResponse, replayed: boolean): FastifyReply {
  reply.code(response.status).headers(response.headers);
  if (replayed) reply.header(REPLAYED_HEADER, 'true');
  return reply.send(response.body);
}
