/** /v1/inventory: stock per SKU (operators; how local runs are seeded). */
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SkuSchema } from '#shared/contracts/values.ts';
import { getInventory, listInventory, setInventory } from '#shared/store/catalogue.ts';
import { COMMON_PROBLEMS, encodeCursor, problems, success } from '../../http.ts';
import { HttpProblem } from '../../problems.ts';
import { PageQuerySchema, SkuParamsSchema, skuCursor } from '../catalogue/index.ts';

const InventoryItemSchema = z
  .object({
    sku: SkuSchema,
    available: z.number().int().min(0).describe('Units free to reserve.'),
    reserved: z.number().int().min(0).describe('Units held for orders in progress.'),
    shipped: z.number().int().min(0),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'InventoryItem' });

const PutInventorySchema = z
  .strictObject({ available: z.number().int().min(0).max(1_000_000_000) })
  .meta({ id: 'PutInventory', description: 'Sets the units available; reserved units are untouched.' });

export const inventoryRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  const { services } = app;

  app.put(
    '/v1/inventory/:sku',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['inventory'],
        summary: 'Set the stock of a SKU',
        description: '201 when the SKU had no stock record, 200 otherwise.',
        params: SkuParamsSchema,
        body: PutInventorySchema,
        response: {
          200: success(InventoryItemSchema, 'Updated'),
          201: success(InventoryItemSchema, 'Created'),
          ...problems(...COMMON_PROBLEMS, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { item, created } = await setInventory(
        services.pool,
        { sku: request.params.sku, available: request.body.available },
        request.apiClient!.name,
      );
      return reply
        .code(created ? 201 : 200)
        .header('location', `/v1/inventory/${item.sku}`)
        .send(item);
    },
  );

  app.get(
    '/v1/inventory/:sku',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['inventory'],
        summary: 'Read the stock of a SKU',
        params: SkuParamsSchema,
        response: {
          200: success(InventoryItemSchema, 'The stock of the SKU'),
          ...problems(...COMMON_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const item = await getInventory(services.pool, request.params.sku);
      if (!item) throw new HttpProblem(404, 'not-found', `SKU ${request.params.sku} has no stock record`);
      return item;
    },
  );

  app.get(
    '/v1/inventory',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['inventory'],
        summary: 'List stock by SKU',
        querystring: PageQuerySchema,
        response: {
          200: success(
            z.object({ items: z.array(InventoryItemSchema), nextCursor: z.string().optional() }),
            'A page of stock by SKU',
          ),
          ...problems(...COMMON_PROBLEMS),
        },
      },
    },
    async (request) => {
      const after = skuCursor(request.query.cursor);
      const page = await listInventory(services.pool, { limit: request.query.limit, after });
      return { items: page.items, ...(page.next ? { nextCursor: encodeCursor({ s: page.next }) } : {}) };
    },
  );
  done();
};
