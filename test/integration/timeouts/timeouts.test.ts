import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import { appendEvents } from '#shared/store/event-store.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { verifySignature, SIGNATURE_HEADER } from '#shared/webhooks/index.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.ts';

const ESCALATE_AFTER_MS = 600;
const EXPIRE_AFTER_MS = 1_800;

/** The ticks topic drives functions/timeouts: approval deadlines and the outbox sweep. */
describe('timeouts: approval deadlines escalate, then cancel; the tick sweeps the outbox', () => {
  let stack: Stack;
  let operators: WebhookReceiver;

  before(async () => {
    operators = await startWebhookReceiver();
    stack = await startStack({
      functions: ['saga', 'timeouts', 'notifier', 'dead-letter'],
      saga: { approvalEscalateAfterMs: ESCALATE_AFTER_MS, approvalExpireAfterMs: EXPIRE_AFTER_MS },
      notifier: {
        subscribers: [
          { id: 'operators', url: `${operators.url}/hooks`, events: [EVENT_TYPE.orderApprovalEscalated] },
        ],
      },
    });
  });
  after(async () => {
    await stack.stop();
    await operators.close();
  });

  const historyTypes = async (orderId: string) =>
    (await readOrderHistory(stack.pool, orderId)).map((stored) => stored.envelope.type);
  const tickFailures = async () =>
    (
      await stack.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM message_failures WHERE consumer = 'timeouts'`,
      )
    ).rows[0]!.n;

  /** Publishes a tick and waits until the timeouts function has handled it (the outbox is drained). */
  async function tick(until: () => Promise<boolean>, what: string) {
    await stack.tick();
    await waitUntil(until, { what });
  }

  it('no decision by the first deadline: escalated once, and the operators are notified', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 200_000, stock: 1 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    const waiting = await stack.waitForOrder(orderId, 'awaiting_approval');
    await waitUntil(() => Date.now() >= Date.parse(waiting.approval!.escalateAt), {
      what: 'the first deadline',
    });
    await tick(async () => (await stack.order(orderId))?.approval?.escalated === true, 'the escalation');
    const notification = await waitUntil(
      () => operators.received.find((request) => JSON.parse(request.raw).subject === orderId),
      { what: 'the notification to the operators' },
    );
    const event = JSON.parse(notification.raw) as DomainEvent;
    assert.equal(event.type, EVENT_TYPE.orderApprovalEscalated);
    assert.equal(notification.headers['idempotency-key'], event.id);
    verifySignature({
      header: notification.headers[SIGNATURE_HEADER.toLowerCase()] as string,
      rawBody: notification.raw,
      secrets: [stack.webhookSecrets.notifier],
      now: Date.now(),
    });
    // More ticks before the second deadline change nothing.
    await stack.tick();
    await stack.tick();
    assert.equal(
      (await historyTypes(orderId)).filter((type) => type === EVENT_TYPE.orderApprovalEscalated).length,
      1,
    );
    assert.equal(await tickFailures(), 0, 'no tick failed');
  });

  it('no decision by the second deadline: cancelled (approval_timeout), nothing reserved or charged', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 200_000, stock: 1 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    const waiting = await stack.waitForOrder(orderId, 'awaiting_approval');
    await waitUntil(() => Date.now() >= Date.parse(waiting.approval!.expiresAt), {
      what: 'the second deadline',
    });
    await stack.tick();
    const order = await stack.waitForOrder(orderId, 'cancelled');
    assert.equal(order.cancellation?.reasonCode, 'approval_timeout');
    assert.deepEqual(
      (await historyTypes(orderId)).map((type) => type.replace(/\.v\d+$/, '')),
      ['order.created', 'order.approval_requested', 'order.cancellation_requested', 'order.cancelled'],
    );
    assert.equal(stack.payment.ledger().orders[orderId], undefined);
    assert.equal((await stack.stockOf(sku)).available, 1);
  });

  it('an order approved in time is not touched by later ticks', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 200_000, stock: 1 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    await stack.waitForOrder(orderId, 'awaiting_approval');
    assert.equal((await stack.decideApproval(orderId, 'approve')).status, 202);
    await stack.waitForOrder(orderId, 'completed');
    await stack.tick();
    await stack.tick();
    const types = await historyTypes(orderId);
    assert.equal(types.at(-1), EVENT_TYPE.orderCompleted);
    assert.equal(types.includes(EVENT_TYPE.orderApprovalEscalated), false);
  });

  it('the tick publishes what no relay did (a process crashed between commit and publish)', async () => {
    // From here on nothing but the tick relays: the API's relay is gone, as after a crash.
    await stack.relay.stop({ flushTimeoutMs: 100 });
    const sku = await stack.addProduct({ stock: 1 });
    const orderId = randomUUID();
    const { events } = await appendEvents(
      stack.pool,
      orderId,
      0,
      [
        {
          type: EVENT_TYPE.orderCreated,
          data: {
            customerId: 'customer-1',
            currency: 'EUR',
            lines: [{ sku, quantity: 1, unitPriceMinor: 1_000 }],
            totalMinor: 1_000,
            shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
            channel: 'api',
          },
        },
      ],
      {
        time: new Date().toISOString(),
        newId: randomUUID,
        source: '//conveyor/test',
        correlationId: orderId,
      },
    );
    const pending = async () =>
      (
        await stack.pool.query(`SELECT 1 FROM outbox WHERE event_id = $1 AND published_at IS NULL`, [
          events[0]!.id,
        ])
      ).rowCount!;
    assert.equal(await pending(), 1);
    await tick(async () => (await pending()) === 0, 'the tick to publish the row');
    // Published, the saga picks it up: reserved (its own events wait for the next tick now).
    await stack.waitForOrder(orderId, 'reserved');
  });
});
