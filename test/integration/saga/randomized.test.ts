import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REPLAY_CONSUMER_ATTRIBUTE, TOPIC } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import type { RequestedLine } from '#shared/contracts/values.ts';
import { ORDER_STATUS } from '#shared/domain/order/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { seededRandom } from '../../../local/sandbox-providers/faults.ts';
import { checkInvariants, orderStates, waitForSettled } from '../../helpers/invariants.ts';
import { startStack, STACK_CATALOGUE, type Stack } from '../../helpers/stack.ts';

const ORDERS = Number(process.env.CONVEYOR_RANDOM_ORDERS ?? 500);
const SEED = Number(process.env.CONVEYOR_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SETTLE_TIMEOUT_MS = 240_000;

/** Products of the run: two scarce ones that run out (concurrent orders for the last units). */
const PRODUCTS = [
  { unitPriceMinor: 1_250, stock: 1_000 },
  { unitPriceMinor: 199, stock: 1_000 },
  { unitPriceMinor: 4_500, stock: 1_000 },
  { unitPriceMinor: 12_900, stock: 300 },
  { unitPriceMinor: 2_300, stock: 200 },
] as const;
/** Above the saga's approval threshold (100 000): waits for an operator. */
const EXPENSIVE = STACK_CATALOGUE.find((item) => item.sku === 'PIANO-1')!;

/**
 * 500 orders through the whole stack with 20 % of provider calls failing (5xx or dropped
 * connections, half of them after the call took effect), declines and failed shipments,
 * duplicate publishes, duplicate and reordered webhooks, cancellations at random moments,
 * approvals decided or left open, replays of history racing the live feed, and saga crashes after
 * a charge (redelivered). When everything has settled the invariants must hold. The seed is
 * printed; CONVEYOR_SEED repeats a run (timing still varies), CONVEYOR_RANDOM_ORDERS resizes it.
 */
describe(`saga: a randomized run of ${ORDERS} orders (seed ${SEED})`, () => {
  let stack: Stack;
  const random = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const skus: string[] = [];
  const initial = new Map<string, number>();

  before(async () => {
    console.log(`randomized run: seed ${SEED} (CONVEYOR_SEED=${SEED} repeats it), ${ORDERS} orders`);
    const faults = {
      errorRate: 0.15,
      timeoutRate: 0.05,
      hangMs: 300,
      duplicateRate: 0.2,
      webhookDelayMs: 20,
    };
    stack = await startStack({
      functions: ['saga', 'timeouts', 'dead-letter'],
      faults: {
        payment: { ...faults, seed: SEED, declineRate: 0.05 },
        shipping: { ...faults, seed: SEED + 1, shipmentFailureRate: 0.05, reorderRate: 0.2 },
      },
      duplicatePublishRate: 0.1,
      random: seededRandom(SEED + 2),
      sagaConcurrency: 12,
    });
    for (const product of PRODUCTS) {
      const sku = await stack.addProduct(product);
      skus.push(sku);
      initial.set(sku, product.stock);
    }
    initial.set(EXPENSIVE.sku, (await stack.stockOf(EXPENSIVE.sku)).available);
  });
  after(() => stack.stop());

  it(
    'ends with inventory and money conserved, every order settled or waiting on something named, nothing applied twice',
    { timeout: 420_000 },
    async () => {
      const started = Date.now();
      const orders: string[] = [];
      const undecided = new Set<string>();
      const tasks: Promise<void>[] = [];
      const actions = { cancels: 0, approvals: 0, rejections: 0, undecided: 0, replays: 0, crashes: 0 };

      // Place the orders, 20 at a time, and act on some of them while they run.
      const place = async () => {
        const lines: RequestedLine[] = [];
        for (const sku of new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(skus)))) {
          lines.push({ sku, quantity: 1 + Math.floor(random() * 3) });
        }
        const expensive = random() < 0.05;
        if (expensive) lines.push({ sku: EXPENSIVE.sku, quantity: 1 });
        const cancelAfterMs = random() < 0.1 ? Math.floor(random() * 800) : undefined;
        const replayAfterMs = random() < 0.05 ? Math.floor(random() * 800) : undefined;
        const crash = random() < 0.03;
        const decision = random();
        const orderId = await stack.placeOrder(lines);
        orders.push(orderId);
        if (crash) {
          // The saga "crashes" after its charge was accepted: nothing recorded, the message comes back.
          actions.crashes++;
          stack.faults.crashAfterCharge(orderId);
        }
        if (cancelAfterMs !== undefined) {
          actions.cancels++;
          tasks.push(delay(cancelAfterMs).then(() => cancel(orderId)));
        }
        if (replayAfterMs !== undefined) {
          actions.replays++;
          tasks.push(delay(replayAfterMs).then(() => replay(orderId)));
        }
        if (expensive) tasks.push(decide(orderId, decision));
      };
      const cancel = async (orderId: string) => {
        const answer = await stack.cancelOrder(orderId, 'changed my mind');
        // 409: too late, the parcel has left (or the order is already finished).
        assert.ok([200, 202, 409].includes(answer.status), `cancel answered ${answer.status}`);
      };
      const replay = async (orderId: string) => {
        const history = await readOrderHistory(stack.pool, orderId);
        const messages = history.map((stored) =>
          toMessage(stored.envelope, {
            [REPLAY_CONSUMER_ATTRIBUTE]: 'saga',
            [ATTRIBUTE.replay]: `run-${SEED}`,
          }),
        );
        await stack.publisher.publish(TOPIC.replays, messages);
      };
      const decide = async (orderId: string, decision: number) => {
        const waiting = await stack
          .waitForOrder(orderId, (state) => state.status !== ORDER_STATUS.placed, { timeoutMs: 120_000 })
          .catch(() => undefined);
        if (waiting?.status !== ORDER_STATUS.awaitingApproval) return;
        if (decision < 0.1) {
          actions.undecided++;
          undecided.add(orderId);
          return;
        }
        const approve = decision < 0.7;
        if (approve) actions.approvals++;
        else actions.rejections++;
        const answer = await stack.decideApproval(orderId, approve ? 'approve' : 'reject', 'checked by ops');
        assert.ok([200, 202, 409].includes(answer.status), `approval answered ${answer.status}`);
      };
      for (let next = 0; next < ORDERS;) {
        const batch = Math.min(20, ORDERS - next);
        await Promise.all(Array.from({ length: batch }, place));
        next += batch;
      }
      const placedIn = Date.now() - started;

      // Settle: ticks every two seconds (compensations, sweeps), until every order is finished or
      // waits on a decision nobody will take, and the saga has processed every event once (the
      // last duplicates and replays included); then the providers have nothing left to say.
      await Promise.all(tasks);
      await waitForSettled({
        pool: stack.pool,
        orders,
        tick: () => stack.tick(),
        undecided,
        timeoutMs: SETTLE_TIMEOUT_MS,
      });
      await Promise.all([stack.payment.webhooksIdle(), stack.shipping.webhooksIdle()]);
      const settledIn = Date.now() - started;

      const states = await orderStates(stack.pool, orders);
      const reasons = count(
        states.flatMap((state) => (state.cancelledAt ? [state.cancellation!.reasonCode] : [])),
      );
      const payment = stack.payment.ledger();
      const shipping = stack.shipping.ledger();
      // Inventory and money conserved, every order settled or waiting on something named, nothing
      // applied twice, nothing dead-lettered (test/helpers/invariants.ts).
      const report = await checkInvariants({
        pool: stack.pool,
        orders,
        initialStock: initial,
        payment,
        shipping,
        undecided,
      });
      assert.equal(
        payment.totals.chargedMinor - payment.totals.refundedMinor,
        report.completedTotalMinor,
        'no money moved for anything but these orders',
      );
      const eventCount = async () =>
        Number((await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM events`)).rows[0]!.n);
      const completedTotal = report.completedTotalMinor;
      const byStatus = report.statuses;

      console.log(
        JSON.stringify(
          {
            seed: SEED,
            orders: ORDERS,
            placedInMs: placedIn,
            settledInMs: settledIn,
            statuses: byStatus,
            cancellationReasons: reasons,
            actions,
            events: await eventCount(),
            duplicatePublishes: stack.faults.duplicatesPublished,
            webhooks: {
              payment: payment.webhooks,
              shipping: shipping.webhooks,
            },
            providerCalls: {
              charges: payment.totals.charges,
              refunds: payment.totals.refunds,
              shipments: shipping.totals.shipments,
            },
            money: {
              chargedMinor: payment.totals.chargedMinor,
              refundedMinor: payment.totals.refundedMinor,
              completedTotal,
            },
            unrecordedEffects: Number(
              (await stack.pool.query<{ n: string }>(`SELECT count(*) AS n FROM unrecorded_effects`)).rows[0]!
                .n,
            ),
            // Why the saga nacked (Pub/Sub redelivered): kinds of last errors, with their attempts.
            sagaNacks: Object.fromEntries(
              (
                await stack.pool.query<{ kind: string; attempts: string }>(
                  `SELECT regexp_replace(left(last_error, 90), '[0-9a-f-]{36}|[0-9]+', '#', 'g') AS kind,
                          sum(attempts) AS attempts
                     FROM message_failures WHERE consumer LIKE 'saga%' GROUP BY 1 ORDER BY 2 DESC LIMIT 8`,
                )
              ).rows.map((row) => [row.kind, Number(row.attempts)]),
            ),
          },
          null,
          2,
        ),
      );
    },
  );
});

function count(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
