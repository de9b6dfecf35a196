/**
 * Provider effects their order never recorded (see migration 0201): a charge accepted while the
 * saga crashed before committing, on an order cancelled meanwhile. The payment webhook records
 * one; the timeouts function compensates it.
 */
import type { Queryable } from './pool.ts';

export interface UnrecordedEffect {
  provider: 'payment' | 'shipping';
  reference: string;
  kind: 'charge' | 'shipment';
  orderId: string;
  amountMinor: number | undefined;
  currency: string | undefined;
  status: 'open' | 'compensated' | 'failed';
  attempts: number;
  detail: string | undefined;
}

/** Records an effect once (by provider and reference); false when it was known already. */
export async function recordUnrecordedEffect(
  db: Queryable,
  effect: Pick<UnrecordedEffect, 'provider' | 'reference' | 'kind' | 'orderId'> & {
    amountMinor?: number;
    currency?: string;
  },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO unrecorded_effects (provider, reference, kind, order_id, amount_minor, currency)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [
      effect.provider,
      effect.reference,
      effect.kind,
      effect.orderId,
      effect.amountMinor ?? null,
      effect.currency ?? null,
    ],
  );
  return rowCount === 1;
}

interface Row {
  provider: 'payment' | 'shipping';
  reference: string;
  kind: 'charge' | 'shipment';
  order_id: string;
  amount_minor: string | null;
  currency: string | null;
  status: 'open' | 'compensated' | 'failed';
  attempts: number;
  detail: string | null;
}

const effectOf = (row: Row): UnrecordedEffect => ({
  provider: row.provider,
  reference: row.reference,
  kind: row.kind,
  orderId: row.order_id,
  amountMinor: row.amount_minor === null ? undefined : Number(row.amount_minor),
  currency: row.currency ?? undefined,
  status: row.status,
  attempts: row.attempts,
  detail: row.detail ?? undefined,
});

/** Open effects, oldest first. */
export async function openUnrecordedEffects(db: Queryable, limit: number): Promise<UnrecordedEffect[]> {
  const { rows } = await db.query<Row>(
    `SELECT provider, reference, kind, order_id, amount_minor, currency, status, attempts, detail
       FROM unrecorded_effects WHERE status = 'open' ORDER BY created_at LIMIT $1`,
    [limit],
  );
  return rows.map(effectOf);
}

export async function unrecordedEffectsOf(db: Queryable, orderId: string): Promise<UnrecordedEffect[]> {
  const { rows } = await db.query<Row>(
    `SELECT provider, reference, kind, order_id, amount_minor, currency, status, attempts, detail
       FROM unrecorded_effects WHERE order_id = $1 ORDER BY created_at`,
    [orderId],
  );
  return rows.map(effectOf);
}

/** Records an attempt to compensate: done, failed for good, or still open (a transient failure). */
export async function settleUnrecordedEffect(
  db: Queryable,
  effect: Pick<UnrecordedEffect, 'provider' | 'reference'>,
  status: UnrecordedEffect['status'],
  detail: string,
): Promise<void> {
  await db.query(
    `UPDATE unrecorded_effects SET status = $3, detail = $4, attempts = attempts + 1, updated_at = now()
      WHERE provider = $1 AND reference = $2 AND status = 'open'`,
    [effect.provider, effect.reference, status, detail.slice(0, 1_000)],
  );
}
