/**
 * The API as a process (api/server.ts, as the container runs it): a crash between commit and
 * publish loses nothing, and SIGTERM finishes in-flight requests and flushes the relay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { PubSub } from '@google-cloud/pubsub';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import type { Order } from '../../../api/routes/orders/schemas.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { putCatalogueItem } from '#shared/store/catalogue.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { orderBody } from '../../helpers/api.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { startApiProcess } from '../../helpers/api-process.ts';
import type { ManagedProcess } from '../../helpers/processes.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { freePort } from '../../../local/ports.ts';
import { collect, pubsubClient, startEmulator, type Collector } from '../../helpers/pubsub.ts';

describe('API server process', () => {
  let db: TestDatabase;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let collector: Collector;
  let key: string;
  const servers: ManagedProcess[] = [];

  async function startServer(env: Record<string, string>): Promise<{ process: ManagedProcess; url: string }> {
    const server = await startApiProcess(db.url, env);
    servers.push(server.process);
    return server;
  }

  const post = (url: string, body: unknown) =>
    fetch(`${url}/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify(body),
    });
  const received = (orderId: string) => collector.received.filter((event) => event.orderingKey === orderId);

  before(async () => {
    db = await createTestDatabase();
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    collector = await collect(pubsub, 'order-events', `server-${randomUUID()}`);
    key = (await createApiKey(db.pool, { name: 'shop', scopes: ['orders:write', 'orders:read'] })).key;
    await putCatalogueItem(
      db.pool,
      { sku: 'BOOK-1', name: 'A book', unitPriceMinor: 1250, currency: 'EUR' },
      't',
    );
    await putCatalogueItem(
      db.pool,
      { sku: 'PEN-1', name: 'A pen', unitPriceMinor: 199, currency: 'EUR' },
      't',
    );
  });
  after(async () => {
    for (const server of servers) await server.kill();
    await collector.close();
    await pubsub.close();
    await emulator.stop();
    await db.drop();
  });

  it('publishes an order once after the instance that committed it was killed before publishing', async () => {
    // Nothing listens where the first instance looks for Pub/Sub: its publish hangs in retries.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const doomed = await startServer({ PUBSUB_EMULATOR_HOST: nowhere, PUBSUB_PUBLISH_TIMEOUT_MS: '120000' });
    const response = await post(doomed.url, orderBody());
    assert.equal(response.status, 202);
    const order = (await response.json()) as Order;
    const { rows: before } = await db.pool.query(
      'SELECT published_at, attempts FROM outbox WHERE ordering_key = $1',
      [order.id],
    );
    assert.deepEqual(before, [{ published_at: null, attempts: 0 }]);
    await doomed.process.kill(); // SIGKILL: no shutdown hook runs

    // Another instance's sweeper finds the row the dead one left behind.
    const survivor = await startServer({
      PUBSUB_EMULATOR_HOST: emulator.address,
      OUTBOX_SWEEP_INTERVAL_MS: '200',
    });
    await collector.waitFor(() => received(order.id).length === 1);
    const published = await waitUntil(
      async () =>
        (
          await db.pool.query<{ message_id: string }>(
            'SELECT message_id FROM outbox WHERE ordering_key = $1 AND published_at IS NOT NULL',
            [order.id],
          )
        ).rows[0],
      { what: 'the outbox row to be marked published' },
    );
    assert.equal(published.message_id, received(order.id)[0]!.messageId);
    await survivor.process.stop();
    assert.equal(survivor.process.child.exitCode, 0, survivor.process.output());
    assert.equal(new Set(received(order.id).map((event) => event.messageId)).size, 1);
  });

  it('on SIGTERM finishes the request in flight, publishes its event and exits in time', async () => {
    const server = await startServer({
      PUBSUB_EMULATOR_HOST: emulator.address,
      OUTBOX_SWEEP_INTERVAL_MS: '60000',
    });
    const order = (await (await post(server.url, orderBody())).json()) as Order;
    await collector.waitFor(() => received(order.id).length === 1);

    // Hold the order's row so the cancel request is still running when SIGTERM arrives.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = withTransaction(db.pool, async (client) => {
      await client.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE', [order.id]);
      locked();
      await held;
    });
    await isLocked;
    const cancel = fetch(`${server.url}/v1/orders/${order.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'changed my mind' }),
    });
    // The request is in flight once it waits on the lock.
    await waitUntil(
      async () =>
        (
          await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).rows[0]!.n > 0,
      { what: 'the cancel request to wait on the lock' },
    );
    const started = Date.now();
    server.process.child.kill('SIGTERM');
    await server.process.waitFor(/SIGTERM: shutting down/);
    release();
    await holder;
    const response = await cancel;
    assert.equal(response.status, 202);
    const [code] = await Promise.race([
      once(server.process.child, 'exit'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no exit within 15 s')), 15_000)),
    ]);
    assert.equal(code, 0, server.process.output());
    assert.ok(Date.now() - started < 10_000, `shutdown took ${Date.now() - started} ms`);
    // Published by the final flush: the sweeper's next tick was a minute away.
    await collector.waitFor(() => received(order.id).length === 2);
  });
});
