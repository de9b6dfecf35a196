/**
 * Sandbox payment and shipping providers: HTTP servers that behave like real ones (idempotency
 * keys honoured, outcomes reported later by signed webhooks retried with backoff), with failure
 * injection by configuration and a ledger of what they did. See README.md.
 */
export type { Sandbox, SandboxOptions } from './common.ts';
export { FaultsSchema, NO_FAULTS, type Faults } from './faults.ts';
export {
  startPaymentSandbox,
  type Payment,
  type PaymentLedger,
  type PaymentSandbox,
  type Refund,
} from './payment.ts';
export {
  SANDBOX_CARRIER,
  startShippingSandbox,
  type Shipment,
  type ShippingLedger,
  type ShippingSandbox,
} from './shipping.ts';
export {
  DEFAULT_WEBHOOK_RETRY,
  type WebhookEvent,
  type WebhookRetry,
  type WebhookStats,
} from './webhooks.ts';
