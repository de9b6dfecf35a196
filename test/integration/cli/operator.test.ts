/**
 * The operator CLI (`node local/cli/main.ts …`, as `npx conveyor` runs it) against a running stack
 * (test/helpers/stack.ts: the API, the Pub/Sub emulator, the saga and dead-letter functions) and a
 * BigQuery emulator: orders create/get/events, dead-letters list/show/redrive/discard, tail, bq
 * query; their tables, --json and exit codes; and the defaults read from a local stack's stack.env.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import { startProcess } from '../../helpers/processes.ts';
import { startEmulatedBigQuery, type EmulatedBigQuery } from '../../helpers/bigquery-emulator.ts';
import { PROJECT_ID } from '../../helpers/pubsub.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { runCli } from '../replay/run-cli.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('conveyor: the operator CLI', () => {
  let stack: Stack;
  let bq: EmulatedBigQuery;
  let env: Record<string, string>;
  let scratch: string;

  before(async () => {
    stack = await startStack({ functions: ['saga', 'dead-letter'] });
    bq = await startEmulatedBigQuery();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'conveyor-cli-'));
    env = {
      CONVEYOR_API_URL: stack.api.url,
      CONVEYOR_API_KEY: stack.api.keys.admin,
      PUBSUB_EMULATOR_HOST: stack.emulator.address,
      CONVEYOR_PROJECT_ID: PROJECT_ID,
      BIGQUERY_API_ENDPOINT: bq.url,
      // No stack.env of a developer's own `npm start` leaks in.
      CONVEYOR_DATA_DIR: scratch,
    };
  });
  after(async () => {
    await stack?.stop();
    await bq?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  describe('orders', () => {
    it('create --wait --json places an order and waits until it is completed (exit 0)', async () => {
      const run = await runCli(
        [
          'orders',
          'create',
          '--line',
          'BOOK-1:2',
          '--line',
          'PEN-1',
          '--customer',
          'c-cli',
          '--wait',
          '--json',
        ],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      const order = JSON.parse(run.stdout) as { id: string; status: string; totalMinor: number };
      assert.equal(order.status, 'completed');
      assert.equal(order.totalMinor, 2 * 1_250 + 199);

      const get = await runCli(['orders', 'get', order.id], env);
      assert.equal(get.code, 0, get.stderr);
      assert.match(get.stdout, /status\s*│\s*completed/);
      assert.match(get.stdout, /2 × BOOK-1 @ 12\.50 EUR/);

      const events = await runCli(['orders', 'events', order.id], env);
      assert.equal(events.code, 0, events.stderr);
      for (const type of ['order.created.v1', 'payment.processed.v1', 'order.completed.v1'])
        assert.ok(events.stdout.includes(type), `${type} in\n${events.stdout}`);
      const history = JSON.parse((await runCli(['orders', 'events', order.id, '--json'], env)).stdout) as {
        events: { event: { sequence: number } }[];
      };
      assert.deepEqual(
        history.events.map((e) => e.event.sequence),
        history.events.map((_, i) => i + 1),
      );
    });

    it('the same --idempotency-key places one order', async () => {
      const args = [
        'orders',
        'create',
        '--line',
        'LAMP-1',
        '--idempotency-key',
        `cli-${Date.now()}`,
        '--json',
      ];
      const first = JSON.parse((await runCli(args, env)).stdout) as { id: string };
      const again = JSON.parse((await runCli(args, env)).stdout) as { id: string };
      assert.equal(again.id, first.id);
    });

    it('exit 1 when a waited-for order does not complete; 2 for what the API refuses; 3 unreachable', async () => {
      // Above the approval threshold: it waits for an operator, past the wait's timeout.
      const waiting = await runCli(
        ['orders', 'create', '--line', 'PIANO-1', '--wait', '--timeout-ms', '1500', '--json'],
        env,
      );
      assert.equal(waiting.code, 1, waiting.stderr);
      assert.equal((JSON.parse(waiting.stdout) as { status: string }).status, 'awaiting_approval');

      const unknownSku = await runCli(['orders', 'create', '--line', 'NO-SUCH-SKU'], env);
      assert.equal(unknownSku.code, 2);
      assert.match(unknownSku.stderr, /POST \/v1\/orders: 4\d\d/);
      const unknownOrder = await runCli(['orders', 'get', '0190f3c1-0000-7000-8000-000000000000'], env);
      assert.equal(unknownOrder.code, 2);
      assert.match(unknownOrder.stderr, /404/);
      const badLine = await runCli(['orders', 'create', '--line', 'BOOK-1:x'], env);
      assert.equal(badLine.code, 2);
      const down = await runCli(['orders', 'get', 'x'], { ...env, CONVEYOR_API_URL: 'http://127.0.0.1:9' });
      assert.equal(down.code, 3);
      assert.match(down.stderr, /cannot reach the API/);
    });
  });

  describe('dead-letters', () => {
    it('list, show, redrive and discard', async () => {
      // Two orders whose charge fails permanently: their saga step is dead-lettered.
      const poisoned: string[] = [];
      for (let i = 0; i < 2; i++) {
        const claim = stack.faults.poisonNext('charge');
        await stack.placeOrder([{ sku: 'CHAIR-1', quantity: 1 }]);
        poisoned.push(await claim);
      }
      const letters = await waitUntil(
        async () => {
          const run = await runCli(['dead-letters', 'list', '--json'], env);
          const items = JSON.parse(run.stdout) as { id: string; orderId?: string }[];
          const mine = items.filter((item) => poisoned.includes(item.orderId ?? ''));
          return mine.length === 2 ? mine : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: 'two dead letters' },
      );

      const table = await runCli(['dead-letters', 'list', '--subscription', 'saga'], env);
      assert.equal(table.code, 0, table.stderr);
      assert.ok(table.stdout.includes(letters[0]!.id));
      assert.match(table.stdout, /injected permanent failure/);

      const show = await runCli(['dead-letters', 'show', letters[0]!.id], env);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /subscription\s*│\s*saga/);
      assert.match(show.stdout, /payload/);

      // The fix: the provider takes the charge now; the redriven event completes the order.
      stack.faults.cure(letters[0]!.orderId!);
      const redrive = await runCli(
        ['dead-letters', 'redrive', letters[0]!.id, '--reason', 'provider fixed'],
        env,
      );
      assert.equal(redrive.code, 0, redrive.stderr);
      assert.match(redrive.stdout, /redriven .* as message \d+/);
      await stack.waitForOrder(letters[0]!.orderId!, 'completed', { timeoutMs: 60_000 });

      const discard = await runCli(
        ['dead-letters', 'discard', letters[1]!.id, '--reason', 'customer gave up', '--json'],
        env,
      );
      assert.equal(discard.code, 0, discard.stderr);
      assert.equal((JSON.parse(discard.stdout) as { status: string }).status, 'discarded');

      // Closed dead letters cannot be closed again: 409, exit 2.
      const again = await runCli(['dead-letters', 'discard', letters[1]!.id, '--reason', 'twice'], env);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /409/);
      const usage = await runCli(['dead-letters', 'redrive'], env);
      assert.equal(usage.code, 2);
      const discarded = await runCli(['dead-letters', 'list', '--status', 'discarded', '--json'], env);
      assert.ok(
        (JSON.parse(discarded.stdout) as { id: string }[]).some((item) => item.id === letters[1]!.id),
      );
    });
  });

  describe('tail', () => {
    it('prints the live events of an order, then deletes its subscription', async () => {
      const tail = startProcess(
        process.execPath,
        ['local/cli/main.ts', 'tail', '--json', '--type', 'order.', '--count', '2', '--timeout-ms', '60000'],
        { cwd: ROOT, env: { ...process.env, ...env } },
      );
      try {
        const [, subscription] = await tail.waitFor(/subscription (conveyor-tail-[\w-]+)/);
        const orderId = await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }]);
        await new Promise((resolve) => tail.child.once('exit', resolve));
        assert.equal(tail.child.exitCode, 0, tail.output());
        const events = tail
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { type: string; subject: string });
        assert.deepEqual(
          events.map((event) => [event.type, event.subject]),
          [
            ['order.created.v1', orderId],
            ['order.completed.v1', orderId],
          ],
        );
        const [exists] = await stack.pubsub.subscription(subscription!).exists();
        assert.equal(exists, false, 'the temporary subscription is gone');
      } finally {
        await tail.stop();
      }
    });

    it('a table line per event; Ctrl-C ends it with 130 and deletes the subscription', async () => {
      const tail = startProcess(process.execPath, ['local/cli/main.ts', 'tail'], {
        cwd: ROOT,
        env: { ...process.env, ...env },
      });
      try {
        const [, subscription] = await tail.waitFor(/subscription (conveyor-tail-[\w-]+)/);
        const orderId = await stack.placeOrder([{ sku: 'PEN-1', quantity: 1 }]);
        await tail.waitFor(new RegExp(`order\\.completed\\.v1 +${orderId}  #\\d+`));
        tail.child.kill('SIGINT');
        await new Promise((resolve) => tail.child.once('exit', resolve));
        assert.equal(tail.child.exitCode, 130, tail.output());
        const [exists] = await stack.pubsub.subscription(subscription!).exists();
        assert.equal(exists, false);
      } finally {
        await tail.stop();
      }
    });

    it('exit 3 when Pub/Sub is unreachable', async () => {
      const run = await runCli(['tail', '--timeout-ms', '5000', '--connect-timeout-ms', '2000'], {
        ...env,
        PUBSUB_EMULATOR_HOST: '127.0.0.1:9',
      });
      assert.equal(run.code, 3, run.stderr);
    });
  });

  describe('bq query', () => {
    before(async () => {
      await ensureAnalyticsDataset(bq.client);
      await bq.client
        .dataset('analytics')
        .table('events')
        .insert(
          ['order.created.v1', 'order.created.v1', 'order.completed.v1'].map((type, i) => ({
            event_id: `e-${i}`,
            type,
            order_id: `o-${i % 2}`,
            sequence: i + 1,
            event_time: '2024-03-01T12:00:00Z',
            published_at: '2024-03-01T12:00:01Z',
            payload: '{}',
            attributes: '{}',
          })),
        );
    });

    it('prints a table, or the rows as JSON; unqualified tables are in analytics', async () => {
      const sql = 'SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type';
      const json = await runCli(['bq', 'query', sql, '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), [
        { type: 'order.completed.v1', n: 1 },
        { type: 'order.created.v1', n: 2 },
      ]);
      const table = await runCli(['bq', 'query', sql], env);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /order\.created\.v1\s*│\s*2/);
    });

    it('exit 2 for a query BigQuery refuses, 3 when it is unreachable', async () => {
      const refused = await runCli(['bq', 'query', 'SELECT * FROM no_such_table'], env);
      assert.equal(refused.code, 2, refused.stderr);
      const down = await runCli(['bq', 'query', 'SELECT 1'], {
        ...env,
        BIGQUERY_API_ENDPOINT: 'http://127.0.0.1:9',
      });
      assert.equal(down.code, 3, down.stderr);
    });
  });

  it('takes the API, the key and the emulators from a running npm start (stack.env)', async () => {
    const dir = path.join(scratch, 'stack');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'stack.env'),
      `CONVEYOR_API_URL=${stack.api.url}\nCONVEYOR_API_KEY=${stack.api.keys.admin}\n`,
    );
    const orderId = await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }]);
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const { CONVEYOR_API_URL: _url, CONVEYOR_API_KEY: _key, ...rest } = process.env;
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'local/cli/main.ts'), 'orders', 'get', orderId, '--json'],
        {
          cwd: scratch,
          env: { ...rest, CONVEYOR_DATA_DIR: 'stack' },
        },
      );
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stdout }));
    });
    assert.equal(run.code, 0);
    assert.equal((JSON.parse(run.stdout) as { id: string }).id, orderId);
  });
});
