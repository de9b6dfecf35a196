/**
 * The API under test: built with buildApp() on a test database, exactly as api/server.ts builds
 * it, with API keys for each scope and a seeded catalogue.
 *
 *   let api: TestApi;
 *   before(async () => (api = await startTestApi()));
 *   after(() => api.close());
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppSettings, type RelayHandle } from '../../api/app.ts';
import { createLogger } from '#shared/logging/index.ts';
import { createApiKey, type ApiScope } from '#shared/store/api-keys.ts';
import { putCatalogueItem, setInventory } from '#shared/store/catalogue.ts';
import { outboxStats } from '#shared/store/outbox.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApi {
  app: FastifyInstance;
  db: TestDatabase;
  /** API keys by role. */
  keys: { admin: string; writer: string; reader: string; other: string };
  /** http://127.0.0.1:port when started with `listen: true`. */
  url: string | undefined;
  request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
    url: string,
    options?: { key?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** Share a database (e.g. with a relay under test); otherwise a fresh one, dropped on close. */
  db?: TestDatabase;
  relay?: RelayHandle;
  settings?: Partial<AppSettings>;
  listen?: boolean;
  clock?: () => Date;
}

/** Catalogue every test can order from. */
export const CATALOGUE = [
  { sku: 'BOOK-1', name: 'A book', unitPriceMinor: 1250, currency: 'EUR' },
  { sku: 'PEN-1', name: 'A pen', unitPriceMinor: 199, currency: 'EUR' },
  { sku: 'MUG-USD', name: 'A mug', unitPriceMinor: 800, currency: 'USD' },
] as const;

export const ADDRESS = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
} as const;

/** A valid order body. */
export function orderBody(overrides: Record<string, unknown> = {}) {
  return {
    customerId: 'customer-1',
    currency: 'EUR',
    lines: [
      { sku: 'BOOK-1', quantity: 2 },
      { sku: 'PEN-1', quantity: 1 },
    ],
    shippingAddress: ADDRESS,
    ...overrides,
  };
}

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const db = options.db ?? (await createTestDatabase());
  const pool = db.pool;
  const relay: RelayHandle = options.relay ?? { trigger: () => {}, stats: () => outboxStats(pool) };
  const logger = createLogger({ service: 'api-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const app = await buildApp({
    pool,
    relay,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    settings: { rateLimitPerMinute: 100_000, ...options.settings },
  });
  const key = async (name: string, scopes: ApiScope[]) => (await createApiKey(pool, { name, scopes })).key;
  const keys = {
    admin: await key('ops', ['admin']),
    writer: await key('shop', ['orders:write', 'orders:read']),
    reader: await key('partner', ['orders:read']),
    other: await key('other-shop', ['orders:write', 'orders:read']),
  };
  for (const item of CATALOGUE) {
    await putCatalogueItem(pool, item, 'test');
    await setInventory(pool, { sku: item.sku, available: 1_000 }, 'test');
  }
  const url = options.listen
    ? await app.listen({ host: '127.0.0.1', port: 0 })
    : (await app.ready(), undefined);
  return {
    app,
    db,
    keys,
    url,
    request(method, path, { key = keys.writer, body, headers = {} } = {}) {
      return app.inject({
        method,
        url: path,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
        ...(body === undefined
          ? {}
          : typeof body === 'string'
            ? { payload: body }
            : { payload: body as object }),
      });
    },
    async close() {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}
