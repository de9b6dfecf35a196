/**
 * The saga function killed (SIGKILL) while it handles messages, under load, then started again:
 * no order lost, no effect twice (test/e2e/support.ts).
 */
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../helpers/wait.ts';
import { FAULT_TEST_TIMEOUT_MS, runPhase, startE2eStack, type E2eStack } from './support.ts';

describe('fault: a function process killed mid-message', { timeout: FAULT_TEST_TIMEOUT_MS }, () => {
  let e2e: E2eStack;
  before(async () => (e2e = await startE2eStack()));
  after(() => e2e?.stop());

  it('the saga, killed (SIGKILL) while charging, restarted: every order completes once', async () => {
    const { stack } = e2e;
    const saga = stack.processes.get('saga')!;
    // Each charge takes a while at the provider: the saga is in the middle of messages when killed.
    stack.payment.configure({ latencyMs: 300 });
    try {
      await runPhase(e2e, 'saga killed', 8_000, async () => {
        const charges = stack.payment.ledger().totals.charges;
        await waitUntil(() => stack.payment.ledger().totals.charges >= charges + 5, {
          timeoutMs: 30_000,
          what: 'the saga to be charging',
        });
        const pid = saga.pid;
        await saga.kill();
        console.log(`saga (pid ${pid}) killed with charges in flight`);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await saga.start();
        console.log(`saga started again (pid ${saga.pid})`);
        stack.payment.configure({ latencyMs: 0 });
      });
    } finally {
      stack.payment.configure({ latencyMs: 0 });
    }
  });
});
