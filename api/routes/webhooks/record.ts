/**
 * What a verified provider webhook does to its order, once per provider event id: in one
 * transaction, claim the event id (webhook_events), run the order command it means through the
 * order's decide (events, projection and outbox together), and settle the claim. A duplicate finds
 * the claim taken and changes nothing. A fact about a step the order has not recorded yet
 * (ConcurrencyError) rolls everything back, claim included, so the provider's redelivery is
 * processed afresh later.
 *
 * One case the order's decide cannot take: the provider reports a charge (or a parcel) the order
 * never recorded, and the order is cancelled. That happens when the saga crashed after the
 * provider accepted its call and before it committed, and the cancellation finished meanwhile; no
 * step of the saga will ever look at that effect again. It is kept in unrecorded_effects, which
 * functions/timeouts compensates (refund; cancel, or hand to an operator).
 */
import type { DomainEvent } from '#shared/contracts/events/index.ts';
import { ORDER_STATUS, type OrderState } from '#shared/domain/order/index.ts';
import { ConcurrencyError, InvalidTransitionError } from '#shared/errors.ts';
import { executeOrderCommand, type CommandMeta, type OrderCommandDeps } from '#shared/orders/execute.ts';
import type { WebhookCommand } from '#shared/providers/webhooks.ts';
import { AppendConflictError } from '#shared/store/event-store.ts';
import { loadOrderState } from '#shared/store/orders.ts';
import type { Pool, PoolClient } from '#shared/store/pool.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { recordUnrecordedEffect } from '#shared/store/unrecorded-effects.ts';
import {
  claimWebhookEvent,
  settleWebhookEvent,
  type WebhookOutcome,
  type WebhookProvider,
} from '#shared/store/webhook-events.ts';

export interface WebhookFact extends WebhookCommand {
  provider: WebhookProvider;
  /** The provider's event type (payment.succeeded, shipment.dispatched, …). */
  type: string;
  /** What the provider says it did, for an effect the order never recorded. */
  effect?: { reference: string; kind: 'charge' | 'shipment'; amountMinor?: number; currency?: string };
}

export interface WebhookResult {
  /** duplicate: this provider event id was processed before. */
  outcome: WebhookOutcome | 'duplicate';
  events: DomainEvent[];
}

/** Attempts when another writer appends to the order between our read and our write. */
const MAX_ATTEMPTS = 3;

export async function recordWebhook(
  pool: Pool,
  commands: OrderCommandDeps,
  fact: WebhookFact,
  meta: CommandMeta,
): Promise<WebhookResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTransaction(pool, (client) => recordOnce(client, commands, fact, meta));
    } catch (error) {
      if (!(error instanceof AppendConflictError) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

async function recordOnce(
  client: PoolClient,
  commands: OrderCommandDeps,
  fact: WebhookFact,
  meta: CommandMeta,
): Promise<WebhookResult> {
  const claimed = await claimWebhookEvent(client, {
    provider: fact.provider,
    eventId: fact.providerEventId,
    type: fact.type,
    orderId: fact.orderId,
  });
  if (!claimed) return { outcome: 'duplicate', events: [] };
  let outcome: WebhookOutcome;
  let events: DomainEvent[] = [];
  try {
    const result = await executeOrderCommand(
      // Inside this transaction: one attempt (a failed statement aborts it), and the relay is
      // woken by the caller after the commit, not before.
      { ...commands, db: client, maxAttempts: 1, onAppended: undefined },
      fact.orderId,
      fact.command,
      meta,
    );
    events = result.events;
    outcome = events.length > 0 ? 'recorded' : 'unchanged';
  } catch (error) {
    // Not yet recorded (ConcurrencyError), or another payment or parcel than the one recorded.
    const unknownToOrder = error instanceof ConcurrencyError || error instanceof InvalidTransitionError;
    if (!unknownToOrder || error instanceof AppendConflictError || !fact.effect) throw error;
    const state = await loadOrderState(client, fact.orderId);
    if (!state || !neverRecorded(state, fact)) throw error;
    outcome = 'ignored';
    if (fact.command.type !== 'RecordPaymentFailed' && fact.command.type !== 'RecordShipmentFailed') {
      await recordUnrecordedEffect(client, {
        provider: fact.provider,
        reference: fact.effect.reference,
        kind: fact.effect.kind,
        orderId: fact.orderId,
        ...(fact.effect.amountMinor === undefined ? {} : { amountMinor: fact.effect.amountMinor }),
        ...(fact.effect.currency ? { currency: fact.effect.currency } : {}),
      });
      outcome = 'unrecorded_effect';
    }
  }
  await settleWebhookEvent(client, fact.provider, fact.providerEventId, outcome);
  return { outcome, events };
}

/** The order is cancelled and does not know this payment or shipment: nothing will ever record it. */
function neverRecorded(state: OrderState, fact: WebhookFact): boolean {
  if (state.status !== ORDER_STATUS.cancelled || !fact.effect) return false;
  const recorded = fact.effect.kind === 'charge' ? state.payment?.paymentId : state.shipment?.shipmentId;
  return recorded !== fact.effect.reference;
}
