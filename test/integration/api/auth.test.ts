import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createApiKey, findApiClient, revokeApiKey } from '#shared/store/api-keys.ts';
import { startTestApi, type TestApi } from '../../helpers/api.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PROBLEM = /^application\/problem\+json/;

describe('API keys and rate limits', () => {
  let api: TestApi;
  before(async () => (api = await startTestApi({ settings: { apiKeyCacheTtlMs: 50 } })));
  after(() => api.close());

  it('limits each key by its own rate, answering 429 with Retry-After', async () => {
    const { key } = await createApiKey(api.db.pool, {
      name: 'slow',
      scopes: ['orders:read'],
      rateLimitPerMinute: 3,
    });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await api.request('GET', '/v1/orders?limit=1', { key }));
    assert.deepEqual(
      statuses.map((response) => response.statusCode),
      [200, 200, 200, 429],
    );
    const limited = statuses[3]!;
    assert.match(String(limited.headers['content-type']), PROBLEM);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Other keys are not affected.
    assert.equal((await api.request('GET', '/v1/orders?limit=1', { key: api.keys.reader })).statusCode, 200);
  });

  it('stops honouring a revoked key once its cached lookup expires', async () => {
    const created = await createApiKey(api.db.pool, { name: 'temporary', scopes: ['orders:read'] });
    assert.equal((await api.request('GET', '/v1/orders', { key: created.key })).statusCode, 200);
    assert.equal(await revokeApiKey(api.db.pool, created.id), true);
    assert.equal(await findApiClient(api.db.pool, created.key), undefined);
    const deadline = Date.now() + 5_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await api.request('GET', '/v1/orders', { key: created.key })).statusCode;
    }
    assert.equal(status, 401);
  });

  it('registers a given key (the local launcher) and refuses malformed ones', async () => {
    const key = `cvk_${'A'.repeat(43)}`;
    const registered = await createApiKey(api.db.pool, { name: 'dev', scopes: ['admin'], key });
    assert.equal(registered.key, key);
    assert.equal((await api.request('GET', '/v1/catalogue', { key })).statusCode, 200);
    await assert.rejects(
      createApiKey(api.db.pool, { name: 'dev', scopes: ['admin'], key: 'short' }),
      /invalid API key/,
    );
    await assert.rejects(
      createApiKey(api.db.pool, { name: 'x', scopes: ['root' as never] }),
      /invalid API key/,
    );
  });

  it('creates keys from the command line', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['api/create-api-key.ts', '--name', 'cli-shop', '--scopes', 'orders:read,orders:write', '--json'],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: api.db.url } },
    );
    const created = JSON.parse(stdout) as { key: string; scopes: string[] };
    assert.deepEqual(created.scopes, ['orders:read', 'orders:write']);
    assert.equal((await api.request('GET', '/v1/orders', { key: created.key })).statusCode, 200);
    await assert.rejects(
      promisify(execFile)(
        process.execPath,
        ['api/create-api-key.ts', '--name', 'x', '--scopes', 'superuser'],
        {
          cwd: ROOT,
          env: { ...process.env, DATABASE_URL: api.db.url },
        },
      ),
      /unknown scope superuser/,
    );
  });
});
