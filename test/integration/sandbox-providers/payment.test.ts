import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startPaymentSandbox, type PaymentSandbox } from '../../../local/sandbox-providers/index.ts';
import { paymentWebhookCommand, PaymentWebhookSchema } from '#shared/providers/webhooks.ts';
import { parseSignatureHeader, SIGNATURE_HEADER } from '#shared/webhooks/index.ts';
import { startWebhookReceiver, waitFor } from './helpers.ts';

const SECRET = 'whsec_payment_test';

async function post(base: string, path: string, body: unknown, key?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('payment sandbox', () => {
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let sandbox: PaymentSandbox;

  before(async () => {
    receiver = await startWebhookReceiver({ secrets: [SECRET] });
    sandbox = await startPaymentSandbox({ webhookUrl: receiver.url, webhookSecret: SECRET });
  });
  after(async () => {
    await sandbox.stop();
    await receiver.close();
  });

  const charge = (orderId: string, amountMinor = 2500) => ({ orderId, amountMinor, currency: 'EUR' });
  const deliveriesFor = (orderId: string) =>
    receiver.deliveries.filter((d) => d.event.data.orderId === orderId);

  it('accepts a charge as pending; the outcome arrives later as a signed webhook', async () => {
    const orderId = randomUUID();
    const answer = await post(sandbox.url, '/v1/charges', charge(orderId), `${orderId}:charge`);
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'pending');
    assert.match(String(answer.body.paymentId), /^pay_/);

    const [delivery] = await waitFor('the payment webhook', () => {
      const found = deliveriesFor(orderId);
      return found.length > 0 && found;
    });
    assert.ok(delivery!.verified, delivery!.verifyError);
    assert.equal(
      parseSignatureHeader(delivery!.headers[SIGNATURE_HEADER.toLowerCase()] as string).signatures.length,
      1,
    );
    // The contract the API reads, and the command it means for the order.
    const webhook = PaymentWebhookSchema.parse(delivery!.event);
    assert.equal(webhook.type, 'payment.succeeded');
    assert.match(webhook.id, /^evt_/);
    assert.deepEqual(paymentWebhookCommand(webhook), {
      orderId,
      providerEventId: webhook.id,
      command: {
        type: 'RecordPaymentProcessed',
        paymentId: answer.body.paymentId,
        amountMinor: 2500,
        currency: 'EUR',
        providerEventId: webhook.id,
      },
    });
    const ledger = sandbox.ledger().orders[orderId]!;
    assert.equal(ledger.chargedMinor, 2500);
    assert.equal(ledger.charges[0]?.status, 'succeeded');
    assert.equal(ledger.charges[0]?.idempotencyKey, `${orderId}:charge`);
  });

  it("echoes the charge's traceparent on its webhook (the caller's trace continues); none without one", async () => {
    const traced = randomUUID();
    const traceparent = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
    const charged = await fetch(`${sandbox.url}/v1/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${traced}:charge`, traceparent },
      body: JSON.stringify(charge(traced)),
    });
    assert.equal(charged.status, 201);
    const plain = randomUUID();
    assert.equal((await post(sandbox.url, '/v1/charges', charge(plain), `${plain}:charge`)).status, 201);
    const [withTrace] = await waitFor('the traced webhook', () => {
      const found = deliveriesFor(traced);
      return found.length > 0 && found;
    });
    assert.equal(withTrace!.headers.traceparent, traceparent);
    const [without] = await waitFor('the untraced webhook', () => {
      const found = deliveriesFor(plain);
      return found.length > 0 && found;
    });
    assert.equal(without!.headers.traceparent, undefined);
  });

  it('the same key and body is the same charge; the same key with another body is refused', async () => {
    const orderId = randomUUID();
    const key = `${orderId}:charge`;
    const first = await post(sandbox.url, '/v1/charges', charge(orderId), key);
    const again = await post(
      sandbox.url,
      '/v1/charges',
      { currency: 'EUR', amountMinor: 2500, orderId },
      key,
    );
    assert.equal(first.status, 201);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    const other = await post(sandbox.url, '/v1/charges', charge(orderId, 9999), key);
    assert.equal(other.status, 422);
    assert.equal(other.body.code, 'idempotency_key_reused');
    assert.equal(sandbox.ledger().orders[orderId]?.charges.length, 1);
    await waitFor('one webhook', () => deliveriesFor(orderId).length === 1);
  });

  it('refuses a charge without an Idempotency-Key or with an invalid body', async () => {
    const missingKey = await post(sandbox.url, '/v1/charges', charge(randomUUID()));
    assert.equal(missingKey.status, 400);
    assert.equal(missingKey.body.code, 'idempotency_key_required');
    const invalid = await post(
      sandbox.url,
      '/v1/charges',
      { orderId: 'o', amountMinor: -1, currency: 'euro' },
      'k',
    );
    assert.equal(invalid.status, 400);
    assert.match(String(invalid.body.message), /amountMinor/);
    assert.match(String(invalid.body.message), /currency/);
  });

  it('refunds only what was charged and not yet refunded', async () => {
    const orderId = randomUUID();
    const { body } = await post(sandbox.url, '/v1/charges', charge(orderId), `${orderId}:charge`);
    const paymentId = String(body.paymentId);
    await waitFor('the charge to succeed', () => sandbox.ledger().orders[orderId]?.chargedMinor === 2500);

    const refund = await post(
      sandbox.url,
      '/v1/refunds',
      { paymentId, amountMinor: 2500 },
      `${orderId}:refund`,
    );
    assert.equal(refund.status, 201);
    assert.equal(refund.body.status, 'succeeded');
    const repeat = await post(
      sandbox.url,
      '/v1/refunds',
      { paymentId, amountMinor: 2500 },
      `${orderId}:refund`,
    );
    assert.equal(repeat.status, 200);
    assert.equal(repeat.body.refundId, refund.body.refundId);
    const more = await post(sandbox.url, '/v1/refunds', { paymentId, amountMinor: 1 }, `${orderId}:refund-2`);
    assert.equal(more.status, 409);
    assert.equal(more.body.code, 'refund_exceeds_charge');
    const unknown = await post(
      sandbox.url,
      '/v1/refunds',
      { paymentId: 'pay_nope', amountMinor: 1 },
      randomUUID(),
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'payment_not_found');

    const ledger = sandbox.ledger().orders[orderId]!;
    assert.equal(ledger.chargedMinor - ledger.refundedMinor, 0);
    assert.equal(ledger.refunds.length, 1);
  });

  it('refuses to refund a charge that has not succeeded', async () => {
    const slow = await startPaymentSandbox({ faults: { webhookDelayMs: 60_000 } });
    try {
      const { body } = await post(slow.url, '/v1/charges', charge(randomUUID()), randomUUID());
      const refund = await post(
        slow.url,
        '/v1/refunds',
        { paymentId: body.paymentId, amountMinor: 1 },
        randomUUID(),
      );
      assert.equal(refund.status, 409);
      assert.equal(refund.body.code, 'charge_not_refundable');
    } finally {
      await slow.stop();
    }
  });

  it('serves a payment and the ledger by GET', async () => {
    const orderId = randomUUID();
    const { body } = await post(sandbox.url, '/v1/charges', charge(orderId), randomUUID());
    const payment = (await (await fetch(`${sandbox.url}/v1/payments/${String(body.paymentId)}`)).json()) as {
      orderId: string;
    };
    assert.equal(payment.orderId, orderId);
    const ledger = (await (await fetch(`${sandbox.url}/v1/ledger`)).json()) as {
      orders: Record<string, unknown>;
    };
    assert.ok(ledger.orders[orderId]);
    assert.equal((await fetch(`${sandbox.url}/v1/payments/pay_missing`)).status, 404);
  });
});

