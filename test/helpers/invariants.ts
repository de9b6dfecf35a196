/**
 * The saga's invariants, checked after a run has settled (the randomized saga test, the e2e and
 * fault tests):
 *
 * - every order is finished, or waits on something named (only those the run left waiting on
 *   purpose, e.g. approvals nobody decided);
 * - inventory is conserved per SKU (available + reserved + shipped = the stock at the start,
 *   nothing left reserved, shipped = what completed orders hold);
 * - money is conserved, from the payment sandbox's ledger (per order: charged − refunded = its total
 *   if completed, else 0; one charge, at most one refund, at most one shipment);
 * - no event applied twice (the saga processed each event of these orders exactly once, no step
 *   recorded twice, sequences without gaps), nothing left in the outbox or among the unrecorded
 *   provider effects, and (unless allowed) no open dead letter.
 *
 *   const orders = [...];                      // every order the run placed
 *   await waitForSettled({ pool, orders, tick });
 *   const report = await checkInvariants({ pool, orders, initialStock, payment: ledger(), shipping: ledger() });
 *
 * Orders, stock and events are scoped to the given orders and SKUs; the outbox, unrecorded effects
 * and dead letters are the database's (each stack has its own).
 */
import assert from 'node:assert/strict';
import type { PaymentLedger, ShippingLedger } from '../../local/sandbox-providers/index.ts';
import { ORDER_STATUS, type OrderState } from '#shared/domain/order/index.ts';
import { createSagaConfig, nextStep, SAGA_WAIT, type SagaConfig } from '#shared/domain/saga/index.ts';
import type { Queryable } from '#shared/store/pool.ts';
import { waitUntil } from './wait.ts';

/** The saga policy the stacks run with (test/helpers/stack.ts and the launcher's defaults). */
export const DEFAULT_SAGA_CONFIG = createSagaConfig({
  approvalThresholdMinor: 100_000,
  approvalEscalateAfterMs: 3_600_000,
  approvalExpireAfterMs: 86_400_000,
});

export interface SettleOptions {
  pool: Queryable;
  orders: readonly string[];
  /** Publishes a tick (compensations, the outbox sweep); called every `tickEveryMs`. */
  tick?: () => Promise<unknown>;
  tickEveryMs?: number;
  /** Orders the run leaves waiting on purpose. */
  undecided?: ReadonlySet<string>;
  sagaConfig?: SagaConfig;
  timeoutMs?: number;
  /** The consumer whose processed events are counted. Default saga. */
  consumer?: string;
}

/** The orders' states, in the order given (fails if one is missing). */
export async function orderStates(pool: Queryable, orders: readonly string[]): Promise<OrderState[]> {
  const { rows } = await pool.query<{ state: OrderState }>(
    `SELECT state FROM orders WHERE id = ANY($1::uuid[])`,
    [orders],
  );
  assert.equal(rows.length, new Set(orders).size, 'every order placed is stored');
  const byId = new Map(rows.map((row) => [row.state.id, row.state]));
  return orders.map((id) => byId.get(id)!);
}

const progressOf = (state: OrderState, config: SagaConfig) =>
  nextStep(state, { config, now: new Date().toISOString() });

/**
 * Waits until every order is finished (or waits on purpose), nothing is left to publish or
 * compensate, and the saga has processed every event of these orders.
 */
