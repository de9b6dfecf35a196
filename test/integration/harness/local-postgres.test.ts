import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startLocalPostgres } from '../../../local/postgres/index.ts';
import { isRunning, startProcess } from '../../helpers/processes.ts';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client(url);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('startLocalPostgres', () => {
  const dirs: string[] = [];
  const scratch = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-pg-test-'));
    dirs.push(dir);
    return dir;
  };
  after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('starts on a free port, keeps data across restarts, and stops its process', async () => {
    const dataDir = path.join(await scratch(), 'data');
    const first = await startLocalPostgres({ dataDir, fast: true });
    const client = new pg.Client(first.url());
    await client.connect();
    await client.query('CREATE DATABASE kept');
    await client.end();
    await first.stop();
    assert.equal(isRunning(first.pid), false);

    const second = await startLocalPostgres({ dataDir, fast: true });
    try {
      assert.ok(await answers(second.url('kept')), 'data survived the restart');
    } finally {
      await second.stop();
    }
  });

  it('takes over a data directory whose server outlived a crashed run', async () => {
    const dataDir = path.join(await scratch(), 'data');
    const crashed = startProcess(process.execPath, ['test/fixtures/runner/start-postgres.ts', dataDir]);
    const [, port, pid] = await crashed.waitFor(/ready port=(\d+) pid=(\d+)/, 60_000);
    await crashed.kill(); // SIGKILL: no clean-up ran, the server is orphaned
    assert.ok(isRunning(Number(pid)), 'the orphaned server is still running');

    const next = await startLocalPostgres({ dataDir, fast: true, port: Number(port) });
    try {
      assert.equal(isRunning(Number(pid)), false, 'the orphan was shut down');
      assert.ok(await answers(next.url()));
    } finally {
      await next.stop();
    }
  });

  it('ephemeral clusters leave nothing on disk', async () => {
    const dataDir = path.join(await scratch(), 'data');
    const server = await startLocalPostgres({ dataDir, fast: true, ephemeral: true });
    await server.stop();
    assert.equal(existsSync(dataDir), false);
  });

  it('says why when the server cannot start', async () => {
    const dataDir = path.join(await scratch(), 'data');
    const holder = await startLocalPostgres({
      dataDir: path.join(await scratch(), 'other'),
      fast: true,
      ephemeral: true,
    });
    try {
      await assert.rejects(
        startLocalPostgres({ dataDir, fast: true, port: holder.port, ephemeral: true }),
        /postgres exited during start-up[\s\S]*could not (bind|create)/,
      );
    } finally {
      await holder.stop();
    }
  });
});
