import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { inboundOrderId, INBOUND_TYPE, type InboundEvent } from '#shared/contracts/inbound.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { STACK_ADDRESS, startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

const SOURCE = '//partner/acme';

/** Outside producers on inbound-events: valid requests become orders, invalid ones dead letters. */
describe('ingest: inbound events become orders once, or dead letters with their errors', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ functions: ['saga', 'ingest', 'dead-letter'] });
  });
  after(() => stack.stop());

  const place = (externalId: string, sku: string, quantity = 1): InboundEvent => ({
    specversion: '1.0',
    id: randomUUID(),
    source: SOURCE,
    type: INBOUND_TYPE.orderPlace,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      externalId,
      customerId: 'acme-customer-7',
      currency: 'EUR',
      lines: [{ sku, quantity }],
      shippingAddress: { ...STACK_ADDRESS },
    },
  });

  /** The ingest dead letters since `since`. */
  const deadLetters = async (since: number) => {
    const answer = await stack.api.request('GET', '/v1/dead-letters?subscription=ingest&limit=100');
    const { items } = answer.body as {
      items: { lastError?: string; attempts: number; orderingKey?: string; deadLetteredAt: string }[];
    };
    return items.filter((letter) => Date.parse(letter.deadLetteredAt) >= since);
  };

  it('an order.place request becomes an order (channel inbound) that is fulfilled', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 900 });
    const externalId = `A-${randomUUID().slice(0, 8)}`;
    await stack.publishInbound(place(externalId, sku, 2));
    const orderId = inboundOrderId(SOURCE, externalId);
    const order = await stack.waitForOrder(orderId, 'completed');
    assert.equal(order.channel, 'inbound');
    assert.equal(order.totalMinor, 1_800, 'priced from the catalogue');
    assert.equal(order.customerId, 'acme-customer-7');
  });

  it('the same request published twice, and delivered at once, places one order', async () => {
    const sku = await stack.addProduct();
    const externalId = `B-${randomUUID().slice(0, 8)}`;
    const request = place(externalId, sku);
    await Promise.all([stack.publishInbound(request), stack.publishInbound(request, randomUUID())]);
    await stack.publishInbound({ ...request, id: randomUUID() }); // a producer retrying with a new message id
    const orderId = inboundOrderId(SOURCE, externalId);
    await stack.waitForOrder(orderId, 'completed');
    const history = await readOrderHistory(stack.pool, orderId);
    assert.equal(history.filter((stored) => stored.envelope.type === EVENT_TYPE.orderCreated).length, 1);
    assert.equal(stack.payment.ledger().orders[orderId]?.charges.length, 1);
  });

  it('order.cancel cancels an order the producer placed', async () => {
    const sku = await stack.addProduct({ unitPriceMinor: 300_000 });
    const externalId = `C-${randomUUID().slice(0, 8)}`;
    await stack.publishInbound(place(externalId, sku));
    const orderId = inboundOrderId(SOURCE, externalId);
    await stack.waitForOrder(orderId, 'awaiting_approval');
    await stack.publishInbound({
      specversion: '1.0',
      id: randomUUID(),
      source: SOURCE,
      type: INBOUND_TYPE.orderCancel,
      data: { externalId, reason: 'customer called' },
    });
    const order = await stack.waitForOrder(orderId, 'cancelled');
    assert.equal(order.cancellation?.reasonCode, 'customer_request');
    assert.deepEqual(order.cancellation?.requestedBy, { kind: 'customer', id: SOURCE });
  });

  it('invalid requests are dead-lettered once, at once, with their validation errors; nothing is placed', async () => {
    const sku = await stack.addProduct();
    const taken = `D-${randomUUID().slice(0, 8)}`;
    await stack.publishInbound(place(taken, sku));
    await stack.waitForOrder(inboundOrderId(SOURCE, taken), 'completed');
    const marker = randomUUID().slice(0, 8);
    const since = Date.now() - 1_000;
    const cases: [InboundEvent | string, RegExp][] = [
      ['{not json', /the data is not JSON/],
      [
        { ...place(`E-${marker}`, sku), data: { externalId: `E-${marker}`, currency: 'euro' } } as never,
        /data\.customerId.*data\.currency/s,
      ],
      [{ ...place(`F-${marker}`, sku), type: 'order.place.v9' } as never, /type/],
      [place(`G-${marker}`, 'NO-SUCH-SKU'), /unknown SKU NO-SUCH-SKU/],
      [place(taken, sku, 5), /used for another order/],
    ];
    for (const [event] of cases) await stack.publishInbound(event, `bad-${marker}`);
    const letters = await waitUntil(
      async () => {
        const found = await deadLetters(since);
        return found.length >= cases.length ? found : undefined;
      },
      { what: 'the dead letters of the invalid requests' },
    );
    assert.equal(letters.length, cases.length, 'each dead-lettered once');
    assert.ok(letters.every((letter) => letter.attempts === 1 && letter.orderingKey === `bad-${marker}`));
    for (const [, reason] of cases) {
      assert.ok(
        letters.some((letter) => reason.test(letter.lastError ?? '')),
        `a dead letter says ${reason}: ${letters.map((l) => l.lastError).join(' | ')}`,
      );
    }
    for (const externalId of [`E-${marker}`, `F-${marker}`, `G-${marker}`]) {
      assert.equal(await stack.order(inboundOrderId(SOURCE, externalId)), undefined);
    }
    assert.equal(
      (await stack.order(inboundOrderId(SOURCE, taken)))?.lines[0]?.quantity,
      1,
      'the first one stands',
    );
  });
});
