/**
 * The Pub/Sub emulator stopped for 10 s under load, then started again on its port and data
 * directory (--data-dir: what it had accepted and not yet delivered survives). Orders keep being
 * accepted (the outbox holds their events); none is lost, no effect happens twice
 * (test/e2e/support.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/wait.ts';
import { FAULT_TEST_TIMEOUT_MS, runPhase, startE2eStack, type E2eStack } from './support.ts';

describe('fault: the Pub/Sub emulator down for 10 s under load', { timeout: FAULT_TEST_TIMEOUT_MS }, () => {
  let e2e: E2eStack;
  before(async () => (e2e = await startE2eStack()));
  after(() => e2e?.stop());

  it('every accepted order completes once', async () => {
    const pubsub = e2e.stack.processes.get('pubsub')!;
    await runPhase(e2e, 'Pub/Sub stopped for 10 s', 14_000, async (load) => {
      await waitUntil(() => load.orders.length >= 20, { timeoutMs: 30_000, what: 'orders flowing' });
      await pubsub.stop();
      const accepted = load.orders.length;
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      assert.ok(load.orders.length > accepted, 'orders accepted while Pub/Sub was down');
      const since = pubsub.written();
      await pubsub.start();
      const [restored] = await pubsub.waitForLine(/restored .*/, { since, timeoutMs: 1_000 });
      console.log(`the emulator ${restored}`);
    });
  });
});
