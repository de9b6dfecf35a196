/** The audit log: every operator action (who, what, on which thing), written with the action itself. */
import type { Queryable } from './pool.ts';

export interface AuditEntry {
  /** The operator: their API key's name. */
  actor: string;
  /** What was done, `<resource>.<verb>`: dead_letter.redrive, dead_letter.discard, … */
  action: string;
  targetType: string;
  targetId: string;
  details?: Record<string, unknown>;
}

export async function appendAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5)`,
    [entry.actor, entry.action, entry.targetType, entry.targetId, JSON.stringify(entry.details ?? {})],
  );
}

export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  at: Date;
}

/** The audit entries of one thing, oldest first. */
export async function auditOf(db: Queryable, targetType: string, targetId: string): Promise<AuditRecord[]> {
  const { rows } = await db.query<{
    id: string;
    at: Date;
    actor: string;
    action: string;
    target_type: string;
    target_id: string;
    details: Record<string, unknown>;
  }>(
    `SELECT id, at, actor, action, target_type, target_id, details FROM audit_log
      WHERE target_type = $1 AND target_id = $2 ORDER BY at, id`,
    [targetType, targetId],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    details: row.details,
  }));
}
