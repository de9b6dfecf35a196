/**
 * The shipping provider as the saga uses it, and its HTTP adapter. A shipment is accepted at once;
 * dispatch, delivery or failure are reported later by signed webhook. Results are the saga's
 * outcomes, so the saga function passes them straight to `eventsForOutcome`.
 *
 * HTTP contract (the sandbox in local/sandbox-providers implements it):
 *   POST /v1/shipments {orderId, lines, address} + Idempotency-Key
 *     → 201 (200 on a replay) {shipmentId, status: 'pending', carrier}; 422 {code: 'undeliverable'}
 *   POST /v1/shipments/{id}/cancel + Idempotency-Key
 *     → 200 {shipmentId, status: 'cancelled'}; 409 {code: 'already_dispatched' | 'already_failed'}
 *   Same key with another body → 422 {code: 'idempotency_key_reused'} (a bug: not retried).
 */
import { z } from 'zod';
import type { Address, RequestedLine } from '#shared/contracts/values.ts';
import type { CancelShipmentOutcome, RequestShipmentOutcome } from '#shared/domain/saga/index.ts';
import { createProviderClient, type BreakerState, type ProviderClientOptions } from './http.ts';
import { describeProblem } from './payment.ts';

export interface ShipmentRequest {
  orderId: string;
  lines: RequestedLine[];
  address: Address;
  idempotencyKey: string;
}

export interface CancelShipmentRequest {
  shipmentId: string;
  idempotencyKey: string;
}

/** Throws ProviderError (retryable or not) when no answer was had; a refusal is a result. */
export interface ShippingProvider {
  createShipment(request: ShipmentRequest): Promise<RequestShipmentOutcome>;
  cancelShipment(request: CancelShipmentRequest): Promise<CancelShipmentOutcome>;
}

export interface HttpShippingProvider extends ShippingProvider {
  breakerState(): BreakerState;
  close(): void;
}

const Id = z.string().min(1).max(200);
const ShipmentAnswerSchema = z.object({
  shipmentId: Id,
  status: z.enum(['pending', 'dispatched', 'delivered']),
  carrier: z.string().min(1).max(100),
});
const CancelAnswerSchema = z.object({ status: z.literal('cancelled') });
const ProblemSchema = z.object({ code: z.string(), message: z.string().optional() });

/** The carrier has the parcel (or lost it): cancelling is no longer possible. */
const CANCEL_REFUSALS = new Set(['already_dispatched', 'already_failed']);

export function createHttpShippingProvider(
  options: Omit<ProviderClientOptions, 'name'> & { name?: string },
): HttpShippingProvider {
  const client = createProviderClient({ name: 'shipping', ...options });
  return {
    createShipment: (request) =>
      client.request<RequestShipmentOutcome>({
        method: 'POST',
        path: '/v1/shipments',
        idempotencyKey: request.idempotencyKey,
        body: { orderId: request.orderId, lines: request.lines, address: request.address },
        read({ status, body }) {
          if (status === 200 || status === 201) {
            const { shipmentId, carrier } = ShipmentAnswerSchema.parse(body);
            return { status: 'accepted', shipmentId, carrier };
          }
          const problem = ProblemSchema.safeParse(body);
          if (status === 422 && problem.success && problem.data.code === 'undeliverable') {
            return { status: 'refused', reason: describeProblem(problem.data) };
          }
          return undefined;
        },
      }),
    cancelShipment: (request) =>
      client.request<CancelShipmentOutcome>({
        method: 'POST',
        path: `/v1/shipments/${encodeURIComponent(request.shipmentId)}/cancel`,
        idempotencyKey: request.idempotencyKey,
        body: {},
        read({ status, body }) {
          if (status === 200 || status === 201) {
            CancelAnswerSchema.parse(body);
            return { status: 'cancelled' };
          }
          const problem = ProblemSchema.safeParse(body);
          if (status === 409 && problem.success && CANCEL_REFUSALS.has(problem.data.code)) {
            return { status: 'not_cancellable', reason: describeProblem(problem.data) };
          }
          return undefined;
        },
      }),
    breakerState: () => client.breakerState(),
    close: () => client.close(),
  };
}
