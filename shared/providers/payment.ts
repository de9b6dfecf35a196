/**
 * The payment provider as the saga uses it, and its HTTP adapter. A charge is accepted at once and
 * its outcome reported later by signed webhook (payment.succeeded / payment.failed); a refund is
 * answered at once. Results are the saga's outcomes, so the saga function passes them straight to
 * `eventsForOutcome`.
 *
 * HTTP contract (the sandbox in local/sandbox-providers implements it):
 *   POST /v1/charges {orderId, amountMinor, currency} + Idempotency-Key
 *     → 201 (200 on a replay) {paymentId, status: 'pending'}; 402 {paymentId, reason, declineCode?}
 *   POST /v1/refunds {paymentId, amountMinor} + Idempotency-Key
 *     → 201 (200 on a replay) {refundId, status: 'succeeded'}; 404/409 {code, message} refused
 *   Same key with another body → 422; same key while the first call runs → 409 (retried).
 */
import { z } from 'zod';
import type { ChargePaymentOutcome, RefundPaymentOutcome } from '#shared/domain/saga/index.ts';
import { createProviderClient, type BreakerState, type ProviderClientOptions } from './http.ts';

export interface ChargeRequest {
  orderId: string;
  amountMinor: number;
  currency: string;
  idempotencyKey: string;
}

export interface RefundRequest {
  paymentId: string;
  amountMinor: number;
  idempotencyKey: string;
}

/** Throws ProviderError (retryable or not) when no answer was had; a decline is a result. */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargePaymentOutcome>;
  refund(request: RefundRequest): Promise<RefundPaymentOutcome>;
}

/** An adapter with its circuit exposed for metrics. */
export interface HttpPaymentProvider extends PaymentProvider {
  breakerState(): BreakerState;
  close(): void;
}

const Id = z.string().min(1).max(200);
const ChargeAnswerSchema = z.object({ paymentId: Id, status: z.enum(['pending', 'succeeded']) });
const DeclineSchema = z.object({
  paymentId: Id,
  reason: z.string().min(1),
  declineCode: z.string().optional(),
});
const RefundAnswerSchema = z.object({ refundId: Id, status: z.literal('succeeded') });
const ProblemSchema = z.object({ code: z.string(), message: z.string().optional() });

/** Refusals of a refund that no retry will change: the compensation failed. */
const REFUND_REFUSALS = new Set(['refund_exceeds_charge', 'charge_not_refundable', 'payment_not_found']);

export function createHttpPaymentProvider(
  options: Omit<ProviderClientOptions, 'name'> & { name?: string },
): HttpPaymentProvider {
  const client = createProviderClient({ name: 'payment', ...options });
  return {
    charge: (request) =>
      client.request<ChargePaymentOutcome>({
        method: 'POST',
        path: '/v1/charges',
        idempotencyKey: request.idempotencyKey,
        body: { orderId: request.orderId, amountMinor: request.amountMinor, currency: request.currency },
        read({ status, body }) {
          if (status === 200 || status === 201) {
            return { status: 'accepted', paymentId: ChargeAnswerSchema.parse(body).paymentId };
          }
          if (status === 402) {
            const { paymentId, reason, declineCode } = DeclineSchema.parse(body);
            return { status: 'declined', paymentId, reason, ...(declineCode ? { declineCode } : {}) };
          }
          return undefined;
        },
      }),
    refund: (request) =>
      client.request<RefundPaymentOutcome>({
        method: 'POST',
        path: '/v1/refunds',
        idempotencyKey: request.idempotencyKey,
        body: { paymentId: request.paymentId, amountMinor: request.amountMinor },
        read({ status, body }) {
          if (status === 200 || status === 201) {
            return { status: 'refunded', refundId: RefundAnswerSchema.parse(body).refundId };
          }
          const problem = ProblemSchema.safeParse(body);
          if (
            (status === 404 || status === 409) &&
            problem.success &&
            REFUND_REFUSALS.has(problem.data.code)
          ) {
            return { status: 'refused', reason: describeProblem(problem.data) };
          }
          return undefined;
        },
      }),
    breakerState: () => client.breakerState(),
    close: () => client.close(),
  };
}

export function describeProblem(problem: { code: string; message?: string | undefined }): string {
  return (problem.message ? `${problem.code}: ${problem.message}` : problem.code).slice(0, 500);
}
