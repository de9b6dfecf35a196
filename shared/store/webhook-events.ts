/**
 * Provider webhook events processed, by the provider's event id. `claimWebhookEvent` inside the
 * transaction that records what the event caused: a duplicate delivered at the same time waits on
 * the unique key and then finds it taken; one delivered after a rollback is processed afresh.
 */
import type { Queryable } from './pool.ts';

export type WebhookProvider = 'payment' | 'shipping';

/** What processing a webhook event did. */
export type WebhookOutcome = 'recorded' | 'unchanged' | 'unrecorded_effect' | 'ignored';

/** Takes `eventId` of `provider` for this transaction; false when it was processed already. */
export async function claimWebhookEvent(
  db: Queryable,
  event: { provider: WebhookProvider; eventId: string; type: string; orderId: string | undefined },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO webhook_events (provider, event_id, type, order_id, outcome) VALUES ($1, $2, $3, $4, 'ignored')
     ON CONFLICT DO NOTHING`,
    [event.provider, event.eventId, event.type, event.orderId ?? null],
  );
  return rowCount === 1;
}

export async function settleWebhookEvent(
  db: Queryable,
  provider: WebhookProvider,
  eventId: string,
  outcome: WebhookOutcome,
): Promise<void> {
  await db.query(`UPDATE webhook_events SET outcome = $3 WHERE provider = $1 AND event_id = $2`, [
    provider,
    eventId,
    outcome,
  ]);
}

export async function webhookEventOutcome(
  db: Queryable,
  provider: WebhookProvider,
  eventId: string,
): Promise<WebhookOutcome | undefined> {
  const { rows } = await db.query<{ outcome: WebhookOutcome }>(
    `SELECT outcome FROM webhook_events WHERE provider = $1 AND event_id = $2`,
    [provider, eventId],
  );
  return rows[0]?.outcome;
}
