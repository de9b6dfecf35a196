import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../api/app.ts';
import { CONSOLE_CSP } from '../../../api/plugins/console.ts';
import { createLogger } from '#shared/logging/index.ts';
import type { Pool } from '#shared/store/pool.ts';

/** The API with the console served from `dir`; the console's routes touch neither database nor relay. */
function appServing(dir: string): Promise<FastifyInstance> {
  return buildApp({
    pool: {} as Pool,
    relay: { trigger: () => {}, stats: () => Promise.resolve({ backlog: 0, oldestAgeMs: 0 }) },
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    console: { dir },
  });
}

describe('the console as the API serves it', () => {
  let dir: string;
  let app: FastifyInstance;
  const script = `console.log(${JSON.stringify('x'.repeat(4_000))});`;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-console-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(path.join(dir, 'assets', 'index-abc123.js'), script);
    await writeFile(path.join(dir, '.source-hash'), 'not served');
    app = await appServing(dir);
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the page without a key, with its CSP, revalidated every time', async () => {
    const page = await app.inject({ url: '/console/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const again = await app.inject({
      url: '/console/',
      headers: { 'if-none-match': String(page.headers.etag) },
    });
    assert.equal(again.statusCode, 304);
    assert.equal((await app.inject({ url: '/console' })).headers.location, '/console/');
    // Deep paths are the page; the hash routes never reach the server anyway.
    assert.equal((await app.inject({ url: '/console/orders' })).body, page.body);
  });

  it('serves hashed assets as immutable, gzipped when asked; unknown assets and dotfiles are 404', async () => {
    const plain = await app.inject({ url: '/console/assets/index-abc123.js' });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.body, script);
    assert.match(String(plain.headers['cache-control']), /immutable/);
    const gzipped = await app.inject({
      url: '/console/assets/index-abc123.js',
      headers: { 'accept-encoding': 'gzip, br' },
    });
    assert.equal(gzipped.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gzipped.rawPayload).toString('utf8'), script);
    assert.equal((await app.inject({ url: '/console/assets/missing.js' })).statusCode, 404);
    assert.notEqual((await app.inject({ url: '/console/.source-hash' })).body, 'not served');
  });

  it('answers 503 saying how to build it when there is no build', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'conveyor-console-empty-'));
    const bare = await appServing(empty);
    try {
      const answer = await bare.inject({ url: '/console/' });
      assert.equal(answer.statusCode, 503);
      assert.match(answer.body, /npm run build:console/);
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});
