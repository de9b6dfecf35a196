/** Orders waiting for an operator's approval whose deadlines have passed, for the timeouts function. */
import type { Queryable } from './pool.ts';

/**
 * Ids of orders awaiting approval at `now` whose escalation (not yet escalated) or expiry is due,
 * oldest first. Deadlines live in the projection's state JSON (written by the domain's evolve).
 */
export async function approvalsDue(db: Queryable, now: Date, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM orders
      WHERE status = 'awaiting_approval'
        AND ((state #>> '{approval,expiresAt}')::timestamptz <= $1
             OR (coalesce((state #>> '{approval,escalated}')::boolean, false) = false
                 AND (state #>> '{approval,escalateAt}')::timestamptz <= $1))
      ORDER BY created_at LIMIT $2`,
    [now.toISOString(), limit],
  );
  return rows.map((row) => row.id);
}
