import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

describe('createTestDatabase', () => {
  const created: TestDatabase[] = [];
  after(() => Promise.all(created.map((db) => db.drop())));

  it('gives each caller its own migrated database, in well under a second', async (t) => {
    const started = performance.now();
    const a = await createTestDatabase();
    const cloneMs = performance.now() - started;
    const b = await createTestDatabase();
    created.push(a, b);
    t.diagnostic(`clone ready in ${cloneMs.toFixed(0)} ms`);

    await a.pool.query(
      `INSERT INTO catalogue (sku, name, unit_price_minor, currency) VALUES ('SKU-1', 'x', 100, 'EUR')`,
    );
    const inA = await a.pool.query('SELECT count(*)::int AS n FROM catalogue');
    const inB = await b.pool.query('SELECT count(*)::int AS n FROM catalogue');
    assert.equal(inA.rows[0].n, 1);
    assert.equal(inB.rows[0].n, 0);
  });

  it('drop removes the database even with connections open', async () => {
    const db = await createTestDatabase();
    const client = await db.pool.connect();
    client.release();
    await db.drop();
    const probe = await createTestDatabase();
    created.push(probe);
    const { rows } = await probe.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
    assert.equal(rows.length, 0);
  });
});
