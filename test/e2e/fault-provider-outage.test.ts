/**
 * The payment provider fails every call under load until the saga's circuit breaker opens, then
 * recovers: the circuit closes again and every order completes, charged once (half of the failed
 * calls took effect before failing; only the idempotency keys keep them single) (test/e2e/support.ts).
 */
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/wait.ts';
import { FAULT_TEST_TIMEOUT_MS, runPhase, startE2eStack, type E2eStack } from './support.ts';

describe('fault: a provider outage opens the circuit', { timeout: FAULT_TEST_TIMEOUT_MS }, () => {
  let e2e: E2eStack;
  before(async () => (e2e = await startE2eStack()));
  after(() => e2e?.stop());

  it('the circuit opens, then closes; every order completes, charged once', async () => {
    const { stack } = e2e;
    const saga = stack.processes.get('saga')!;
    const since = saga.written();
    await runPhase(e2e, 'payment outage', 10_000, async (load) => {
      await waitUntil(() => load.orders.length >= 20, { timeoutMs: 30_000, what: 'orders flowing' });
      stack.payment.configure({ errorRate: 1 });
      try {
        await saga.waitForLine(/"provider":"payment".*"state":"open"/, { since, timeoutMs: 60_000 });
        console.log('the payment circuit opened');
      } finally {
        stack.payment.configure({ errorRate: 0 });
      }
    });
    // Every order completed, so the circuit closed again; its log says so.
    await saga.waitForLine(/"provider":"payment".*"state":"closed"/, { since, timeoutMs: 1_000 });
  });
});