export async function waitForSettled(options: SettleOptions): Promise<void> {
  const config = options.sagaConfig ?? DEFAULT_SAGA_CONFIG;
  const consumer = options.consumer ?? 'saga';
  let unsettled: OrderState[] = [];
  let open = 0;
  let lastTick = 0;
  try {
    await waitUntil(
      async () => {
        if (options.tick && Date.now() - lastTick > (options.tickEveryMs ?? 2_000)) {
          lastTick = Date.now();
          await options.tick().catch(() => undefined); // Pub/Sub may be down: the next tick
        }
        const states = await orderStates(options.pool, options.orders);
        unsettled = states.filter((state) => {
          const progress = progressOf(state, config);
          return !(
            progress.kind === 'finished' ||
            (options.undecided?.has(state.id) && progress.kind === 'waiting')
          );
        });
        const { rows } = await options.pool.query<{ open: string }>(
          `SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL)
                + (SELECT count(*) FROM unrecorded_effects WHERE status = 'open') AS open`,
        );
        open = Number(rows[0]!.open);
        if (unsettled.length > 0 || open > 0) return false;
        const counts = await eventCounts(options.pool, options.orders, consumer);
        return counts.processed === counts.events;
      },
      { timeoutMs: options.timeoutMs ?? 120_000, intervalMs: 250, what: 'every order to settle' },
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}: ${unsettled.length} unsettled, ${open} outbox rows or effects open; e.g. ${JSON.stringify(
        unsettled
          .slice(0, 3)
          .map((state) => ({ id: state.id, status: state.status, next: progressOf(state, config) })),
      )}`,
      { cause: error },
    );
  }
}

/** Events of these orders, and those of them `consumer` processed. */
export async function eventCounts(
  pool: Queryable,
  orders: readonly string[],
  consumer = 'saga',
): Promise<{ events: number; processed: number }> {
  const { rows } = await pool.query<{ events: string; processed: string }>(
    `SELECT count(*) AS events,
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM processed_messages p WHERE p.consumer = $2 AND p.event_id = e.id::text)) AS processed
       FROM events e WHERE e.order_id = ANY($1::uuid[])`,
    [orders, consumer],
  );
  return { events: Number(rows[0]!.events), processed: Number(rows[0]!.processed) };
}

export interface InvariantOptions {
  pool: Queryable;
  orders: readonly string[];
  /** Units available per SKU before the run, for every SKU the orders use. */
  initialStock: ReadonlyMap<string, number>;
  payment: PaymentLedger;
  shipping: ShippingLedger;
  undecided?: ReadonlySet<string>;
  sagaConfig?: SagaConfig;
  /** Open dead letters are expected (a poison test). Default false. */
  allowDeadLetters?: boolean;
  consumer?: string;
}

export interface InvariantReport {
  orders: number;
  statuses: Record<string, number>;
  events: number;
  completedTotalMinor: number;
  chargedMinor: number;
  refundedMinor: number;
}

/** Asserts every invariant (see the module comment); returns a summary for the test's log. */
export async function checkInvariants(options: InvariantOptions): Promise<InvariantReport> {
  const { pool, orders, payment, shipping } = options;
  const config = options.sagaConfig ?? DEFAULT_SAGA_CONFIG;
  const states = await orderStates(pool, orders);
  const completed = states.filter((state) => state.status === ORDER_STATUS.completed);

  // Every order finished, or waiting on something named, on purpose.
  for (const state of states) {
    const progress = progressOf(state, config);
    assert.ok(
      progress.kind === 'finished' ||
        (progress.kind === 'waiting' && Object.values(SAGA_WAIT).includes(progress.on)),
      `order ${state.id} is ${state.status} and ${JSON.stringify(progress)}`,
    );
    if (progress.kind === 'waiting')
      assert.ok(options.undecided?.has(state.id), `order ${state.id} waits on ${progress.on}`);
  }

  // Inventory conserved per SKU; what is shipped is exactly what completed orders hold.
  const shippedBySku = new Map<string, number>();
  for (const state of completed) {
    for (const line of state.lines)
      shippedBySku.set(line.sku, (shippedBySku.get(line.sku) ?? 0) + line.quantity);
  }
  for (const state of states) {
    for (const line of state.lines)
      assert.ok(options.initialStock.has(line.sku), `the initial stock of ${line.sku} is known`);
  }
  for (const [sku, units] of options.initialStock) {
    const { rows } = await pool.query<{ available: number; reserved: number; shipped: number }>(
      `SELECT available, reserved, shipped FROM inventory WHERE sku = $1`,
      [sku],
    );
    const stock = rows[0];
    assert.ok(stock, `a stock record for ${sku}`);
    assert.equal(stock.available + stock.reserved + stock.shipped, units, `${sku} conserved`);
    assert.equal(stock.reserved, 0, `${sku}: nothing left reserved`);
    assert.equal(stock.shipped, shippedBySku.get(sku) ?? 0, `${sku}: shipped = completed orders`);
  }

  // Money conserved: what was charged and not refunded is exactly what completed orders cost.
  let chargedMinor = 0;
  let refundedMinor = 0;
  for (const state of states) {
    const entry = payment.orders[state.id];
    chargedMinor += entry?.chargedMinor ?? 0;
    refundedMinor += entry?.refundedMinor ?? 0;
    const net = (entry?.chargedMinor ?? 0) - (entry?.refundedMinor ?? 0);
    assert.equal(net, state.status === ORDER_STATUS.completed ? state.totalMinor : 0, `money of ${state.id}`);
    assert.ok((entry?.charges.length ?? 0) <= 1, `one charge for ${state.id}`);
    assert.ok((entry?.refunds.length ?? 0) <= 1, `at most one refund for ${state.id}`);
    assert.ok((shipping.orders[state.id]?.shipments.length ?? 0) <= 1, `one shipment for ${state.id}`);
  }
  const completedTotalMinor = completed.reduce((sum, state) => sum + state.totalMinor, 0);
  assert.equal(chargedMinor - refundedMinor, completedTotalMinor, 'money conserved');

  // No event applied twice: each event processed once, each step recorded once, no gaps.
  const counts = await eventCounts(pool, orders, options.consumer ?? 'saga');
  assert.equal(counts.processed, counts.events, 'the saga processed every event of these orders');
  const { rows: repeated } = await pool.query(
    `SELECT order_id, type, count(*) FROM events WHERE order_id = ANY($1::uuid[])
      GROUP BY order_id, type HAVING count(*) > 1`,
    [orders],
  );
  assert.deepEqual(repeated, [], 'no step recorded twice');
  const { rows: gaps } = await pool.query(
    `SELECT order_id FROM events WHERE order_id = ANY($1::uuid[])
      GROUP BY order_id HAVING max(sequence) <> count(*)`,
    [orders],
  );
  assert.deepEqual(gaps, [], 'sequences without gaps');
  const { rows: open } = await pool.query<{ outbox: string; effects: string }>(
    `SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS outbox,
            (SELECT count(*) FROM unrecorded_effects WHERE status = 'open') AS effects`,
  );
  assert.deepEqual(
    { outbox: Number(open[0]!.outbox), effects: Number(open[0]!.effects) },
    { outbox: 0, effects: 0 },
    'nothing left to publish or to compensate',
  );
  if (!options.allowDeadLetters) {
    const { rows: letters } = await pool.query(
      `SELECT source_subscription, last_error FROM dead_letters WHERE status = 'open'`,
    );
    assert.deepEqual(letters, [], 'nothing dead-lettered');
  }

  const statuses: Record<string, number> = {};
  for (const state of states) statuses[state.status] = (statuses[state.status] ?? 0) + 1;
  return {
    orders: states.length,
    statuses,
    events: counts.events,
    completedTotalMinor,
    chargedMinor,
    refundedMinor,
  };
}
