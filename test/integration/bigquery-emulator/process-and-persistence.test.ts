/** The emulator as `npm run emulator:bigquery` runs it: its ready line, clean stops, a data directory. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { bigQueryClient, TEST_PROJECT } from '../../helpers/bigquery-emulator.ts';
import { startProcess, type ManagedProcess } from '../../helpers/processes.ts';

const READY = /^BigQuery emulator listening on (127\.0\.0\.1):(\d+)$/m;

async function startCli(args: string[]): Promise<{ process: ManagedProcess; url: string }> {
  const child = startProcess(
    process.execPath,
    ['local/bigquery-emulator/main.ts', '--host', '127.0.0.1', '--port', '0', ...args],
    {
      cwd: process.cwd(),
    },
  );
  const match = await child.waitFor(READY, 60_000);
  return { process: child, url: `http://${match[1]}:${match[2]}` };
}

describe('BigQuery emulator process', () => {
  const running: ManagedProcess[] = [];
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('prints exactly its ready line and stops cleanly on SIGINT and SIGTERM', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const { process: child, url } = await startCli([]);
      running.push(child);
      assert.match(child.output(), /^BigQuery emulator listening on 127\.0\.0\.1:\d+\n$/);
      const [datasets] = await bigQueryClient(url).getDatasets();
      assert.deepEqual(datasets, []);
      const exited = new Promise<number | null>((resolve) =>
        child.child.once('exit', (code) => resolve(code)),
      );
      child.child.kill(signal);
      assert.equal(await exited, 0, `exit code after ${signal}`);
    }
  });

  it('keeps datasets, tables, views and rows in its data directory across restarts', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-bq-emulator-'));
    dirs.push(dataDir);

    const first = await startCli(['--data-dir', dataDir]);
    running.push(first.process);
    const client = bigQueryClient(first.url);
    const [dataset] = await client.createDataset('persisted', {
      description: 'kept on disk',
      labels: { env: 'local' },
    });
    const [table] = await dataset.createTable('events', {
      schema: [
        { name: 'event_id', type: 'STRING', mode: 'REQUIRED' },
        { name: 'event_time', type: 'TIMESTAMP' },
        { name: 'payload', type: 'JSON' },
        { name: 'lines', type: 'RECORD', mode: 'REPEATED', fields: [{ name: 'sku', type: 'STRING' }] },
      ],
      timePartitioning: { type: 'DAY', field: 'event_time' },
      clustering: { fields: ['event_id'] },
    });
    await table.insert([
      { event_id: 'e1', event_time: '2024-01-01T00:00:00Z', payload: '{"a":1}', lines: [{ sku: 'x' }] },
      { event_id: 'e2', event_time: '2024-01-02T00:00:00Z', payload: '{"a":2}', lines: [] },
    ]);
    await dataset.createTable('daily', {
      view: `SELECT DATE(event_time) AS day, COUNT(*) AS n FROM \`${TEST_PROJECT}.persisted.events\` GROUP BY day`,
    });
    await client.query(
      `CREATE TABLE persisted.made_by_ddl (id INT64 NOT NULL) OPTIONS (description = 'ddl')`,
    );
    await first.process.stop();
    assert.equal(first.process.child.exitCode, 0);

    const second = await startCli(['--data-dir', dataDir]);
    running.push(second.process);
    const again = bigQueryClient(second.url);
    const [metadata] = await again.dataset('persisted').getMetadata();
    assert.equal(metadata.description, 'kept on disk');
    assert.deepEqual(metadata.labels, { env: 'local' });
    const [tables] = await again.dataset('persisted').getTables();
    assert.deepEqual(tables.map((t) => t.id).sort(), ['daily', 'events', 'made_by_ddl']);
    const [events] = await again.dataset('persisted').table('events').getMetadata();
    assert.deepEqual(events.timePartitioning, { type: 'DAY', field: 'event_time' });
    assert.deepEqual(events.clustering, { fields: ['event_id'] });
    assert.equal(events.schema.fields[0].mode, 'REQUIRED');
    assert.equal(events.schema.fields[2].type, 'JSON');
    assert.equal((await again.dataset('persisted').table('made_by_ddl').getMetadata())[0].description, 'ddl');

    await again
      .dataset('persisted')
      .table('events')
      .insert([{ event_id: 'e3', event_time: '2024-01-02T12:00:00Z' }]);
    const [rows] = await again.query('SELECT day, n FROM persisted.daily ORDER BY day');
    assert.deepEqual(
      rows.map((r: { day: { value: string }; n: number }) => [r.day.value, r.n]),
      [
        ['2024-01-01', 1],
        ['2024-01-02', 2],
      ],
    );
    const [lines] = await again.query(
      "SELECT lines[OFFSET(0)].sku AS sku, JSON_VALUE(payload, '$.a') AS a FROM persisted.events WHERE event_id = 'e1'",
    );
    assert.deepEqual(lines, [{ sku: 'x', a: '1' }]);
    await second.process.stop();
    assert.equal(second.process.child.exitCode, 0);
  });

  it('refuses a second emulator on the same data directory with a clear message', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-bq-emulator-'));
    dirs.push(dataDir);
    const first = await startCli(['--data-dir', dataDir]);
    running.push(first.process);
    const second = startProcess(
      process.execPath,
      ['local/bigquery-emulator/main.ts', '--port', '0', '--data-dir', dataDir],
      {
        cwd: process.cwd(),
      },
    );
    running.push(second);
    await second.waitFor(/BigQuery emulator failed to start: .*lock/i, 60_000);
    await new Promise((resolve) =>
      second.child.exitCode !== null ? resolve(null) : second.child.once('exit', resolve),
    );
    assert.equal(second.child.exitCode, 1);
    await first.process.stop();
  });
});
