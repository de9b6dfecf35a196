import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { appendEvents } from '#shared/store/event-store.ts';
import { readOrderHistory } from '#shared/store/orders.ts';
import { webhookEventOutcome } from '#shared/store/webhook-events.ts';
import { signatureHeader, SIGNATURE_HEADER } from '#shared/webhooks/index.ts';
import { startTestApi } from '../../helpers/api.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';

/** Provider webhooks at the API: signatures, tolerance, malformed bodies, once per event id. */
describe('webhooks: signed, fresh, well-formed, processed once', () => {
  let stack: Stack;
  let sequence = 0;

  before(async () => {
    // No functions: the tests put orders where they need them and post webhooks themselves.
    stack = await startStack({ functions: [] });
  });
  after(() => stack.stop());

  const now = () => Math.floor(Date.now() / 1000);

  /** An order whose charge pay_<n> of 2 500 EUR the provider has accepted. */
  async function orderAwaitingPayment() {
    const sku = await stack.addProduct({ unitPriceMinor: 1_250 });
    const orderId = await stack.placeOrder([{ sku, quantity: 2 }]);
    const paymentId = `pay_test_${++sequence}`;
    await appendEvents(
      stack.pool,
      orderId,
      1,
      [
        { type: EVENT_TYPE.inventoryReserved, data: { lines: [{ sku, quantity: 2 }] } },
        {
          type: EVENT_TYPE.paymentRequested,
          data: { paymentId, amountMinor: 2_500, currency: 'EUR', idempotencyKey: `${orderId}:charge` },
        },
      ],
      {
        time: new Date().toISOString(),
        newId: () => crypto.randomUUID(),
        source: '//conveyor/test',
        correlationId: orderId,
      },
    );
    return { orderId, paymentId };
  }

  function succeeded(orderId: string, paymentId: string, id = `evt_${++sequence}`) {
    return {
      id,
      type: 'payment.succeeded',
      created: now(),
      data: { paymentId, orderId, amountMinor: 2_500, currency: 'EUR' },
    };
  }

  async function post(
    path: string,
    body: string,
    options: { secret?: string; timestamp?: number; header?: string | null; contentType?: string } = {},
  ) {
    const header =
      options.header === undefined
        ? signatureHeader(body, [options.secret ?? stack.webhookSecrets.payment], options.timestamp ?? now())
        : options.header;
    const response = await fetch(`${stack.api.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': options.contentType ?? 'application/json',
        ...(header === null ? {} : { [SIGNATURE_HEADER]: header }),
      },
      body,
    });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  }
  const payments = (body: string, options?: Parameters<typeof post>[2]) =>
    post('/v1/webhooks/payments', body, options);

  async function unchanged(orderId: string, before: number, eventId: string) {
    const history = await readOrderHistory(stack.pool, orderId);
    assert.equal(history.length, before, 'no event was recorded');
    assert.equal(
      await webhookEventOutcome(stack.pool, 'payment', eventId),
      undefined,
      'the event id is not taken',
    );
  }

  it('a signed payment.succeeded records payment.processed, without an API key', async () => {
    const { orderId, paymentId } = await orderAwaitingPayment();
    const webhook = succeeded(orderId, paymentId);
    const answer = await payments(JSON.stringify(webhook));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { received: webhook.id, outcome: 'recorded' });
    const history = await readOrderHistory(stack.pool, orderId);
    assert.equal(history.at(-1)!.envelope.type, EVENT_TYPE.paymentProcessed);
    assert.deepEqual(
      (history.at(-1)!.envelope.data as { providerEventId: string }).providerEventId,
      webhook.id,
    );
  });

  const refusals: [string, (body: string) => Parameters<typeof post>[2], number, RegExp][] = [
    [
      'signed with another secret',
      () => ({ secret: 'not-the-payment-secret-at-all' }),
      401,
      /invalid-signature/,
    ],
    [
      'signed with the shipping secret',
      () => ({ secret: stack.webhookSecrets.shipping }),
      401,
      /invalid-signature/,
    ],
    ['signed six minutes ago', () => ({ timestamp: now() - 360 }), 401, /stale-signature/],
    ['signed six minutes ahead', () => ({ timestamp: now() + 360 }), 401, /stale-signature/],
    ['without a signature', () => ({ header: null }), 400, /invalid-signature/],
    ['with a malformed signature header', () => ({ header: 't=abc,v1=xyz' }), 400, /invalid-signature/],
    [
      'signed over another body',
      (body) => ({ header: signatureHeader(`${body} `, [stack.webhookSecrets.payment], now()) }),
      401,
      /invalid-signature/,
    ],
  ];
  for (const [name, options, status, type] of refusals) {
    it(`refuses a webhook ${name}: ${status} problem+json, nothing changes`, async () => {
      const { orderId, paymentId } = await orderAwaitingPayment();
      const webhook = succeeded(orderId, paymentId);
      const body = JSON.stringify(webhook);
      const answer = await payments(body, options(body));
      assert.equal(answer.status, status);
      assert.match(answer.contentType, /^application\/problem\+json/);
      assert.match(String(answer.body.type), type);
      await unchanged(orderId, 3, webhook.id);
      // The same event, properly signed, is still processed afterwards.
      assert.equal((await payments(body)).status, 200);
    });
  }

  it('refuses malformed bodies with a valid signature: 400 problem+json naming the problem', async () => {
    const { orderId, paymentId } = await orderAwaitingPayment();
    const cases: [string, RegExp][] = [
      ['{"id": "evt_1", "type": "payment.succeeded"', /not JSON/],
      [JSON.stringify({ ...succeeded(orderId, paymentId), type: 'payment.exploded' }), /body.type/],
      [
        JSON.stringify({ ...succeeded(orderId, paymentId), data: { paymentId, orderId } }),
        /body.data.amountMinor/,
      ],
      ['[]', /\(root\)|body/],
    ];
    for (const [body, detail] of cases) {
      const answer = await payments(body);
      assert.equal(answer.status, 400, body);
      assert.match(answer.contentType, /^application\/problem\+json/);
      assert.equal(answer.body.type, 'urn:problem-type:conveyor:invalid-webhook');
      assert.match(JSON.stringify(answer.body), detail);
    }
    assert.equal((await readOrderHistory(stack.pool, orderId)).length, 3);
  });

  it('refuses a body that is not JSON by its content type: 415', async () => {
    const { orderId, paymentId } = await orderAwaitingPayment();
    const body = JSON.stringify(succeeded(orderId, paymentId));
    const answer = await payments(body, { contentType: 'text/plain' });
    assert.equal(answer.status, 415);
    assert.match(answer.contentType, /^application\/problem\+json/);
  });

  it('processes a provider event id once: redelivered, duplicated at the same time, re-signed', async () => {
    const { orderId, paymentId } = await orderAwaitingPayment();
    const webhook = succeeded(orderId, paymentId);
    const body = JSON.stringify(webhook);
    const answers = await Promise.all(Array.from({ length: 8 }, () => payments(body)));
    assert.deepEqual(
      answers.map((answer) => answer.status),
      Array(8).fill(200),
    );
    const outcomes = answers.map((answer) => answer.body.outcome).sort();
    assert.deepEqual(outcomes, [
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'recorded',
    ]);
    // A later redelivery, signed afresh, as providers retry.
    const later = await payments(body, { timestamp: now() + 2 });
    assert.deepEqual(later.body, { received: webhook.id, outcome: 'duplicate' });
    const history = await readOrderHistory(stack.pool, orderId);
    assert.equal(history.filter((stored) => stored.envelope.type === EVENT_TYPE.paymentProcessed).length, 1);
    // The same fact under another event id (a provider resending it as new) changes nothing either.
    const again = await payments(JSON.stringify(succeeded(orderId, paymentId)));
    assert.equal(again.body.outcome, 'unchanged');
    assert.equal((await readOrderHistory(stack.pool, orderId)).length, 4);
  });

  it('a webhook that overtakes the step it reports answers 409 and is processed when sent again later', async () => {
    const sku = await stack.addProduct();
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    const webhook = {
      id: `evt_${++sequence}`,
      type: 'payment.succeeded',
      created: now(),
      data: { paymentId: 'pay_early', orderId, amountMinor: 1_000, currency: 'EUR' },
    };
    const early = await payments(JSON.stringify(webhook));
    assert.equal(early.status, 409);
    assert.match(answerType(early.body), /concurrent-update/);
    await unchanged(orderId, 1, webhook.id);
    await appendEvents(
      stack.pool,
      orderId,
      1,
      [
        { type: EVENT_TYPE.inventoryReserved, data: { lines: [{ sku, quantity: 1 }] } },
        {
          type: EVENT_TYPE.paymentRequested,
          data: { paymentId: 'pay_early', amountMinor: 1_000, currency: 'EUR', idempotencyKey: 'k' },
        },
      ],
      {
        time: new Date().toISOString(),
        newId: () => crypto.randomUUID(),
        source: '//conveyor/test',
        correlationId: orderId,
      },
    );
    const retried = await payments(JSON.stringify(webhook));
    assert.deepEqual(retried.body, { received: webhook.id, outcome: 'recorded' });
  });

  it('shipping webhooks: a delivery before its dispatch waits (409); in order, both are recorded', async () => {
    const { orderId, paymentId } = await orderAwaitingPayment();
    assert.equal((await payments(JSON.stringify(succeeded(orderId, paymentId)))).status, 200);
    await appendEvents(
      stack.pool,
      orderId,
      4,
      [
        {
          type: EVENT_TYPE.shipmentRequested,
          data: {
            shipmentId: 'shp_1',
            carrier: 'post',
            lines: [{ sku: 'X', quantity: 1 }],
            idempotencyKey: 'k',
          },
        },
      ],
      {
        time: new Date().toISOString(),
        newId: () => crypto.randomUUID(),
        source: '//conveyor/test',
        correlationId: orderId,
      },
    );
    const shipping = (webhook: object) =>
      post('/v1/webhooks/shipping', JSON.stringify(webhook), { secret: stack.webhookSecrets.shipping });
    const tracking = { shipmentId: 'shp_1', orderId, carrier: 'post', trackingNumber: 'TRK1' };
    const delivered = {
      id: `evt_${++sequence}`,
      type: 'shipment.delivered',
      created: now(),
      data: { ...tracking, deliveredAt: new Date().toISOString() },
    };
    const dispatched = {
      id: `evt_${++sequence}`,
      type: 'shipment.dispatched',
      created: now(),
      data: { ...tracking, dispatchedAt: new Date().toISOString() },
    };
    assert.equal((await shipping(delivered)).status, 409);
    assert.equal((await shipping(dispatched)).body.outcome, 'recorded');
    assert.equal((await shipping(delivered)).body.outcome, 'recorded');
    const types = (await readOrderHistory(stack.pool, orderId)).map((stored) => stored.envelope.type);
    assert.deepEqual(types.slice(-2), [EVENT_TYPE.shipmentDispatched, EVENT_TYPE.shipmentDelivered]);
  });

  it('a webhook about an unknown order is 404, and about another payment of the order 409; nothing changes', async () => {
    const { orderId, paymentId } = await orderAwaitingPayment();
    const unknown = succeeded(crypto.randomUUID(), paymentId);
    assert.equal((await payments(JSON.stringify(unknown))).status, 404);
    const other = succeeded(orderId, 'pay_someone_else');
    assert.equal((await payments(JSON.stringify(other))).status, 409);
    await unchanged(orderId, 3, other.id);
  });

  it('without configured secrets the webhook routes answer 503, so providers retry later', async () => {
    const api = await startTestApi();
    try {
      const response = await api.request('POST', '/v1/webhooks/payments', { key: null, body: { id: 'x' } });
      assert.equal(response.statusCode, 503);
      assert.match(response.headers['content-type'] as string, /^application\/problem\+json/);
    } finally {
      await api.close();
    }
  });
});

function answerType(body: Record<string, unknown>): string {
  return String(body.type);
}
