/**
 * PostgreSQL restarted under load (fast shutdown, 2 s down, started again on its port and data):
 * the client retries with the same Idempotency-Key, consumers are redelivered; no order lost, no
 * effect twice (test/e2e/support.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/wait.ts';
import { FAULT_TEST_TIMEOUT_MS, runPhase, startE2eStack, type E2eStack } from './support.ts';

describe('fault: PostgreSQL restarted under load', { timeout: FAULT_TEST_TIMEOUT_MS }, () => {
  let e2e: E2eStack;
  before(async () => (e2e = await startE2eStack()));
  after(() => e2e?.stop());

  it('every accepted order completes once', async () => {
    const { stack } = e2e;
    const { stats } = await runPhase(e2e, 'PostgreSQL restarted', 10_000, async (load) => {
      await waitUntil(() => load.orders.length >= 20, { timeoutMs: 30_000, what: 'orders flowing' });
      const down = Date.now();
      await stack.database.stop();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await stack.database.start();
      console.log(`PostgreSQL was down for ${Date.now() - down} ms`);
    });
    assert.ok(stats.retries > 0, 'the client saw the outage and retried');
  });
});
