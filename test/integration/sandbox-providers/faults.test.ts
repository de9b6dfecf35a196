import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  NO_FAULTS,
  startPaymentSandbox,
  type Faults,
  type PaymentSandbox,
} from '../../../local/sandbox-providers/index.ts';
import { PaymentWebhookSchema } from '#shared/providers/webhooks.ts';
import { startWebhookReceiver } from './helpers.ts';

const SECRET = 'whsec_faults_test';

async function withPayment(
  faults: Partial<Faults>,
  run: (sandbox: PaymentSandbox, receiver: Awaited<ReturnType<typeof startWebhookReceiver>>) => Promise<void>,
): Promise<void> {
  const receiver = await startWebhookReceiver({ secrets: [SECRET] });
  const sandbox = await startPaymentSandbox({ webhookUrl: receiver.url, webhookSecret: SECRET, faults });
  try {
    await run(sandbox, receiver);
  } finally {
    await sandbox.stop();
    await receiver.close();
  }
}

async function charge(sandbox: PaymentSandbox, orderId: string, key = `${orderId}:charge`) {
  const response = await fetch(`${sandbox.url}/v1/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ orderId, amountMinor: 1000, currency: 'EUR' }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('sandbox faults', () => {
  it('inject nothing by default', async () => {
    await withPayment({}, async (sandbox, receiver) => {
      for (let i = 0; i < 20; i++) assert.equal((await charge(sandbox, randomUUID())).status, 201);
      await sandbox.webhooksIdle();
      assert.equal(receiver.deliveries.length, 20);
      assert.ok(receiver.deliveries.every((d) => d.event.type === 'payment.succeeded'));
    });
  });

  it('declineRate: the charge is accepted, then reported declined with a reason', async () => {
    await withPayment({ declineRate: 1 }, async (sandbox, receiver) => {
      const orderId = randomUUID();
      assert.equal((await charge(sandbox, orderId)).status, 201);
      await sandbox.webhooksIdle();
      const webhook = PaymentWebhookSchema.parse(receiver.deliveries[0]?.event);
      assert.equal(webhook.type, 'payment.failed');
      assert.ok(webhook.type === 'payment.failed' && webhook.data.declineCode);
      assert.equal(sandbox.ledger().orders[orderId]?.chargedMinor, 0);
    });
  });

  it('errorRate: 5xx answers, some after the charge was made; the same key never charges twice', async () => {
    await withPayment({ errorRate: 1 }, async (sandbox) => {
      const orders = Array.from({ length: 12 }, () => randomUUID());
      for (const orderId of orders) {
        const { status, body } = await charge(sandbox, orderId);
        assert.ok([500, 502, 503].includes(status), `status ${status}`);
        assert.equal(body.code, 'sandbox_fault');
      }
      const made = Object.keys(sandbox.ledger().orders);
      assert.ok(
        made.length > 0 && made.length < orders.length,
        `${made.length} of 12 took effect before failing`,
      );

      sandbox.configure({ errorRate: 0 });
      for (const orderId of orders) {
        const retried = await charge(sandbox, orderId);
        // Made before the fault: the stored answer (200); not made: made now (201).
        assert.equal(retried.status, made.includes(orderId) ? 200 : 201);
      }
      await sandbox.webhooksIdle();
      for (const orderId of orders) assert.equal(sandbox.ledger().orders[orderId]?.charges.length, 1);
    });
  });

  it('timeoutRate: the call is never answered; the connection drops after hangMs', async () => {
    await withPayment({ timeoutRate: 1, hangMs: 100 }, async (sandbox) => {
      const started = performance.now();
      await assert.rejects(charge(sandbox, randomUUID()), /fetch failed/);
      assert.ok(performance.now() - started >= 90, 'hung for hangMs');
    });
  });

  it('latencyMs: every answer waits at least that long', async () => {
    await withPayment({ latencyMs: 120 }, async (sandbox) => {
      const started = performance.now();
      assert.equal((await charge(sandbox, randomUUID())).status, 201);
      assert.ok(performance.now() - started >= 110);
    });
  });

  it('webhookDelayMs: the outcome is reported no sooner than the delay', async () => {
    await withPayment({ webhookDelayMs: 150 }, async (sandbox, receiver) => {
      const started = performance.now();
      await charge(sandbox, randomUUID());
      await sandbox.webhooksIdle();
      assert.ok(receiver.deliveries[0]!.at - started >= 140);
    });
  });

  it('duplicateRate: each event is delivered twice with the same provider event id', async () => {
    await withPayment({ duplicateRate: 1 }, async (sandbox, receiver) => {
      await charge(sandbox, randomUUID());
      await charge(sandbox, randomUUID());
      await sandbox.webhooksIdle();
      const ids = receiver.deliveries.map((d) => d.event.id);
      assert.equal(ids.length, 4);
      assert.equal(new Set(ids).size, 2);
      assert.ok(receiver.deliveries.every((d) => d.verified));
    });
  });

  it('the same seed gives the same faults for the same calls; configure reseeds', async () => {
    const outcomes = async (seed: number) => {
      let seen: string[] = [];
      await withPayment({ seed, declineRate: 0.5 }, async (sandbox, receiver) => {
        for (let i = 0; i < 16; i++) await charge(sandbox, `order-${i}`);
        await sandbox.webhooksIdle();
        seen = receiver.deliveries
          .map((d) => `${String(d.event.data.orderId)}:${d.event.type}`)
          .sort((a, b) => a.localeCompare(b));
      });
      return seen;
    };
    const first = await outcomes(7);
    assert.deepEqual(await outcomes(7), first);
    assert.ok(first.some((o) => o.endsWith('succeeded')) && first.some((o) => o.endsWith('failed')));
    assert.notDeepEqual(await outcomes(8), first);
  });

  it('configure refuses values out of range', async () => {
    await withPayment({}, (sandbox) => {
      assert.throws(() => sandbox.configure({ errorRate: 1.5 }), /errorRate/);
      assert.throws(() => sandbox.configure({ hangMs: -1 }), /hangMs/);
      return Promise.resolve();
    });
    assert.equal(NO_FAULTS.errorRate, 0);
  });
});
