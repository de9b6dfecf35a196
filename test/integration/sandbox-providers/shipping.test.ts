import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  SANDBOX_CARRIER,
  startShippingSandbox,
  type Faults,
  type ShippingSandbox,
} from '../../../local/sandbox-providers/index.ts';
import { shippingWebhookCommand, ShippingWebhookSchema } from '#shared/providers/webhooks.ts';
import { startWebhookReceiver } from './helpers.ts';

const SECRET = 'whsec_shipping_test';
const address = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
};

async function post(base: string, path: string, body: unknown, key?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A sandbox sending to a fresh receiver; both stopped after `run`. */
async function withShipping(
  faults: Partial<Faults>,
  run: (
    sandbox: ShippingSandbox,
    receiver: Awaited<ReturnType<typeof startWebhookReceiver>>,
  ) => Promise<void>,
): Promise<void> {
  const receiver = await startWebhookReceiver({ secrets: [SECRET] });
  const sandbox = await startShippingSandbox({ webhookUrl: receiver.url, webhookSecret: SECRET, faults });
  try {
    await run(sandbox, receiver);
  } finally {
    await sandbox.stop();
    await receiver.close();
  }
}

const shipment = (orderId: string) => ({ orderId, lines: [{ sku: 'SKU-1', quantity: 2 }], address });

describe('shipping sandbox', () => {
  it("echoes the shipment request's traceparent on every webhook of that parcel", async () => {
    await withShipping({}, async (sandbox, receiver) => {
      const orderId = randomUUID();
      const traceparent = `00-${'12'.repeat(16)}-${'34'.repeat(8)}-01`;
      const answer = await fetch(`${sandbox.url}/v1/shipments`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `${orderId}:shipment`,
          traceparent,
        },
        body: JSON.stringify(shipment(orderId)),
      });
      assert.equal(answer.status, 201);
      await sandbox.webhooksIdle();
      assert.deepEqual(
        receiver.deliveries.map((d) => [d.event.type, d.headers.traceparent]),
        [
          ['shipment.dispatched', traceparent],
          ['shipment.delivered', traceparent],
        ],
      );
    });
  });

  it('accepts a shipment as pending; dispatched then delivered arrive as signed webhooks', async () => {
    await withShipping({}, async (sandbox, receiver) => {
      const orderId = randomUUID();
      const answer = await post(sandbox.url, '/v1/shipments', shipment(orderId), `${orderId}:shipment`);
      assert.equal(answer.status, 201);
      assert.deepEqual(
        { status: answer.body.status, carrier: answer.body.carrier },
        { status: 'pending', carrier: SANDBOX_CARRIER },
      );
      await sandbox.webhooksIdle();
      const events = receiver.deliveries.map((d) => {
        assert.ok(d.verified, d.verifyError);
        return ShippingWebhookSchema.parse(d.event);
      });
      assert.deepEqual(
        events.map((e) => e.type),
        ['shipment.dispatched', 'shipment.delivered'],
      );
      assert.notEqual(events[0]!.id, events[1]!.id);
      const [dispatched, delivered] = events.map(shippingWebhookCommand);
      assert.deepEqual(dispatched?.command, {
        type: 'RecordShipmentDispatched',
        shipmentId: answer.body.shipmentId,
        carrier: SANDBOX_CARRIER,
        trackingNumber: (events[0]!.data as { trackingNumber: string }).trackingNumber,
        providerEventId: events[0]!.id,
      });
      assert.equal(delivered?.command.type, 'RecordShipmentDelivered');
      assert.equal(delivered?.orderId, orderId);
      const order = sandbox.ledger().orders[orderId]!;
      assert.deepEqual(
        { shipped: order.shipped, delivered: order.delivered, cancelled: order.cancelled },
        { shipped: 1, delivered: 1, cancelled: 0 },
      );
      assert.deepEqual(order.shipments[0]?.lines, [{ sku: 'SKU-1', quantity: 2 }]);
    });
  });

  it('the same key and body is the same shipment; another body is refused', async () => {
    await withShipping({}, async (sandbox) => {
      const orderId = randomUUID();
      const key = `${orderId}:shipment`;
      const first = await post(sandbox.url, '/v1/shipments', shipment(orderId), key);
      const again = await post(sandbox.url, '/v1/shipments', shipment(orderId), key);
      assert.equal(again.status, 200);
      assert.equal(again.body.shipmentId, first.body.shipmentId);
      const other = await post(
        sandbox.url,
        '/v1/shipments',
        { ...shipment(orderId), lines: [{ sku: 'X', quantity: 1 }] },
        key,
      );
      assert.equal(other.status, 422);
      assert.equal(sandbox.ledger().totals.shipments, 1);
      const missing = await post(sandbox.url, '/v1/shipments', shipment(orderId));
      assert.equal(missing.status, 400);
    });
  });

  it('cancels a shipment not yet dispatched, once, and sends nothing for it', async () => {
    await withShipping({ webhookDelayMs: 60_000 }, async (sandbox, receiver) => {
      const orderId = randomUUID();
      const { body } = await post(sandbox.url, '/v1/shipments', shipment(orderId), randomUUID());
      const path = `/v1/shipments/${String(body.shipmentId)}/cancel`;
      const cancelled = await post(sandbox.url, path, {}, `${orderId}:cancel-shipment`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.status, 'cancelled');
      const again = await post(sandbox.url, path, {});
      assert.equal(again.status, 200);
      assert.equal(sandbox.ledger().orders[orderId]?.cancelled, 1);
      assert.equal(receiver.deliveries.length, 0);
      assert.equal((await post(sandbox.url, '/v1/shipments/shp_none/cancel', {})).status, 404);
    });
  });

  it('refuses to cancel a dispatched shipment', async () => {
    await withShipping({}, async (sandbox) => {
      const orderId = randomUUID();
      const { body } = await post(sandbox.url, '/v1/shipments', shipment(orderId), randomUUID());
      await sandbox.webhooksIdle();
      const refused = await post(sandbox.url, `/v1/shipments/${String(body.shipmentId)}/cancel`, {});
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'already_dispatched');
      assert.equal(sandbox.ledger().orders[orderId]?.shipped, 1);
    });
  });
});

