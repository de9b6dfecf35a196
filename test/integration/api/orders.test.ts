import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { appendEvents } from '#shared/store/event-store.ts';
import { loadOrderState } from '#shared/store/orders.ts';
import type { Order } from '../../../api/routes/orders/schemas.ts';
import { orderBody, startTestApi, type TestApi } from '../../helpers/api.ts';

type Problem = {
  type: string;
  status: number;
  instance: string;
  errors: { path: string; message: string }[];
};
type Page = { items: Order[]; nextCursor?: string };
type History = {
  events: {
    position: number;
    event: {
      type: string;
      sequence: number;
      subject: string;
      source: string;
      causationid?: string;
      traceparent?: string;
    };
  }[];
};

const PROBLEM = /^application\/problem\+json(; charset=utf-8)?$/;

describe('order API', () => {
  let api: TestApi;
  before(async () => (api = await startTestApi()));
  after(() => api.close());

  const place = (body: unknown = orderBody(), key = randomUUID(), apiKey?: string) =>
    api.request('POST', '/v1/orders', {
      body,
      headers: { 'idempotency-key': key },
      ...(apiKey ? { key: apiKey } : {}),
    });

  it('places an order priced from the catalogue: 202, Location, ETag, the order', async () => {
    const response = await place(orderBody({ lines: [{ sku: 'BOOK-1', quantity: 3 }] }));
    assert.equal(response.statusCode, 202, response.body);
    const order = response.json<Order>();
    assert.equal(response.headers.location, `/v1/orders/${order.id}`);
    assert.equal(response.headers.etag, '"1"');
    assert.equal(order.status, 'placed');
    assert.equal(order.version, 1);
    assert.deepEqual(order.lines, [{ sku: 'BOOK-1', quantity: 3, unitPriceMinor: 1250 }]);
    assert.equal(order.totalMinor, 3750);
    assert.equal(order.channel, 'api');

    const read = await api.request('GET', `/v1/orders/${order.id}`, { key: api.keys.reader });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers.etag, '"1"');
    assert.deepEqual(read.json(), order);
  });

  it('refuses client prices, unknown SKUs and other currencies, naming the line (422)', async () => {
    const priced = await place(orderBody({ lines: [{ sku: 'BOOK-1', quantity: 1, unitPriceMinor: 1 }] }));
    assert.equal(priced.statusCode, 400);
    assert.match(String(priced.headers['content-type']), PROBLEM);
    assert.ok(priced.json<Problem>().errors.some((e: { path: string }) => e.path.startsWith('body.lines.0')));

    const unknown = await place(
      orderBody({
        lines: [
          { sku: 'PEN-1', quantity: 1 },
          { sku: 'NOPE', quantity: 1 },
        ],
      }),
    );
    assert.equal(unknown.statusCode, 422);
    assert.match(String(unknown.headers['content-type']), PROBLEM);
    assert.deepEqual(unknown.json<Problem>().errors, [{ path: 'lines.1.sku', message: 'unknown SKU NOPE' }]);

    const currency = await place(orderBody({ lines: [{ sku: 'MUG-USD', quantity: 1 }] }));
    assert.equal(currency.statusCode, 422);
    assert.match(currency.json<Problem>().errors[0]!.message, /priced in USD, not EUR/);
  });

  it('replays the stored response byte for byte for the same key and body', async () => {
    const key = randomUUID();
    const first = await place(orderBody(), key);
    assert.equal(first.statusCode, 202);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    // The same body with its keys in another order is the same request.
    const { shippingAddress, lines, currency, customerId } = orderBody();
    const again = await place({ shippingAddress, lines, currency, customerId }, key);
    assert.equal(again.statusCode, 202);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.body, first.body);
    assert.equal(again.headers.location, first.headers.location);
    assert.equal(again.headers.etag, first.headers.etag);

    const different = await place(orderBody({ customerId: 'someone-else' }), key);
    assert.equal(different.statusCode, 422);
    assert.match(String(different.headers['content-type']), PROBLEM);
    assert.match(different.json<Problem>().type, /idempotency-key-reused/);

    // Keys are scoped per API client: another client's identical key is another order.
    const other = await place(orderBody(), key, api.keys.other);
    assert.equal(other.statusCode, 202);
    assert.notEqual(other.json<Order>().id, first.json<Order>().id);
  });

  it('still replays a succeeded request after its SKU left the catalogue', async () => {
    await api.request('PUT', '/v1/catalogue/TEMP-1', {
      key: api.keys.admin,
      body: { name: 'Temporary', unitPriceMinor: 10, currency: 'EUR' },
    });
    const key = randomUUID();
    const body = orderBody({ lines: [{ sku: 'TEMP-1', quantity: 1 }] });
    const first = await place(body, key);
    assert.equal(first.statusCode, 202);
    await api.db.pool.query(`DELETE FROM catalogue WHERE sku = 'TEMP-1'`);
    const again = await place(body, key);
    assert.equal(again.statusCode, 202);
    assert.equal(again.body, first.body);
    assert.equal((await place(body)).statusCode, 422);
  });

  it('requires an Idempotency-Key', async () => {
    const response = await api.request('POST', '/v1/orders', { body: orderBody() });
    assert.equal(response.statusCode, 400);
    assert.match(String(response.headers['content-type']), PROBLEM);
    assert.deepEqual(
      response.json<Problem>().errors.map((e) => e.path),
      ['headers.idempotency-key'],
    );
  });

  it('answers validation problems with the failing fields', async () => {
    const response = await place({ ...orderBody(), currency: 'euro', lines: [], extra: 1 });
    assert.equal(response.statusCode, 400);
    const problem = response.json<Problem>();
    assert.equal(problem.status, 400);
    assert.equal(problem.instance, '/v1/orders');
    const paths = problem.errors.map((e) => e.path);
    assert.ok(paths.includes('body.currency'), paths.join());
    assert.ok(paths.includes('body.lines'), paths.join());
  });

  it('answers 415, 413, malformed JSON and unknown routes as problems', async () => {
    const text = await api.request('POST', '/v1/orders', {
      body: '<order/>',
      headers: { 'idempotency-key': 'k', 'content-type': 'application/xml' },
    });
    assert.equal(text.statusCode, 415);
    assert.match(String(text.headers['content-type']), PROBLEM);
    const big = await api.request('POST', '/v1/orders', {
      body: JSON.stringify({ customerId: 'x'.repeat(200_000) }),
      headers: { 'idempotency-key': 'k', 'content-type': 'application/json' },
    });
    assert.equal(big.statusCode, 413);
    assert.match(String(big.headers['content-type']), PROBLEM);
    const malformed = await api.request('POST', '/v1/orders', {
      body: '{"customerId": ',
      headers: { 'idempotency-key': 'k', 'content-type': 'application/json' },
    });
    assert.equal(malformed.statusCode, 400);
    assert.match(String(malformed.headers['content-type']), PROBLEM);
    const missing = await api.request('GET', '/v2/nothing');
    assert.equal(missing.statusCode, 404);
    assert.match(String(missing.headers['content-type']), PROBLEM);
    const nul = await place(orderBody({ customerId: 'a\u0000b' }));
    assert.equal(nul.statusCode, 400);
  });

  it('authenticates with API keys: 401 without or with a bad key, 403 without the scope', async () => {
    const none = await api.request('GET', '/v1/orders', { key: null });
    assert.equal(none.statusCode, 401);
    assert.match(String(none.headers['content-type']), PROBLEM);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const bad = await api.request('GET', '/v1/orders', { key: 'cvk_' + 'x'.repeat(43) });
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['www-authenticate']), /invalid_token/);
    const forbidden = await place(orderBody(), randomUUID(), api.keys.reader);
    assert.equal(forbidden.statusCode, 403);
    assert.match(String(forbidden.headers['content-type']), PROBLEM);
    const catalogue = await api.request('PUT', '/v1/catalogue/X-1', {
      body: { name: 'x', unitPriceMinor: 1, currency: 'EUR' },
    });
    assert.equal(catalogue.statusCode, 403);
    assert.equal((await api.request('GET', '/healthz', { key: null })).statusCode, 200);
  });

  it('lists orders newest first in cursor pages, filtered by status and customer', async () => {
    const customerId = `lister-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await place(orderBody({ customerId }))).json<Order>().id);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.request(
        'GET',
        `/v1/orders?customerId=${customerId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { key: api.keys.reader },
      );
      assert.equal(page.statusCode, 200, page.body);
      const body = page.json<Page>();
      assert.ok(body.items.length <= 2);
      seen.push(...body.items.map((order) => order.id));
      cursor = body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse());

    const placed = await api.request('GET', `/v1/orders?status=placed&customerId=${customerId}`);
    assert.equal(placed.json<Page>().items.length, 5);
    const cancelled = await api.request('GET', `/v1/orders?status=cancelled&customerId=${customerId}`);
    assert.deepEqual(cancelled.json<Page>().items, []);
    const badCursor = await api.request('GET', '/v1/orders?cursor=bm90LWEtY3Vyc29y');
    assert.equal(badCursor.statusCode, 400);
    assert.match(String(badCursor.headers['content-type']), PROBLEM);
    const badStatus = await api.request('GET', '/v1/orders?status=lost');
    assert.equal(badStatus.statusCode, 400);
  });

  it('cancels with If-Match, 412 on a stale ETag, and shows the full history', async () => {
    const order = (await place()).json<Order>();
    const stale = await api.request('POST', `/v1/orders/${order.id}/cancel`, {
      body: { reason: 'changed my mind' },
      headers: { 'if-match': '"7"' },
    });
    assert.equal(stale.statusCode, 412);
    assert.match(String(stale.headers['content-type']), PROBLEM);
    const weak = await api.request('POST', `/v1/orders/${order.id}/cancel`, {
      body: { reason: 'changed my mind' },
      headers: { 'if-match': 'W/"1"' },
    });
    assert.equal(weak.statusCode, 412);

    const cancelled = await api.request('POST', `/v1/orders/${order.id}/cancel`, {
      body: { reason: 'changed my mind' },
      headers: { 'if-match': '"1"' },
    });
    assert.equal(cancelled.statusCode, 202, cancelled.body);
    assert.equal(cancelled.headers.etag, '"2"');
    assert.equal(cancelled.json<Order>().status, 'cancelling');
    assert.deepEqual(cancelled.json<Order>().cancellation!.requestedBy, { kind: 'customer', id: 'shop' });

    // Asking again changes nothing: 200, same version. With the old ETag: 412.
    const again = await api.request('POST', `/v1/orders/${order.id}/cancel`, { body: { reason: 'again' } });
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers.etag, '"2"');
    const old = await api.request('POST', `/v1/orders/${order.id}/cancel`, {
      body: { reason: 'again' },
      headers: { 'if-match': '"1"' },
    });
    assert.equal(old.statusCode, 412);

    const history = await api.request('GET', `/v1/orders/${order.id}/events`, { key: api.keys.reader });
    assert.equal(history.statusCode, 200);
    const events = history.json<History>().events;
    assert.deepEqual(
      events.map((e) => [e.event.type, e.event.sequence]),
      [
        [EVENT_TYPE.orderCreated, 1],
        [EVENT_TYPE.orderCancellationRequested, 2],
      ],
    );
    assert.equal(events[0]!.event.subject, order.id);
    assert.equal(events[0]!.event.source, '//conveyor/api');
    assert.match(String(events[0]!.event.causationid), /^request:/);
    assert.ok(events[0]!.position < events[1]!.position);
  });

  it('approves and rejects orders awaiting approval (admin only), carrying the trace', async () => {
    const order = (await place()).json<Order>();
    const state = await loadOrderState(api.db.pool, order.id);
    await appendEvents(
      api.db.pool,
      order.id,
      1,
      [
        {
          type: EVENT_TYPE.orderApprovalRequested,
          data: {
            totalMinor: order.totalMinor,
            currency: 'EUR',
            thresholdMinor: 100,
            escalateAt: new Date(Date.now() + 3_600_000).toISOString(),
            expiresAt: new Date(Date.now() + 7_200_000).toISOString(),
          },
        },
      ],
      { time: new Date().toISOString(), newId: uuidv7, source: '//conveyor/test', correlationId: order.id },
      { current: state },
    );
    const path = `/v1/orders/${order.id}/approval`;
    assert.equal((await api.request('POST', path, { body: { decision: 'approve' } })).statusCode, 403);
    const noReason = await api.request('POST', path, { key: api.keys.admin, body: { decision: 'reject' } });
    assert.equal(noReason.statusCode, 422);
    const traceparent = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    const approved = await api.request('POST', path, {
      key: api.keys.admin,
      body: { decision: 'approve', reason: 'known customer' },
      headers: { 'if-match': '"2"', traceparent },
    });
    assert.equal(approved.statusCode, 202, approved.body);
    assert.equal(approved.json<Order>().status, 'approved');
    assert.deepEqual(approved.json<Order>().approval!.decidedBy, { kind: 'operator', id: 'ops' });
    const rejected = await api.request('POST', path, {
      key: api.keys.admin,
      body: { decision: 'reject', reason: 'too late' },
    });
    assert.equal(rejected.statusCode, 409);
    assert.match(String(rejected.headers['content-type']), PROBLEM);
    const history = (await api.request('GET', `/v1/orders/${order.id}/events`)).json<History>().events;
    assert.equal(history.at(-1)!.event.traceparent, traceparent);
  });

  it('answers 404 for unknown orders on every order route', async () => {
    const id = randomUUID();
    for (const [method, path, body] of [
      ['GET', `/v1/orders/${id}`, undefined],
      ['GET', `/v1/orders/${id}/events`, undefined],
      ['POST', `/v1/orders/${id}/cancel`, { reason: 'x' }],
    ] as const) {
      const response = await api.request(method, path, { body });
      assert.equal(response.statusCode, 404, `${method} ${path}`);
      assert.match(String(response.headers['content-type']), PROBLEM);
    }
    const notUuid = await api.request('GET', '/v1/orders/not-a-uuid');
    assert.equal(notUuid.statusCode, 400);
  });
});
