/**
 * Random and malformed requests at every route (fast-check): bodies, headers, ids and query
 * strings. Whatever arrives, the API never answers 5xx, every error is problem+json with a status
 * that matches the response, and a rejected request writes nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Order } from '../../../api/routes/orders/schemas.ts';
import { orderBody, startTestApi, type TestApi } from '../../helpers/api.ts';

const TABLES = [
  'orders',
  'order_lines',
  'events',
  'outbox',
  'idempotency_keys',
  'catalogue',
  'inventory',
  'audit_log',
  'api_keys',
];

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** Percent-encodes any string (encodeURIComponent throws on unpaired surrogates). */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
  }
}

describe('every route under random and malformed input', () => {
  let api: TestApi;
  let existingOrder: string;

  before(async () => {
    api = await startTestApi();
    const placed = await api.request('POST', '/v1/orders', {
      body: orderBody(),
      headers: { 'idempotency-key': randomUUID() },
    });
    existingOrder = placed.json<Order>().id;
  });
  after(() => api.close());

  async function rowCounts(): Promise<string> {
    const { rows } = await api.db.pool.query<{ counts: string }>(
      `SELECT concat_ws(',', ${TABLES.map((table) => `(SELECT count(*) FROM ${table})`).join(', ')}) AS counts`,
    );
    return rows[0]!.counts;
  }

  /** Printable ASCII: what an HTTP header value may carry. */
  const headerText = (max: number) => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`));
  const anyText = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('', ' ', '\u0000', '\ud800', '../..', '%', '%zz', '0'.repeat(300), 'null', '-1', '1e309'),
  );

  const id = fc.oneof(
    fc.constant(() => existingOrder),
    fc.uuid().map((uuid) => () => uuid),
    fc.uuid().map((uuid) => () => uuid.toUpperCase()),
    anyText.map((text) => () => encode(text) || 'x'),
    fc
      .constantFrom('%zz', '%E0%A4%A', '%ED%A0%80', '%00', '..', '%2e%2e', 'a'.repeat(2_000))
      .map((raw) => () => raw),
  );
  const sku = fc.oneof(
    fc.constantFrom('BOOK-1', 'PEN-1', 'NEW-1', 'x'.repeat(65), '-lead'),
    anyText.map((text) => encode(text) || 'y'),
  );

  const ROUTES: { method: Method; path: (id: string, sku: string) => string }[] = [
    { method: 'POST', path: () => '/v1/orders' },
    { method: 'GET', path: () => '/v1/orders' },
    { method: 'GET', path: (orderId) => `/v1/orders/${orderId}` },
    { method: 'GET', path: (orderId) => `/v1/orders/${orderId}/events` },
    { method: 'POST', path: (orderId) => `/v1/orders/${orderId}/cancel` },
    { method: 'POST', path: (orderId) => `/v1/orders/${orderId}/approval` },
    { method: 'PUT', path: (_, item) => `/v1/catalogue/${item}` },
    { method: 'GET', path: (_, item) => `/v1/catalogue/${item}` },
    { method: 'GET', path: () => '/v1/catalogue' },
    { method: 'PUT', path: (_, item) => `/v1/inventory/${item}` },
    { method: 'GET', path: (_, item) => `/v1/inventory/${item}` },
    { method: 'GET', path: () => '/v1/inventory' },
    { method: 'GET', path: () => '/healthz' },
    { method: 'GET', path: () => '/readyz' },
    { method: 'GET', path: () => '/openapi.json' },
    { method: 'DELETE', path: (orderId) => `/v1/orders/${orderId}` },
    { method: 'PATCH', path: (_, item) => `/v1/catalogue/${item}` },
    { method: 'GET', path: () => '/v1/nothing-here' },
  ];

  const query = fc.oneof(
    fc.constant(''),
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom('status', 'customerId', 'limit', 'cursor'), anyText),
          fc.oneof(
            fc.constantFrom('placed', 'cancelled', '0', '101', '20', '-5', '1.5', 'abc', 'eyJjIjoxfQ', ''),
            anyText,
          ),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => `?${pairs.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&')}`),
    fc.constantFrom(
      '?limit=%zz',
      '?&&==',
      '?status[]=placed',
      '?limit=1&limit=2',
      `?cursor=${'A'.repeat(600)}`,
    ),
  );

  /** Valid bodies with one field replaced by something random, and bodies that are anything at all. */
  const mutatedOrder = fc
    .tuple(fc.constantFrom('customerId', 'currency', 'lines', 'shippingAddress', 'extra'), fc.jsonValue())
    .map(([field, value]) => ({ ...orderBody(), [field]: value }));
  const mutatedLine = fc
    .tuple(fc.constantFrom('sku', 'quantity', 'unitPriceMinor'), fc.jsonValue())
    .map(([field, value]) => orderBody({ lines: [{ sku: 'BOOK-1', quantity: 1, [field]: value }] }));
  const body = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue(),
    { arbitrary: mutatedOrder, weight: 2 },
    { arbitrary: mutatedLine, weight: 2 },
    { arbitrary: fc.constant(orderBody()), weight: 2 },
    fc.record({ reason: anyText }),
    fc.record({ decision: fc.constantFrom('approve', 'reject', 'maybe'), reason: fc.option(anyText) }),
    fc.record({ name: anyText, unitPriceMinor: fc.oneof(fc.integer(), fc.double()), currency: anyText }),
    fc.record({ available: fc.oneof(fc.integer(), fc.double(), fc.constant(-1)) }),
    fc.string({ maxLength: 60 }).map((text) => ({ raw: text })),
  );

  const contentType = fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 6 },
    fc.constantFrom(
      'text/plain',
      'application/xml',
      'application/json; charset=latin1',
      'multipart/form-data',
      '',
    ),
    headerText(40),
  );
  const authorization = fc.oneof(
    {
      arbitrary: fc
        .constantFrom('admin', 'writer', 'reader', 'other')
        .map((role) => (keys: TestApi['keys']) => `Bearer ${keys[role]}`),
      weight: 8,
    },
    fc.constant(() => undefined),
    headerText(80).map((text) => () => text),
    fc.constant(() => `Bearer cvk_${'A'.repeat(43)}`),
    fc.constant(() => 'Basic dXNlcjpwYXNz'),
  );

  const randomRequest = fc.record({
    route: fc.constantFrom(...ROUTES),
    id,
    sku,
    query,
    body,
    rawBody: fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('{', '{"a":', '[1,', 'nul')), {
      freq: 4,
    }),
    contentType,
    authorization,
    idempotencyKey: fc.option(fc.oneof(headerText(300), fc.uuid())),
    ifMatch: fc.option(
      fc.oneof(fc.constantFrom('"1"', '"2"', '*', 'W/"1"', '"x"', '"1", "2"'), headerText(30)),
    ),
    extraHeader: fc.option(
      fc.tuple(fc.constantFrom('traceparent', 'x-cloud-trace-context', 'accept'), headerText(80)),
    ),
  });

  /** Requests aimed at one write route with a nearly valid body, so writes and their refusals are exercised. */
  const route = (method: Method, path: string) =>
    ROUTES.find((r) => r.method === method && r.path('ID', 'SKU') === path)!;
  const key = (role: keyof TestApi['keys']) => (keys: TestApi['keys']) => `Bearer ${keys[role]}`;
  const lines = fc.array(
    fc.record({
      sku: fc.constantFrom('BOOK-1', 'PEN-1', 'MUG-USD', 'NOPE-1'),
      quantity: fc.integer({ min: -1, max: 10_001 }),
    }),
    { minLength: 0, maxLength: 4 },
  );
  const targeted = (
    method: Method,
    path: string,
    role: keyof TestApi['keys'],
    bodies: fc.Arbitrary<unknown>,
  ) =>
    fc.record({
      route: fc.constant(route(method, path)),
      id: fc.oneof(
        fc.constant(() => existingOrder),
        id,
      ),
      sku: fc.oneof(fc.constantFrom('BOOK-1', 'PEN-1', 'NEW-1', 'NEW-2'), sku),
      query: fc.constant(''),
      body: bodies,
      rawBody: fc.constant(null),
      contentType: fc.constant('application/json'),
      authorization: fc.oneof({ arbitrary: fc.constant(key(role)), weight: 4 }, authorization),
      idempotencyKey: fc
        .oneof(fc.uuid(), fc.constantFrom('fixed-key-1', 'fixed-key-2'))
        .map((k): string | null => k),
      ifMatch: fc.option(fc.constantFrom('"1"', '"2"', '"3"', '*', 'W/"1"')),
      extraHeader: fc.constant(null),
    });
  const targetedRequest = fc.oneof(
    targeted(
      'POST',
      '/v1/orders',
      'writer',
      fc.oneof(
        mutatedOrder,
        mutatedLine,
        lines.map((l) => orderBody({ lines: l })),
      ),
    ),
    targeted(
      'POST',
      '/v1/orders/ID/cancel',
      'writer',
      fc.oneof(fc.record({ reason: anyText }), fc.jsonValue()),
    ),
    targeted(
      'POST',
      '/v1/orders/ID/approval',
      'admin',
      fc.record({ decision: fc.constantFrom('approve', 'reject', 'maybe'), reason: fc.option(anyText) }),
    ),
    targeted(
      'PUT',
      '/v1/catalogue/SKU',
      'admin',
      fc.record({
        name: fc.oneof(fc.constant('A thing'), anyText),
        unitPriceMinor: fc.oneof(
          fc.integer({ min: -5, max: 100_000 }),
          fc.double(),
          fc.constant(Number.MAX_SAFE_INTEGER),
        ),
        currency: fc.constantFrom('EUR', 'USD', 'eur', 'EURO'),
      }),
    ),
    targeted(
      'PUT',
      '/v1/inventory/SKU',
      'admin',
      fc.record({ available: fc.oneof(fc.integer({ min: -5, max: 2_000_000_000 }), fc.double()) }),
    ),
  );
  const request = fc.oneof(randomRequest, targetedRequest);

  it('never answers 5xx, answers every error as problem+json, and writes nothing when it refuses', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const url = input.route.path(input.id(), input.sku) + input.query;
        const headers: Record<string, string> = {};
        const auth = input.authorization(api.keys);
        if (auth !== undefined) headers.authorization = auth;
        if (input.idempotencyKey !== null) headers['idempotency-key'] = input.idempotencyKey;
        if (input.ifMatch !== null) headers['if-match'] = input.ifMatch;
        if (input.extraHeader) headers[input.extraHeader[0]] = input.extraHeader[1];
        const payload = input.rawBody ?? (input.body === undefined ? undefined : JSON.stringify(input.body));
        if (payload !== undefined && input.contentType !== '') headers['content-type'] = input.contentType;

        const before = await rowCounts();
        const response = await api.app.inject({
          method: input.route.method,
          url,
          headers,
          ...(payload === undefined || input.route.method === 'GET' ? {} : { payload }),
        });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        const where = `${input.route.method} ${url} → ${response.statusCode}: ${response.body.slice(0, 300)}`;
        assert.ok(response.statusCode < 500, where);
        if (response.statusCode >= 400) {
          assert.match(String(response.headers['content-type']), /^application\/problem\+json/, where);
          const problem = response.json<{ status: number; type: string; title: string }>();
          assert.equal(problem.status, response.statusCode, where);
          assert.ok(problem.type && problem.title, where);
          assert.doesNotMatch(response.body, /\bat .+\.(ts|js):\d+/, `${where}: a stack trace leaked`);
          assert.equal(await rowCounts(), before, `${where}: a refused request wrote something`);
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1_500) },
    );
    const seen = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`);
    console.log(`fuzz: statuses ${seen.join(' ')}`);
  });
});
