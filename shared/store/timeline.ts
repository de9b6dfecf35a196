/**
 * What Postgres knows about one order's progress besides its events: which consumer processed
 * which of its events and when (processed_messages), the failures they hit (message_failures),
 * the provider webhooks received for it (webhook_events) and its dead letters. Read for the
 * operations console's timeline; every query is by the order's own keys.
 */
import { FUNCTION, SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import type { Queryable } from './pool.ts';

/**
 * Both tables are keyed (consumer, event id), the consumer being a function (processed) or a
 * subscription (failures): naming every one lets the key's index answer.
 */
const CONSUMERS: readonly string[] = [
  ...new Set([...Object.values(FUNCTION), ...SUBSCRIPTIONS.map((spec) => spec.name)]),
];

export interface Delivery {
  consumer: string;
  eventId: string;
  processedAt: string;
}

export interface DeliveryFailure {
  consumer: string;
  eventId: string;
  attempts: number;
  lastError: string;
  firstFailedAt: string;
  lastFailedAt: string;
}

export interface ReceivedWebhook {
  provider: string;
  eventId: string;
  type: string;
  outcome: string;
  receivedAt: string;
}

export interface OrderDeadLetter {
  id: string;
  status: string;
  sourceSubscription: string;
  eventId: string | undefined;
  eventType: string | undefined;
  attempts: number;
  lastError: string | undefined;
  deadLetteredAt: string;
}

export interface OrderActivity {
  deliveries: Delivery[];
  failures: DeliveryFailure[];
  webhooks: ReceivedWebhook[];
  deadLetters: OrderDeadLetter[];
}

/** The activity around order `orderId`, whose events have the ids `eventIds`. */
export async function readOrderActivity(
  db: Queryable,
  orderId: string,
  eventIds: readonly string[],
): Promise<OrderActivity> {
  const [deliveries, failures, webhooks, deadLetters] = await Promise.all([
    db.query<{ consumer: string; event_id: string; processed_at: Date }>(
      `SELECT consumer, event_id, processed_at FROM processed_messages
        WHERE consumer = ANY($2::text[]) AND event_id = ANY($1::text[]) ORDER BY processed_at`,
      [eventIds, CONSUMERS],
    ),
    db.query<{
      consumer: string;
      event_id: string;
      attempts: number;
      last_error: string;
      first_failed_at: Date;
      last_failed_at: Date;
    }>(
      `SELECT consumer, event_id, attempts, last_error, first_failed_at, last_failed_at FROM message_failures
        WHERE consumer = ANY($2::text[]) AND event_id = ANY($1::text[]) ORDER BY first_failed_at`,
      [eventIds, CONSUMERS],
    ),
    db.query<{ provider: string; event_id: string; type: string; outcome: string; received_at: Date }>(
      `SELECT provider, event_id, type, outcome, received_at FROM webhook_events
        WHERE order_id = $1 ORDER BY received_at`,
      [orderId],
    ),
    db.query<{
      id: string;
      status: string;
      source_subscription: string;
      event_id: string | null;
      event_type: string | null;
      attempts: number;
      last_error: string | null;
      dead_lettered_at: Date;
    }>(
      `SELECT id, status, source_subscription, event_id, event_type, attempts, last_error, dead_lettered_at
         FROM dead_letters WHERE order_id = $1 ORDER BY dead_lettered_at`,
      [orderId],
    ),
  ]);
  return {
    deliveries: deliveries.rows.map((row) => ({
      consumer: row.consumer,
      eventId: row.event_id,
      processedAt: row.processed_at.toISOString(),
    })),
    failures: failures.rows.map((row) => ({
      consumer: row.consumer,
      eventId: row.event_id,
      attempts: row.attempts,
      lastError: row.last_error,
      firstFailedAt: row.first_failed_at.toISOString(),
      lastFailedAt: row.last_failed_at.toISOString(),
    })),
    webhooks: webhooks.rows.map((row) => ({
      provider: row.provider,
      eventId: row.event_id,
      type: row.type,
      outcome: row.outcome,
      receivedAt: row.received_at.toISOString(),
    })),
    deadLetters: deadLetters.rows.map((row) => ({
      id: row.id,
      status: row.status,
      sourceSubscription: row.source_subscription,
      eventId: row.event_id ?? undefined,
      eventType: row.event_type ?? undefined,
      attempts: row.attempts,
      lastError: row.last_error ?? undefined,
      deadLetteredAt: row.dead_lettered_at.toISOString(),
    })),
  };
}
