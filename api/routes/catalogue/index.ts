/** /v1/catalogue: what can be ordered and at which price (operators; how local runs are seeded). */
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AmountMinorSchema, CurrencySchema, SkuSchema } from '#shared/contracts/values.ts';
import { getCatalogueItem, listCatalogue, putCatalogueItem } from '#shared/store/catalogue.ts';
import {
  COMMON_PROBLEMS,
  CursorSchema,
  decodeCursor,
  encodeCursor,
  LimitSchema,
  problems,
  success,
} from '../../http.ts';
import { HttpProblem } from '../../problems.ts';

const CatalogueItemSchema = z
  .object({
    sku: SkuSchema,
    name: z.string(),
    unitPriceMinor: AmountMinorSchema,
    currency: CurrencySchema,
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'CatalogueItem' });

const PutCatalogueItemSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    unitPriceMinor: AmountMinorSchema.describe(
      'Price of one unit in the minor unit of the currency (cents).',
    ),
    currency: CurrencySchema,
  })
  .meta({ id: 'PutCatalogueItem' });

const SkuParamsSchema = z.object({ sku: SkuSchema });
const PageQuerySchema = z.strictObject({ limit: LimitSchema, cursor: CursorSchema.optional() });
const SkuCursorSchema = z.object({ s: SkuSchema });

export const catalogueRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  const { services } = app;

  app.put(
    '/v1/catalogue/:sku',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['catalogue'],
        summary: 'Create or replace a catalogue item',
        description: 'New orders are priced from here. 201 when created, 200 when replaced.',
        params: SkuParamsSchema,
        body: PutCatalogueItemSchema,
        response: {
          200: success(CatalogueItemSchema, 'Replaced'),
          201: success(CatalogueItemSchema, 'Created'),
          ...problems(...COMMON_PROBLEMS, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { item, created } = await putCatalogueItem(
        services.pool,
        { sku: request.params.sku, ...request.body },
        request.apiClient!.name,
      );
      return reply
        .code(created ? 201 : 200)
        .header('location', `/v1/catalogue/${item.sku}`)
        .send(item);
    },
  );

  app.get(
    '/v1/catalogue/:sku',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['catalogue'],
        summary: 'Read a catalogue item',
        params: SkuParamsSchema,
        response: {
          200: success(CatalogueItemSchema, 'The catalogue item'),
          ...problems(...COMMON_PROBLEMS, 404),
        },
      },
    },
    async (request) => {
      const item = await getCatalogueItem(services.pool, request.params.sku);
      if (!item) throw new HttpProblem(404, 'not-found', `SKU ${request.params.sku} is not in the catalogue`);
      return item;
    },
  );

  app.get(
    '/v1/catalogue',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['catalogue'],
        summary: 'List the catalogue by SKU',
        querystring: PageQuerySchema,
        response: {
          200: success(
            z.object({ items: z.array(CatalogueItemSchema), nextCursor: z.string().optional() }),
            'A page of the catalogue by SKU',
          ),
          ...problems(...COMMON_PROBLEMS),
        },
      },
    },
    async (request) => {
      const after = skuCursor(request.query.cursor);
      const page = await listCatalogue(services.pool, { limit: request.query.limit, after });
      return { items: page.items, ...(page.next ? { nextCursor: encodeCursor({ s: page.next }) } : {}) };
    },
  );
  done();
};

/** The SKU a page cursor continues after; 400 for a cursor this API did not issue. */
export function skuCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  const decoded = decodeCursor(cursor, SkuCursorSchema);
  if (!decoded) {
    throw new HttpProblem(400, 'invalid-request', 'the cursor is not one this API issued', {
      title: 'Invalid request',
      errors: [{ path: 'querystring.cursor', message: 'unknown cursor' }],
    });
  }
  return decoded.s;
}

export { PageQuerySchema, SkuParamsSchema };