describe('payment sandbox: webhook delivery', () => {
  it('retries a delivery answered 500 with backoff, signing each attempt, until accepted', async () => {
    const receiver = await startWebhookReceiver({
      secrets: [SECRET],
      answer: (_, index) => (index < 2 ? 500 : 204),
    });
    const sandbox = await startPaymentSandbox({
      webhookUrl: receiver.url,
      webhookSecret: SECRET,
      webhookRetry: { baseDelayMs: 20 },
    });
    try {
      await post(sandbox.url, '/v1/charges', { orderId: randomUUID(), amountMinor: 1, currency: 'EUR' }, 'k');
      await sandbox.webhooksIdle();
      assert.deepEqual(
        receiver.deliveries.map((d) => d.answered),
        [500, 500, 204],
      );
      assert.equal(new Set(receiver.deliveries.map((d) => d.event.id)).size, 1, 'one event, three attempts');
      assert.ok(receiver.deliveries.every((d) => d.verified));
      const gaps = receiver.deliveries.slice(1).map((d, i) => d.at - receiver.deliveries[i]!.at);
      assert.ok(gaps[0]! >= 9 && gaps[1]! >= 19, `backoff grows: ${gaps.join(', ')} ms`);
      const { webhooks } = sandbox.ledger();
      assert.equal(webhooks.delivered, 1);
      assert.equal(webhooks.attempts, 3);
    } finally {
      await sandbox.stop();
      await receiver.close();
    }
  });

  it('gives up after the last attempt and reports the failed delivery in the ledger', async () => {
    const receiver = await startWebhookReceiver({ secrets: [SECRET], answer: () => 503 });
    const sandbox = await startPaymentSandbox({
      webhookUrl: receiver.url,
      webhookSecret: SECRET,
      webhookRetry: { attempts: 3, baseDelayMs: 5 },
    });
    try {
      await post(sandbox.url, '/v1/charges', { orderId: randomUUID(), amountMinor: 1, currency: 'EUR' }, 'k');
      await sandbox.webhooksIdle();
      const { webhooks } = sandbox.ledger();
      assert.equal(webhooks.failed, 1);
      assert.equal(webhooks.failures[0]?.attempts, 3);
      assert.match(webhooks.failures[0].lastError, /503/);
      assert.equal(receiver.deliveries.length, 3);
    } finally {
      await sandbox.stop();
      await receiver.close();
    }
  });

  it('retries after a network error (nobody listening yet)', async () => {
    const receiver = await startWebhookReceiver({ secrets: [SECRET] });
    const url = receiver.url;
    await receiver.close(); // the port is free now: the first attempts are refused
    const sandbox = await startPaymentSandbox({
      webhookUrl: url,
      webhookSecret: SECRET,
      webhookRetry: { attempts: 2, baseDelayMs: 5 },
    });
    try {
      await post(sandbox.url, '/v1/charges', { orderId: randomUUID(), amountMinor: 1, currency: 'EUR' }, 'k');
      await sandbox.webhooksIdle();
      const { webhooks } = sandbox.ledger();
      assert.equal(webhooks.attempts, 2);
      assert.equal(webhooks.failed, 1);
      assert.match(webhooks.failures[0]!.lastError, /fetch failed/);
    } finally {
      await sandbox.stop();
    }
  });

  it('signs with every secret during a rotation', async () => {
    const receiver = await startWebhookReceiver({ secrets: ['new-secret'] });
    const sandbox = await startPaymentSandbox({
      webhookUrl: receiver.url,
      webhookSecret: ['old-secret', 'new-secret'],
    });
    try {
      await post(sandbox.url, '/v1/charges', { orderId: randomUUID(), amountMinor: 1, currency: 'EUR' }, 'k');
      await sandbox.webhooksIdle();
      const [delivery] = receiver.deliveries;
      assert.ok(delivery?.verified, delivery?.verifyError);
      const header = delivery.headers[SIGNATURE_HEADER.toLowerCase()] as string;
      assert.equal(parseSignatureHeader(header).signatures.length, 2);
    } finally {
      await sandbox.stop();
      await receiver.close();
    }
  });

  it('needs a secret to sign with when it has a webhook URL', async () => {
    await assert.rejects(
      startPaymentSandbox({ webhookUrl: 'http://127.0.0.1:9/x' }),
      /needs a webhook secret/,
    );
  });
});
