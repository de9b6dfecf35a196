/**
 * The payment and shipping providers: the ports the saga uses, their HTTP adapters (idempotency
 * keys, timeouts, retries with full jitter, a circuit breaker per provider) and the webhook
 * payloads they send back.
 */
export * from './errors.ts';
export * from './http.ts';
export * from './payment.ts';
export * from './shipping.ts';
export * from './webhooks.ts';
