/** The saga's policy, passed in by the composition root (never read from the environment here). */
import { ValidationError, type ValidationIssue } from '#shared/errors.ts';

export interface SagaConfig {
  /** Orders whose total is above this (in the order's minor unit) wait for an operator's approval. */
  readonly approvalThresholdMinor: number;
  /** No decision this long after the request: escalate to a second approver. */
  readonly approvalEscalateAfterMs: number;
  /** No decision this long after the request: cancel the order. Longer than the escalation. */
  readonly approvalExpireAfterMs: number;
}

/** Checks and freezes a saga config; throws ValidationError naming every bad field. */
export function createSagaConfig(config: SagaConfig): SagaConfig {
  const issues: ValidationIssue[] = [];
  for (const key of ['approvalThresholdMinor', 'approvalEscalateAfterMs', 'approvalExpireAfterMs'] as const) {
    if (!Number.isSafeInteger(config[key]) || config[key] < 0) {
      issues.push({ path: key, message: 'expected a whole number ≥ 0' });
    }
  }
  if (issues.length === 0 && config.approvalExpireAfterMs <= config.approvalEscalateAfterMs) {
    issues.push({ path: 'approvalExpireAfterMs', message: 'must be later than the escalation' });
  }
  if (issues.length > 0) throw new ValidationError('invalid saga config', issues);
  return Object.freeze({
    approvalThresholdMinor: config.approvalThresholdMinor,
    approvalEscalateAfterMs: config.approvalEscalateAfterMs,
    approvalExpireAfterMs: config.approvalExpireAfterMs,
  });
}
