import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrate } from '#shared/store/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

/** Every table, column, constraint and index of the public schema, as text to compare. */
async function schemaFingerprint(url: string): Promise<string> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ line: string }>(`
      SELECT format('%s.%s %s %s', table_name, column_name, data_type, is_nullable) AS line
        FROM information_schema.columns WHERE table_schema = 'public'
      UNION ALL SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
      UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
      ORDER BY 1`);
    return rows.map((row) => row.line).join('\n');
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  let host: TestDatabase;
  let emptyUrl: string;

  before(async () => {
    host = await createTestDatabase();
    // An empty database, not a clone of the migrated template.
    const empty = `${host.name}_empty`;
    await host.pool.query(`CREATE DATABASE ${empty}`);
    emptyUrl = host.urlFor(empty);
  });
  after(async () => {
    await host.pool.query(`DROP DATABASE IF EXISTS ${new URL(emptyUrl).pathname.slice(1)} WITH (FORCE)`);
    await host.drop();
  });

  it('apply to an empty database, and applying again is a no-op', async () => {
    const first = await migrate({ databaseUrl: emptyUrl });
    assert.ok(first.includes('0001_initial'), `ran ${first.join(', ')}`);
    const schema = await schemaFingerprint(emptyUrl);
    for (const table of [
      'orders',
      'events',
      'outbox',
      'processed_messages',
      'idempotency_keys',
      'dead_letters',
    ]) {
      assert.match(schema, new RegExp(`^${table}\\.`, 'm'), `table ${table} exists`);
    }

    assert.deepEqual(await migrate({ databaseUrl: emptyUrl }), []);
    assert.equal(await schemaFingerprint(emptyUrl), schema);
  });

  it('revert completely and re-apply to the same schema', async () => {
    const before = await schemaFingerprint(emptyUrl);
    const applied = await migrate({ databaseUrl: emptyUrl, direction: 'down', count: Infinity });
    assert.ok(applied.length >= 1);
    assert.doesNotMatch(await schemaFingerprint(emptyUrl), /^orders\./m);
    await migrate({ databaseUrl: emptyUrl });
    assert.equal(await schemaFingerprint(emptyUrl), before);
  });

  it('the template every test clones is fully migrated', async () => {
    assert.equal(await schemaFingerprint(host.url), await schemaFingerprint(emptyUrl));
  });

  it('the event store is append-only', async () => {
    const orderId = '0190a1b2-0000-7000-8000-000000000001';
    await host.pool.query(
      `INSERT INTO events (id, order_id, sequence, type, occurred_at, correlation_id, envelope)
       VALUES ($1, $2, 1, 'order.created.v1', now(), $3, '{}')`,
      ['0190a1b2-0000-7000-8000-0000000000e1', orderId, orderId],
    );
    await assert.rejects(host.pool.query(`UPDATE events SET type = 'x'`), /append-only: UPDATE/);
    await assert.rejects(host.pool.query(`DELETE FROM events`), /append-only: DELETE/);
    await assert.rejects(host.pool.query(`TRUNCATE events`), /append-only: TRUNCATE/);
    await assert.rejects(
      host.pool.query(
        `INSERT INTO events (id, order_id, sequence, type, occurred_at, correlation_id, envelope)
         VALUES ($1, $2, 1, 'order.created.v1', now(), $3, '{}')`,
        ['0190a1b2-0000-7000-8000-0000000000e2', orderId, orderId],
      ),
      /events_order_sequence_key/,
    );
  });
});
