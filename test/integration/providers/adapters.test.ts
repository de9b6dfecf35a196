import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  startPaymentSandbox,
  startShippingSandbox,
  type Faults,
  type PaymentSandbox,
  type ShippingSandbox,
} from '../../../local/sandbox-providers/index.ts';
import { idempotencyKey, SAGA_STEP } from '#shared/domain/saga/index.ts';
import {
  BREAKER_STATE,
  CircuitOpenError,
  createHttpPaymentProvider,
  createHttpShippingProvider,
  ProviderError,
  type PaymentProvider,
  type ProviderClientOptions,
  type ShippingProvider,
} from '#shared/providers/index.ts';
import { startScriptedServer, waitFor, type ScriptedAnswer } from '../sandbox-providers/helpers.ts';

const address = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
};
const FAST = { retries: 3, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 10_000 };

async function withPayment(
  faults: Partial<Faults>,
  run: (provider: ReturnType<typeof createHttpPaymentProvider>, sandbox: PaymentSandbox) => Promise<void>,
  client: Partial<ProviderClientOptions> = {},
): Promise<void> {
  const sandbox = await startPaymentSandbox({ faults });
  const provider = createHttpPaymentProvider({
    baseUrl: sandbox.url,
    retry: FAST,
    timeoutMs: 2_000,
    ...client,
  });
  try {
    await run(provider, sandbox);
  } finally {
    provider.close();
    await sandbox.stop();
  }
}

async function withShipping(
  faults: Partial<Faults>,
  run: (provider: ShippingProvider, sandbox: ShippingSandbox) => Promise<void>,
): Promise<void> {
  const sandbox = await startShippingSandbox({ faults });
  const provider = createHttpShippingProvider({ baseUrl: sandbox.url, retry: FAST, timeoutMs: 2_000 });
  try {
    await run(provider, sandbox);
  } finally {
    provider.close();
    await sandbox.stop();
  }
}

const chargeOf = (orderId: string) => ({
  orderId,
  amountMinor: 2500,
  currency: 'EUR',
  idempotencyKey: idempotencyKey(orderId, SAGA_STEP.charge),
});

describe('payment adapter against the sandbox', () => {
  it('charges with the idempotency key; the same call again is the same payment', async () => {
    await withPayment({}, async (payment, sandbox) => {
      const orderId = randomUUID();
      const first = await payment.charge(chargeOf(orderId));
      assert.equal(first.status, 'accepted');
      assert.deepEqual(await payment.charge(chargeOf(orderId)), first);
      const ledger = sandbox.ledger().orders[orderId]!;
      assert.equal(ledger.charges.length, 1);
      assert.equal(ledger.charges[0]?.idempotencyKey, `${orderId}:charge`);
    });
  });

  it('refunds a succeeded charge; a refund beyond it is a refusal, not an exception', async () => {
    await withPayment({}, async (payment, sandbox) => {
      const orderId = randomUUID();
      const charged = await payment.charge(chargeOf(orderId));
      assert.equal(charged.status, 'accepted');
      const { paymentId } = charged as { paymentId: string };
      await waitFor('the charge to succeed', () => sandbox.ledger().orders[orderId]?.chargedMinor === 2500);
      const key = idempotencyKey(orderId, SAGA_STEP.refund);
      const refunded = await payment.refund({ paymentId, amountMinor: 2500, idempotencyKey: key });
      assert.equal(refunded.status, 'refunded');
      assert.deepEqual(await payment.refund({ paymentId, amountMinor: 2500, idempotencyKey: key }), refunded);
      const again = await payment.refund({ paymentId, amountMinor: 2500, idempotencyKey: `${key}-again` });
      assert.equal(again.status, 'refused');
      assert.match((again as { reason: string }).reason, /^refund_exceeds_charge/);
      const unknown = await payment.refund({
        paymentId: 'pay_nope',
        amountMinor: 1,
        idempotencyKey: randomUUID(),
      });
      assert.equal(unknown.status, 'refused');
      assert.equal(sandbox.ledger().orders[orderId]?.refundedMinor, 2500);
    });
  });

  it('under a 5xx storm with errors after the effect, retries never charge twice', async () => {
    await withPayment(
      { errorRate: 0.5, seed: 42 },
      async (payment, sandbox) => {
        const orders = Array.from({ length: 20 }, () => randomUUID());
        for (const orderId of orders)
          assert.equal((await payment.charge(chargeOf(orderId))).status, 'accepted');
        const ledger = sandbox.ledger();
        for (const orderId of orders) assert.equal(ledger.orders[orderId]?.charges.length, 1, orderId);
      },
      // The breaker would rightly open under this storm; this test is about the keys.
      { retry: { ...FAST, retries: 20 }, breaker: { failureThresholdPercent: 100 } },
    );
  });

  it('retries a call the sandbox leaves hanging, after its timeout', async () => {
    const sandbox = await startPaymentSandbox({ faults: { timeoutRate: 0.5, hangMs: 5_000, seed: 3 } });
    const payment = createHttpPaymentProvider({
      baseUrl: sandbox.url,
      retry: { ...FAST, retries: 10 },
      timeoutMs: 150,
    });
    try {
      const orderId = randomUUID();
      assert.equal((await payment.charge(chargeOf(orderId))).status, 'accepted');
      assert.equal(sandbox.ledger().orders[orderId]?.charges.length, 1);
    } finally {
      payment.close();
      await sandbox.stop();
    }
  });

  it('when the provider is down, the circuit opens and calls fail fast with a retryable error', async () => {
    const sandbox = await startPaymentSandbox({ faults: { errorRate: 1 } });
    const payment = createHttpPaymentProvider({
      baseUrl: sandbox.url,
      retry: { ...FAST, retries: 1 },
      breaker: { volumeThreshold: 4, failureThresholdPercent: 50, resetAfterMs: 60_000 },
    });
    try {
      const failures: unknown[] = [];
      for (let i = 0; i < 4; i++)
        failures.push(await payment.charge(chargeOf(randomUUID())).catch((e: unknown) => e));
      assert.ok(failures.every((e) => e instanceof ProviderError && e.retryable));
      assert.equal(payment.breakerState(), BREAKER_STATE.open);
      await assert.rejects(payment.charge(chargeOf(randomUUID())), CircuitOpenError);
    } finally {
      payment.close();
      await sandbox.stop();
    }
  });
});

