/**
 * What the fault tests share: a local stack with every component a process (startLocalStack), a
 * pool on its database, products of a test's own, and a phase: orders placed over HTTP at a
 * steady rate by a client that retries with the same Idempotency-Key while a fault happens, then
 * the wait until everything settled and the saga's invariants (test/helpers/invariants.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  startLocalStack,
  type LocalStack,
  type LocalStackOptions,
} from '../../local/launcher/local-stack.ts';
import type { RequestedLine } from '#shared/contracts/values.ts';
import { putCatalogueItem, setInventory } from '#shared/store/catalogue.ts';
import { createPool, type Pool } from '#shared/store/pool.ts';
import { checkInvariants, waitForSettled, type InvariantReport } from '../helpers/invariants.ts';
import { percentile, startOrderLoad, type OrderLoad, type OrderLoadStats } from '../helpers/order-load.ts';
import { acquireStackSlot } from '../helpers/stack-slots.ts';

/** Orders per second the fault tests place. */
export const E2E_RATE = Number(process.env.CONVEYOR_E2E_RATE ?? 15);
/** How long a phase may take to settle after its load. */
export const SETTLE_TIMEOUT_MS = 100_000;
/**
 * A whole fault test file: the wait for a stack slot (test/helpers/stack-slots.ts), start, load,
 * settle, stop; under the runner's per-file limit (test/run.ts).
 */
export const FAULT_TEST_TIMEOUT_MS = 420_000;

export interface E2eStack {
  stack: LocalStack;
  pool: Pool;
  stop(): Promise<void>;
}

export async function startE2eStack(options: LocalStackOptions = {}): Promise<E2eStack> {
  const release = await acquireStackSlot('e2e stack');
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      tickIntervalMs: 0, // the tests tick while they wait for a run to settle
      logLevel: 'warn',
      webhookRetry: { attempts: 30, baseDelayMs: 50, maxDelayMs: 2_000 },
      ...options,
    });
  } catch (error) {
    await release();
    throw error;
  }
  const pool = createPool({ url: stack.databaseUrl, applicationName: 'e2e', max: 4 });
  console.log(`local stack ready in ${stack.readyMs} ms (data in ${stack.dataDir})`);
  return {
    stack,
    pool,
    async stop() {
      const started = performance.now();
      try {
        await pool.end();
        await stack.stop();
      } catch (error) {
        throw new Error(`stopping the local stack failed: ${String(error)}`, { cause: error });
      } finally {
        await release();
      }
      console.log(`local stack stopped in ${Math.round(performance.now() - started)} ms`);
    },
  };
}

/** Products of the caller's own (run-scoped SKUs) with plenty of stock; SKU → units. */
export async function addProducts(pool: Pool, count: number, stock = 100_000): Promise<Map<string, number>> {
  const products = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const sku = `E2E-${randomBytes(4).toString('hex')}`;
    await putCatalogueItem(pool, { sku, name: sku, unitPriceMinor: 500 + i * 250, currency: 'EUR' }, 'e2e');
    await setInventory(pool, { sku, available: stock }, 'e2e');
    products.set(sku, stock);
  }
  return products;
}

export interface PhaseResult {
  orders: string[];
  stats: OrderLoadStats;
  report: InvariantReport;
}

/**
 * Places orders for `loadMs` while `fault` runs, then waits for everything to settle and checks
 * the invariants: every accepted order completed, nothing lost, no effect twice, stock and money
 * conserved.
 */
export async function runPhase(
  { stack, pool }: E2eStack,
  name: string,
  loadMs: number,
  fault: (load: OrderLoad) => Promise<void>,
): Promise<PhaseResult> {
  const stock = await addProducts(pool, 3);
  const skus = [...stock.keys()];
  const lines = (): RequestedLine[] => [
    { sku: skus[Math.floor(Math.random() * skus.length)]!, quantity: 1 + Math.floor(Math.random() * 2) },
  ];
  const started = Date.now();
  const load = startOrderLoad({ apiUrl: stack.apiUrl, apiKey: stack.apiKey, ratePerSecond: E2E_RATE, lines });
  try {
    await fault(load);
    const rest = loadMs - (Date.now() - started);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
  } finally {
    await load.stop();
  }
  const stats = load.stats;
  console.log(
    `${name}: ${load.orders.length} orders accepted (${stats.retries} requests retried, ${stats.replayed} replayed ` +
      `answers, failures ${JSON.stringify(stats.failures)}), accept p50 ${percentile(stats.latenciesMs, 50)} ms, ` +
      `p99 ${percentile(stats.latenciesMs, 99)} ms`,
  );
  assert.deepEqual(stats.rejected, [], 'the API refused no order');
  assert.equal(stats.abandoned, 0, 'no order given up by the client');
  assert.ok(load.orders.length > 0);

  await waitForSettled({ pool, orders: load.orders, tick: () => stack.tick(), timeoutMs: SETTLE_TIMEOUT_MS });
  await Promise.all([stack.payment.webhooksIdle(), stack.shipping.webhooksIdle()]);
  const report = await checkInvariants({
    pool,
    orders: load.orders,
    initialStock: stock,
    payment: stack.payment.ledger(),
    shipping: stack.shipping.ledger(),
  });
  assert.equal(report.statuses.completed, load.orders.length, 'every order completed');
  console.log(
    `${name}: settled ${((Date.now() - started) / 1000).toFixed(1)} s after the load began; ` +
      `${report.events} events, ${JSON.stringify(report.statuses)}; invariants hold`,
  );
  return { orders: load.orders, stats, report };
}
