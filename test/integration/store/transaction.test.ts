/**
 * withTransaction when the server ends the connection between two statements (a restart, a
 * failover): the transaction fails with an error, the process does not crash, the connection is
 * not reused. Found by the e2e test that restarts PostgreSQL under load (the API crashed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { withTransaction } from '#shared/store/transaction.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

describe('withTransaction: the connection ended by the server mid-transaction', () => {
  let db: TestDatabase;
  before(async () => (db = await createTestDatabase()));
  after(() => db.drop());

  it('rejects, without an unhandled error event, and the pool goes on with a new connection', async () => {
    let backend = 0;
    await assert.rejects(
      withTransaction(db.pool, async (client) => {
        backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const ended = new Promise((resolve) => client.once('end', resolve));
        await db.pool.query('SELECT pg_terminate_backend($1)', [backend]);
        await ended; // the server's FATAL arrived while no statement ran
        await client.query('SELECT 1');
      }),
    );
    const { rows } = await db.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    assert.notEqual(rows[0]!.pid, backend);
  });
});
