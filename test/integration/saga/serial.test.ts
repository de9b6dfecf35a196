import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseEvent, type DomainEvent } from '#shared/contracts/events/index.ts';
import { createSagaConfig } from '#shared/domain/saga/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import type { ReceivedMessage } from '#shared/messaging/codec.ts';
import type { PushConsumer } from '#shared/messaging/consumer.ts';
import type { PaymentProvider, ShippingProvider } from '#shared/providers/index.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { createSagaConsumer } from '../../../functions/saga/handler.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';

/**
 * Several messages of one order at once (live and replay feeds, duplicates, two instances): the
 * order's advisory lock runs them one after the other, and the step is taken once.
 */
describe('saga: one order at a time, across instances', () => {
  let stack: Stack;
  let inFlight = 0;
  let mostInFlight = 0;
  const charges: string[] = [];

  /** A provider that takes its time, so that overlapping steps would show. */
  const payment: PaymentProvider = {
    async charge(request) {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      charges.push(request.idempotencyKey);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return { status: 'accepted', paymentId: `pay_${request.orderId}` };
    },
    refund: () => Promise.reject(new Error('not in this test')),
  };
  const shipping: ShippingProvider = {
    createShipment: () => Promise.reject(new Error('not in this test')),
    cancelShipment: () => Promise.reject(new Error('not in this test')),
  };

  before(async () => {
    stack = await startStack({ functions: [] });
  });
  after(() => stack.stop());

  /** Two saga instances, as two function instances would be: separate in-process queues. */
  const instances = (): PushConsumer<DomainEvent>[] =>
    [1, 2].map(() =>
      createSagaConsumer({
        pool: stack.pool,
        payment,
        shipping,
        config: createSagaConfig({
          approvalThresholdMinor: 100_000,
          approvalEscalateAfterMs: 1_000,
          approvalExpireAfterMs: 2_000,
        }),
      }),
    );
  const context = {
    message: {} as ReceivedMessage,
    subscription: 'saga',
    logger: createLogger({ service: 'test', level: 'silent' }),
  };

  it('ten deliveries of one event on two instances: one step at a time, one charge recorded', async () => {
    const sku = await stack.addProduct({ stock: 10 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    const [a, b] = instances();
    const created = parseEvent((await readOrderHistory(stack.pool, orderId))[0]!.envelope);
    await a!.handle(created, context); // reserve
    const reserved = parseEvent((await readOrderHistory(stack.pool, orderId))[1]!.envelope);
    await Promise.all(
      Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? a! : b!).handle(reserved, context)),
    );
    assert.equal(mostInFlight, 1, 'never two steps of the order at once');
    assert.deepEqual(
      charges,
      [`${orderId}:charge`],
      'the first delivery charged; the others found it processed',
    );
    const types = (await readOrderHistory(stack.pool, orderId)).map((stored) => stored.envelope.type);
    assert.deepEqual(types, ['order.created.v1', 'inventory.reserved.v1', 'payment.requested.v1']);
    const { rows } = await stack.pool.query(
      `SELECT 1 FROM processed_messages WHERE consumer = 'saga' AND event_id = $1`,
      [reserved.id],
    );
    assert.equal(rows.length, 1);
  });

  it('different orders are not held up by each other', async () => {
    const sku = await stack.addProduct({ stock: 10 });
    const orders = await Promise.all([1, 2, 3, 4].map(() => stack.placeOrder([{ sku, quantity: 1 }])));
    const [a, b] = instances();
    const firsts = await Promise.all(
      orders.map(async (orderId) => parseEvent((await readOrderHistory(stack.pool, orderId))[0]!.envelope)),
    );
    await Promise.all(firsts.map((event, index) => (index % 2 === 0 ? a! : b!).handle(event, context)));
    const reservedEvents = await Promise.all(
      orders.map(async (orderId) => parseEvent((await readOrderHistory(stack.pool, orderId))[1]!.envelope)),
    );
    mostInFlight = 0;
    await Promise.all(
      reservedEvents.map((event, index) => (index % 2 === 0 ? a! : b!).handle(event, context)),
    );
    assert.ok(mostInFlight > 1, `charges of different orders overlap (${mostInFlight} at once)`);
  });
});
