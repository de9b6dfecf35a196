import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isRunning, startProcess } from '../../helpers/processes.ts';

/** The embedded server's postmaster pid, read from the runner's output. */
function clusterOf(output: string): { port: number } {
  const match = /embedded on port (\d+)/.exec(output);
  assert.ok(match, `runner reported its database:\n${output}`);
  return { port: Number(match[1]) };
}

async function nothingListensOn(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

// The runner under test uses an embedded server of its own even when this run uses DATABASE_URL.
const env = { ...process.env, DATABASE_URL: '' };

describe('test runner', { skip: process.env.DATABASE_URL ? 'uses an embedded server only' : false }, () => {
  it('a test failing midway fails the run and leaves no process behind', async () => {
    const runner = startProcess(
      process.execPath,
      ['test/run.ts', 'integration', 'test/fixtures/runner/fails-midway.ts'],
      { env },
    );
    await new Promise((resolve) => runner.child.once('exit', resolve));
    const output = runner.output();
    assert.notEqual(runner.child.exitCode, 0, output);
    assert.match(output, /failing midway on purpose/);
    const forgotten = Number(/forgotten child pid=(\d+)/.exec(output)?.[1]);
    assert.match(output, /tests left 1 process\(es\) running; killed/);
    assert.equal(isRunning(forgotten), false, 'the forgotten child was killed');
    assert.ok(await nothingListensOn(clusterOf(output).port), 'postgres stopped');
    assert.equal(existsSync(/data directory: (\S+)/.exec(output)?.[1] ?? '/nonexistent'), false);
  });

  it('an interrupted run stops its tests and its database', async () => {
    const runner = startProcess(
      process.execPath,
      ['test/run.ts', 'integration', 'test/fixtures/runner/hangs.ts'],
      { env },
    );
    await runner.waitFor(/fixture ready/, 60_000);
    const { port } = clusterOf(runner.output());
    runner.child.kill('SIGINT');
    await new Promise((resolve) => runner.child.once('exit', resolve));
    assert.equal(runner.child.exitCode, 130, runner.output());
    assert.ok(await nothingListensOn(port), 'postgres stopped');
  });
});
