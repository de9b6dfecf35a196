/** GET /v1/orders by creation time ([createdAfter, createdBefore)), with the other filters and paging. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Order } from '../../../api/routes/orders/schemas.ts';
import { orderBody, startTestApi, type TestApi } from '../../helpers/api.ts';

type Page = { items: Order[]; nextCursor?: string };

describe('order API: search by creation time', () => {
  let api: TestApi;
  // Orders are created one minute apart, from 10:00 on.
  let now = Date.parse('2026-03-01T10:00:00.000Z');
  const customerId = `timed-${randomUUID()}`;
  const ids: string[] = [];

  before(async () => {
    api = await startTestApi({ clock: () => new Date(now) });
    for (let i = 0; i < 5; i++) {
      const placed = await api.request('POST', '/v1/orders', {
        body: orderBody({ customerId }),
        headers: { 'idempotency-key': randomUUID() },
      });
      assert.equal(placed.statusCode, 202, placed.body);
      ids.push(placed.json<Order>().id);
      now += 60_000;
    }
  });
  after(() => api.close());

  async function all(query: string): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.request(
        'GET',
        `/v1/orders?customerId=${customerId}&limit=2&${query}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(page.statusCode, 200, page.body);
      const body = page.json<Page>();
      seen.push(...body.items.map((order) => order.id));
      cursor = body.nextCursor;
    } while (cursor);
    return seen;
  }

  it('includes createdAfter, excludes createdBefore, and pages through the range newest first', async () => {
    assert.deepEqual(
      await all('createdAfter=2026-03-01T10:01:00.000Z&createdBefore=2026-03-01T10:04:00.000Z'),
      [ids[3], ids[2], ids[1]],
    );
    assert.deepEqual(await all('createdAfter=2026-03-01T10:03:00Z'), [ids[4], ids[3]]);
    assert.deepEqual(await all('createdBefore=2026-03-01T10:01:00Z'), [ids[0]]);
    // Any offset: 11:02 in UTC+01:00 is 10:02Z.
    assert.deepEqual(await all('createdAfter=2026-03-01T11:02:00%2B01:00&status=placed'), [
      ids[4],
      ids[3],
      ids[2],
    ]);
    assert.deepEqual(await all('createdAfter=2026-03-01T10:05:00Z'), []);
  });

  it('refuses a time that is not an ISO 8601 instant, naming the parameter', async () => {
    const answer = await api.request('GET', '/v1/orders?createdAfter=yesterday');
    assert.equal(answer.statusCode, 400);
    const problem = answer.json<{ errors: { path: string }[] }>();
    assert.ok(
      problem.errors.some((error) => error.path.includes('createdAfter')),
      JSON.stringify(problem),
    );
  });
});
