/**
 * The notifier function's handler: selected order events become signed webhook POSTs to the
 * configured subscribers (shops, partners). The body is the event's CloudEvents envelope in JSON;
 * `Conveyor-Signature` signs it (shared/webhooks, NOTIFIER_SIGNING_SECRET), `Idempotency-Key` is
 * the event id.
 *
 * Per-subscriber idempotency: a subscriber that answered 2xx is recorded (notification_deliveries),
 * so a redelivered event goes only to the subscribers still missing it. Any other answer, or none,
 * nacks the event: Pub/Sub redelivers with backoff and, after the subscription's last attempt,
 * dead-letters it (with the failures as its last error).
 */
import { z } from 'zod';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { EVENT_TYPE, parseEvent, type DomainEvent } from '#shared/contracts/events/index.ts';
import { DependencyError } from '#shared/errors.ts';
import type { PushPlumbing } from '#shared/functions/runtime.ts';
import { createPushHandler, type PushConsumer } from '#shared/messaging/consumer.ts';
import { notifiedSubscribers, recordNotification } from '#shared/store/notifications.ts';
import type { Pool } from '#shared/store/pool.ts';
import { SIGNATURE_HEADER, type WebhookSigner } from '#shared/webhooks/index.ts';

/** Events announced unless configured otherwise. */
export const DEFAULT_NOTIFIED_EVENTS: readonly string[] = [
  EVENT_TYPE.orderCompleted,
  EVENT_TYPE.orderCancelled,
  EVENT_TYPE.orderApprovalEscalated,
];

export const SubscriberSchema = z.object({
  /** Names the subscriber in the delivery record; keep it stable. */
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'expected a short lowercase name'),
  url: z.url({ protocol: /^https?$/ }),
  /** Only these event types; all notified ones when absent. */
  events: z.array(z.string().min(1)).optional(),
});
export type Subscriber = z.infer<typeof SubscriberSchema>;

export interface NotifierDeps {
  pool: Pool;
  subscribers: readonly Subscriber[];
  /** Event types announced. */
  events: readonly string[];
  signer: WebhookSigner;
  /** Per POST. Default 10 s (within the subscription's 60 s ack deadline, all subscribers at once). */
  timeoutMs?: number;
}

export function createNotifierConsumer(deps: NotifierDeps): PushConsumer<DomainEvent> {
  const notified = new Set(deps.events);
  const timeoutMs = deps.timeoutMs ?? 10_000;

  async function post(subscriber: Subscriber, event: DomainEvent, body: string): Promise<string | undefined> {
    try {
      const response = await fetch(subscriber.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'conveyor-notifier',
          'idempotency-key': event.id,
          [SIGNATURE_HEADER]: deps.signer.sign(body),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) return `${subscriber.id} answered ${response.status}`;
      await recordNotification(deps.pool, event.id, subscriber.id, response.status);
      return undefined;
    } catch (error) {
      return `${subscriber.id}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  return {
    name: FUNCTION.notifier,
    parse: (message) => parseEvent(message.json),
    handle: async (event, context) => {
      if (!notified.has(event.type)) return;
      const targets = deps.subscribers.filter((s) => !s.events || s.events.includes(event.type));
      if (targets.length === 0) return;
      const done = await notifiedSubscribers(
        deps.pool,
        event.id,
        targets.map((s) => s.id),
      );
      const body = JSON.stringify(event);
      const failures = (
        await Promise.all(targets.filter((s) => !done.has(s.id)).map((s) => post(s, event, body)))
      ).filter((failure) => failure !== undefined);
      if (failures.length > 0) {
        context.logger.warn({ failures }, 'notification not accepted by every subscriber');
        throw new DependencyError('subscribers', failures.join('; '));
      }
    },
  };
}

export function createNotifierHandler(deps: NotifierDeps & { push: PushPlumbing }) {
  return createPushHandler(createNotifierConsumer(deps), deps.push);
}
