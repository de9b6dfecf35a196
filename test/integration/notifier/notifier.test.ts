import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPE, type DomainEvent } from '#shared/contracts/events/index.ts';
import { lastFailure } from '#shared/store/consumer-records.ts';
import { SIGNATURE_HEADER, verifySignature } from '#shared/webhooks/index.ts';
import { startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.ts';

/** Selected order events → signed webhooks to subscribers, once per subscriber, retried by Pub/Sub. */
describe('notifier: signed notifications, once per subscriber, retried until accepted', () => {
  let stack: Stack;
  let shop: WebhookReceiver;
  let auditor: WebhookReceiver;
  let flaky: WebhookReceiver;
  /** Events flaky refuses this many more times. */
  const refusals = new Map<string, number>();

  before(async () => {
    [shop, auditor, flaky] = await Promise.all([
      startWebhookReceiver(),
      startWebhookReceiver(),
      startWebhookReceiver(),
    ]);
    flaky.answer = ({ raw }) => {
      const id = (JSON.parse(raw) as DomainEvent).id;
      const left = refusals.get(id) ?? 2;
      refusals.set(id, left - 1);
      return left > 0 ? 503 : 200;
    };
    stack = await startStack({
      functions: ['saga', 'notifier', 'dead-letter'],
      notifier: {
        subscribers: [
          { id: 'shop', url: `${shop.url}/conveyor` },
          { id: 'auditor', url: auditor.url, events: [EVENT_TYPE.orderCancelled] },
          { id: 'flaky', url: flaky.url },
        ],
      },
    });
  });
  after(async () => {
    await stack.stop();
    await Promise.all([shop.close(), auditor.close(), flaky.close()]);
  });

  const about = (receiver: WebhookReceiver, orderId: string) =>
    receiver.received.filter((request) => (JSON.parse(request.raw) as DomainEvent).subject === orderId);

  it('order.completed goes to the subscribers of it, signed with the notifier secret; others are not sent', async () => {
    const sku = await stack.addProduct();
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    await stack.waitForOrder(orderId, 'completed');
    const [notification] = await waitUntil(
      () => (about(shop, orderId).length > 0 ? about(shop, orderId) : undefined),
      { what: 'the notification' },
    );
    const event = JSON.parse(notification!.raw) as DomainEvent;
    assert.equal(event.type, EVENT_TYPE.orderCompleted);
    assert.equal(notification!.path, `/conveyor`);
    assert.equal(notification!.headers['idempotency-key'], event.id);
    assert.equal(notification!.headers['content-type'], 'application/json');
    verifySignature({
      header: notification!.headers[SIGNATURE_HEADER.toLowerCase()] as string,
      rawBody: notification!.raw,
      secrets: [stack.webhookSecrets.notifier],
      now: Date.now(),
    });
    // Only the selected events: nothing else of this order's history was announced.
    assert.deepEqual(
      about(shop, orderId).map((request) => (JSON.parse(request.raw) as DomainEvent).type),
      [EVENT_TYPE.orderCompleted],
    );
    assert.equal(about(auditor, orderId).length, 0, 'the auditor only wants cancellations');
  });

  it('a subscriber that refuses is retried by redelivery; the others are not sent it again', async () => {
    const sku = await stack.addProduct({ stock: 0 });
    const orderId = await stack.placeOrder([{ sku, quantity: 1 }]);
    await stack.waitForOrder(orderId, 'cancelled');
    const accepted = await waitUntil(() => about(flaky, orderId).find((request) => request.status === 200), {
      timeoutMs: 30_000,
      what: 'flaky to accept after two refusals',
    });
    const event = JSON.parse(accepted.raw) as DomainEvent;
    assert.equal(event.type, EVENT_TYPE.orderCancelled);
    assert.deepEqual(
      about(flaky, orderId).map((request) => request.status),
      [503, 503, 200],
    );
    // Pub/Sub redelivered it twice; shop and auditor had it the first time and got it only then.
    assert.equal(about(shop, orderId).length, 1);
    assert.equal(about(auditor, orderId).length, 1);
    const failure = await lastFailure(stack.pool, 'notifier', event.id);
    assert.equal(failure?.attempts, 2);
    assert.match(failure?.lastError ?? '', /flaky answered 503/);
  });
});
