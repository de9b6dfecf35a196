/**
 * A sandbox payment provider. A charge is accepted at once (pending) and its outcome, succeeded
 * or declined, arrives later as a signed webhook; a refund pays back at most what was charged.
 *
 *   POST /v1/charges   {orderId, amountMinor, currency}  Idempotency-Key required
 *        → 201 {paymentId, status: 'pending', …}; the same call again → 200 with the same answer
 *        later: webhook payment.succeeded | payment.failed {paymentId, orderId, amountMinor, currency, …}
 *   POST /v1/refunds   {paymentId, amountMinor}          Idempotency-Key required
 *        → 201 {refundId, status: 'succeeded', …}; 404 payment_not_found;
 *          409 charge_not_refundable (not succeeded) | refund_exceeds_charge
 *   GET  /v1/payments/{id}, GET /v1/ledger
 */
import { z } from 'zod';
import {
  ledgerWebhooks,
  startSandbox,
  type LedgerWebhooks,
  type Sandbox,
  type SandboxOptions,
} from './common.ts';
import { changeRoute, problem, type Route } from './server.ts';

export interface Payment {
  paymentId: string;
  orderId: string;
  amountMinor: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'declined';
  refundedMinor: number;
  idempotencyKey: string;
  declineCode?: string;
}

export interface Refund {
  refundId: string;
  paymentId: string;
  amountMinor: number;
  idempotencyKey: string;
}

export interface PaymentLedger {
  orders: Record<
    string,
    {
      /** Sum of succeeded charges. */
      chargedMinor: number;
      refundedMinor: number;
      charges: Payment[];
      refunds: Refund[];
    }
  >;
  totals: { chargedMinor: number; refundedMinor: number; charges: number; refunds: number };
  webhooks: LedgerWebhooks;
}

const ChargeSchema = z.object({
  orderId: z.string().min(1).max(200),
  amountMinor: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/),
});
const RefundSchema = z.object({
  paymentId: z.string().min(1).max(200),
  amountMinor: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

const DECLINES = [
  { reason: 'card declined', declineCode: 'card_declined' },
  { reason: 'insufficient funds', declineCode: 'insufficient_funds' },
  { reason: 'card expired', declineCode: 'expired_card' },
] as const;

export type PaymentSandbox = Sandbox<PaymentLedger>;

export function startPaymentSandbox(options: SandboxOptions = {}): Promise<PaymentSandbox> {
  return startSandbox('payment', options, ({ faults, timers, webhooks, newId, newEvent }) => {
    const payments = new Map<string, Payment>();
    const refunds: Refund[] = [];

    const routes: Route[] = [
      changeRoute(
        /^\/v1\/charges$/,
        { schema: ChargeSchema, idempotencyKey: 'required' },
        ({ body, idempotencyKey, traceparent }) => {
          const payment: Payment = {
            paymentId: newId('pay'),
            ...body,
            status: 'pending',
            refundedMinor: 0,
            idempotencyKey: idempotencyKey!,
          };
          payments.set(payment.paymentId, payment);
          const decline = faults.chance(faults.faults.declineRate) ? faults.pick(DECLINES) : undefined;
          const { webhookDelayMs } = faults.faults;
          const sent = webhooks.hold();
          timers.after(webhookDelayMs, () => {
            payment.status = decline ? 'declined' : 'succeeded';
            if (decline) payment.declineCode = decline.declineCode;
            const { paymentId, orderId, amountMinor, currency } = payment;
            const data = { paymentId, orderId, amountMinor, currency, ...(decline ?? {}) };
            void webhooks.send(
              newEvent(decline ? 'payment.failed' : 'payment.succeeded', data),
              0,
              traceparent,
            );
            sent();
          });
          return { status: 201, body: view(payment) };
        },
      ),
      changeRoute(
        /^\/v1\/refunds$/,
        { schema: RefundSchema, idempotencyKey: 'required' },
        ({ body, idempotencyKey }) => {
          const payment = payments.get(body.paymentId);
          if (!payment) return problem(404, 'payment_not_found', `no payment ${body.paymentId}`);
          if (payment.status !== 'succeeded') {
            return problem(409, 'charge_not_refundable', `payment ${payment.paymentId} is ${payment.status}`);
          }
          const left = payment.amountMinor - payment.refundedMinor;
          if (body.amountMinor > left) {
            return problem(
              409,
              'refund_exceeds_charge',
              `only ${left} of payment ${payment.paymentId} is refundable`,
            );
          }
          const refund: Refund = {
            refundId: newId('re'),
            paymentId: payment.paymentId,
            amountMinor: body.amountMinor,
            idempotencyKey: idempotencyKey!,
          };
          payment.refundedMinor += body.amountMinor;
          refunds.push(refund);
          return {
            status: 201,
            body: {
              refundId: refund.refundId,
              status: 'succeeded',
              paymentId: refund.paymentId,
              amountMinor: refund.amountMinor,
            },
          };
        },
      ),
      {
        method: 'GET',
        path: /^\/v1\/payments\/([^/]+)$/,
        handle({ params }) {
          const payment = payments.get(params[0]!);
          return payment
            ? { status: 200, body: view(payment) }
            : problem(404, 'payment_not_found', 'no such payment');
        },
      },
    ];

    function ledger(): PaymentLedger {
      const orders: PaymentLedger['orders'] = {};
      const entry = (orderId: string) =>
        (orders[orderId] ??= { chargedMinor: 0, refundedMinor: 0, charges: [], refunds: [] });
      for (const payment of payments.values()) {
        const order = entry(payment.orderId);
        order.charges.push({ ...payment });
        if (payment.status === 'succeeded') order.chargedMinor += payment.amountMinor;
      }
      for (const refund of refunds) {
        const order = entry(payments.get(refund.paymentId)!.orderId);
        order.refunds.push({ ...refund });
        order.refundedMinor += refund.amountMinor;
      }
      const all = Object.values(orders);
      return {
        orders,
        totals: {
          chargedMinor: all.reduce((sum, o) => sum + o.chargedMinor, 0),
          refundedMinor: all.reduce((sum, o) => sum + o.refundedMinor, 0),
          charges: payments.size,
          refunds: refunds.length,
        },
        webhooks: ledgerWebhooks(webhooks),
      };
    }

    return { routes, ledger };
  });
}

function view(payment: Payment) {
  const { paymentId, orderId, amountMinor, currency, status } = payment;
  return { paymentId, status, orderId, amountMinor, currency };
}