describe('shipping adapter against the sandbox', () => {
  const shipmentOf = (orderId: string) => ({
    orderId,
    lines: [{ sku: 'SKU-1', quantity: 2 }],
    address,
    idempotencyKey: idempotencyKey(orderId, SAGA_STEP.shipment),
  });

  it('requests a shipment once per key, and cancels it before dispatch', async () => {
    await withShipping({ webhookDelayMs: 60_000 }, async (shipping, sandbox) => {
      const orderId = randomUUID();
      const accepted = await shipping.createShipment(shipmentOf(orderId));
      assert.equal(accepted.status, 'accepted');
      assert.deepEqual(await shipping.createShipment(shipmentOf(orderId)), accepted);
      const { shipmentId, carrier } = accepted as { shipmentId: string; carrier: string };
      assert.equal(carrier, 'sandbox-post');
      const key = idempotencyKey(orderId, SAGA_STEP.cancelShipment);
      assert.deepEqual(await shipping.cancelShipment({ shipmentId, idempotencyKey: key }), {
        status: 'cancelled',
      });
      assert.deepEqual(await shipping.cancelShipment({ shipmentId, idempotencyKey: key }), {
        status: 'cancelled',
      });
      assert.equal(sandbox.ledger().orders[orderId]?.cancelled, 1);
    });
  });

  it('a shipment already dispatched is not cancellable: a result, not an exception', async () => {
    await withShipping({}, async (shipping, sandbox) => {
      const orderId = randomUUID();
      const { shipmentId } = (await shipping.createShipment(shipmentOf(orderId))) as { shipmentId: string };
      await sandbox.webhooksIdle();
      const outcome = await shipping.cancelShipment({ shipmentId, idempotencyKey: randomUUID() });
      assert.equal(outcome.status, 'not_cancellable');
      assert.match((outcome as { reason: string }).reason, /^already_dispatched/);
    });
  });

  it('cancelling a shipment the carrier does not know is a permanent error', async () => {
    await withShipping({}, async (shipping) => {
      await assert.rejects(
        shipping.cancelShipment({ shipmentId: 'shp_unknown', idempotencyKey: randomUUID() }),
        (error: unknown) => error instanceof ProviderError && !error.retryable && error.status === 404,
      );
    });
  });
});

describe('adapters: answers the sandbox does not give', () => {
  async function scripted(
    answers: ScriptedAnswer[],
    run: (payment: PaymentProvider, shipping: ShippingProvider) => Promise<void>,
  ) {
    const server = await startScriptedServer((_, index) => answers[index] ?? { status: 500 });
    const payment = createHttpPaymentProvider({ baseUrl: server.url, retry: FAST });
    const shipping = createHttpShippingProvider({ baseUrl: server.url, retry: FAST });
    try {
      await run(payment, shipping);
    } finally {
      payment.close();
      shipping.close();
      await server.close();
    }
  }

  it('a charge declined at once (402) is a decline result', async () => {
    await scripted(
      [{ status: 402, body: { paymentId: 'pay_9', reason: 'card declined', declineCode: 'do_not_honor' } }],
      async (payment) => {
        assert.deepEqual(await payment.charge(chargeOf('o-1')), {
          status: 'declined',
          paymentId: 'pay_9',
          reason: 'card declined',
          declineCode: 'do_not_honor',
        });
      },
    );
  });

  it('a key still in use (409 without a business code) is retried', async () => {
    await scripted(
      [
        { status: 409, body: { code: 'idempotency_key_in_use' } },
        { status: 201, body: { refundId: 're_1', status: 'succeeded' } },
      ],
      async (payment) => {
        assert.deepEqual(await payment.refund({ paymentId: 'p', amountMinor: 1, idempotencyKey: 'k' }), {
          status: 'refunded',
          refundId: 're_1',
        });
      },
    );
  });

  it('an undeliverable address is a refusal; a reused key is a permanent error', async () => {
    await scripted(
      [
        { status: 422, body: { code: 'undeliverable', message: 'no such street' } },
        { status: 422, body: { code: 'idempotency_key_reused' } },
      ],
      async (_, shipping) => {
        const request = { orderId: 'o', lines: [{ sku: 'A', quantity: 1 }], address, idempotencyKey: 'k' };
        assert.deepEqual(await shipping.createShipment(request), {
          status: 'refused',
          reason: 'undeliverable: no such street',
        });
        await assert.rejects(
          shipping.createShipment(request),
          (error: unknown) => error instanceof ProviderError && !error.retryable && error.status === 422,
        );
      },
    );
  });
});