describe('shipping sandbox: faults', () => {
  it('shipmentFailureRate: the shipment fails instead of leaving, and cannot be cancelled', async () => {
    await withShipping({ shipmentFailureRate: 1 }, async (sandbox, receiver) => {
      const orderId = randomUUID();
      const { body } = await post(sandbox.url, '/v1/shipments', shipment(orderId), randomUUID());
      await sandbox.webhooksIdle();
      const events = receiver.deliveries.map((d) => ShippingWebhookSchema.parse(d.event));
      assert.deepEqual(
        events.map((e) => e.type),
        ['shipment.failed'],
      );
      assert.equal(shippingWebhookCommand(events[0]!).command.type, 'RecordShipmentFailed');
      const refused = await post(sandbox.url, `/v1/shipments/${String(body.shipmentId)}/cancel`, {});
      assert.equal(refused.body.code, 'already_failed');
      assert.equal(sandbox.ledger().orders[orderId]?.failed, 1);
    });
  });

  it('reorderRate: delivered arrives before dispatched', async () => {
    await withShipping({ reorderRate: 1 }, async (sandbox, receiver) => {
      await post(sandbox.url, '/v1/shipments', shipment(randomUUID()), randomUUID());
      await sandbox.webhooksIdle();
      assert.deepEqual(
        receiver.deliveries.map((d) => d.event.type),
        ['shipment.delivered', 'shipment.dispatched'],
      );
    });
  });

  it('webhookDelayMs: each stage waits at least the delay', async () => {
    await withShipping({ webhookDelayMs: 150 }, async (sandbox, receiver) => {
      const sent = performance.now();
      await post(sandbox.url, '/v1/shipments', shipment(randomUUID()), randomUUID());
      await sandbox.webhooksIdle();
      const [dispatched, delivered] = receiver.deliveries;
      assert.ok(dispatched!.at - sent >= 140, `dispatched after ${dispatched!.at - sent} ms`);
      assert.ok(
        delivered!.at - dispatched!.at >= 140,
        `delivered ${delivered!.at - dispatched!.at} ms later`,
      );
    });
  });
});
