/**
 * The README's examples, literally: every shell block marked `<!-- readme-test: NAME -->` runs in
 * one bash session (its variables carry over, as in a person's terminal) against the local stack
 * as `npm start` runs it, with the environment `npm start` prints. The order placed with curl
 * reaches `completed`; the approved one too; the cancelled one is cancelled; the order a producer
 * publishes arrives through ingest; the analyst's query counts them.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startLocalStack, type LocalStack } from '../../local/launcher/local-stack.ts';
import { acquireStackSlot } from '../helpers/stack-slots.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The README's shell blocks marked for this test, by name. */
async function readmeBlocks(): Promise<Map<string, string>> {
  const text = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(/<!-- readme-test: ([\w-]+) -->\n```sh\n([\s\S]*?)\n```/g))
    blocks.set(match[1]!, match[2]!);
  return blocks;
}

/** A bash session: commands run one after another in one shell, variables kept. */
interface Shell {
  run(script: string, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

function startShell(env: Record<string, string>): Shell {
  const bash: ChildProcessWithoutNullStreams = spawn('bash', ['--noprofile', '--norc'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  bash.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  bash.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let counter = 0;
  return {
    async run(script, timeoutMs = 60_000) {
      const marker = `__readme_done_${++counter}__`;
      stdout = '';
      stderr = '';
      bash.stdin.write(`${script}\necho "${marker}$?"\n`);
      const done = await waitUntil(() => new RegExp(`${marker}(\\d+)\\n`).exec(stdout), {
        timeoutMs,
        intervalMs: 20,
        what: `the README block to finish:\n${script}`,
      });
      return { code: Number(done[1]), stdout: stdout.slice(0, done.index), stderr };
    },
    async close() {
      bash.stdin.end();
      await new Promise((resolve) => bash.once('exit', resolve));
    },
  };
}

// The time includes the wait for a stack slot (test/helpers/stack-slots.ts).
describe("the README's examples against the local stack", { timeout: 420_000 }, () => {
  let stack: LocalStack;
  let shell: Shell;
  let blocks: Map<string, string>;
  let release: (() => Promise<void>) | undefined;

  before(async () => {
    blocks = await readmeBlocks();
    release = await acquireStackSlot('README examples');
    stack = await startLocalStack({ logLevel: 'warn' });
    shell = startShell(stack.env);
  });
  after(async () => {
    await shell?.close();
    await stack?.stop();
    await release?.();
  });

  const block = (name: string) => {
    const script = blocks.get(name);
    assert.ok(script, `README.md has a block marked readme-test: ${name}`);
    return script;
  };
  const status = async (variable: string) => {
    const run = await shell.run(
      `curl -s "$CONVEYOR_API_URL/v1/orders/$${variable}" -H "Authorization: Bearer $CONVEYOR_API_KEY" | jq -r .status`,
    );
    return run.stdout.trim();
  };

  it('places an order with curl that reaches completed, and shows it and its history', async () => {
    const placed = await shell.run(block('place'));
    assert.equal(placed.code, 0, placed.stderr);
    assert.match(placed.stdout.trim(), /^[0-9a-f-]{36}$/, placed.stdout);
    await waitUntil(async () => (await status('ORDER')) === 'completed', {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'the README order to complete',
    });
    const shown = await shell.run(block('get'));
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), {
      status: 'completed',
      version: 8,
      totalMinor: 5000,
      payment: 'processed',
      shipment: 'delivered',
    });
    const history = await shell.run(block('events'));
    assert.deepEqual(history.stdout.trim().split('\n'), [
      '1 order.created.v1',
      '2 inventory.reserved.v1',
      '3 payment.requested.v1',
      '4 payment.processed.v1',
      '5 shipment.requested.v1',
      '6 shipment.dispatched.v1',
      '7 shipment.delivered.v1',
      '8 order.completed.v1',
    ]);
    // Running the place block again replays the same order.
    const first = placed.stdout.trim();
    const again = await shell.run(block('place'));
    assert.equal(again.stdout.trim(), first);
  });

  it('approves an order waiting for approval; it completes', async () => {
    const run = await shell.run(block('approve'));
    assert.equal(run.code, 0, run.stderr);
    assert.notEqual(run.stdout.trim(), 'null', `the approval was refused: ${run.stdout}`);
    await waitUntil(async () => (await status('BIG')) === 'completed', {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'the approved order to complete',
    });
  });

  it('cancels an order; it ends cancelled', async () => {
    const run = await shell.run(block('cancel'));
    assert.equal(run.code, 0, run.stderr);
    await waitUntil(async () => (await status('LATER')) === 'cancelled', {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'the order to be cancelled',
    });
  });

  it("places an order as an outside producer through Pub/Sub, and the analyst's query counts events", async () => {
    const [publisher, list] = block('publish').split(/\n(?=curl )/);
    const published = await shell.run(publisher!);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, /published message \d+/);
    await waitUntil(
      async () => {
        const listed = await shell.run(list!);
        return /^\S+ inbound completed$/m.test(listed.stdout);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "the producer's order to complete" },
    );
    await waitUntil(
      async () => {
        const query = await shell.run(block('bq'));
        return query.code === 0 && /order\.completed\.v1\s*│\s*[34]\b/.test(query.stdout);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'BigQuery to count the completed orders' },
    );
  });
});
