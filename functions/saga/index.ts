/** saga: drives each order through approval, reservation, payment and shipment, and compensates. */
import { http } from '@google-cloud/functions-framework';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createSagaConfig } from '#shared/domain/saga/index.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { createOutboxRelay } from '#shared/messaging/relay.ts';
import { createHttpPaymentProvider, createHttpShippingProvider } from '#shared/providers/index.ts';
import { outsideTrace } from '#shared/telemetry/index.ts';
import { sagaConfigSchema } from './config.ts';
import { createSagaHandler, SAGA_PROVIDER_RETRY, SAGA_PROVIDER_TIMEOUT_MS } from './handler.ts';

const config = loadConfigOrExit(sagaConfigSchema, process.env, FUNCTION.saga);
const runtime = await createFunctionRuntime(FUNCTION.saga, config);
/** Timeouts and retries of the saga's calls; a traced fetch, and the circuit reported and logged. */
const providerOptions = (provider: 'payment' | 'shipping') => {
  const telemetry = runtime.providerOptions(provider);
  return {
    timeoutMs: SAGA_PROVIDER_TIMEOUT_MS,
    retry: SAGA_PROVIDER_RETRY,
    fetch: telemetry.fetch,
    onBreakerStateChange: (state: 'closed' | 'open' | 'half-open') => {
      telemetry.onBreakerStateChange(state);
      runtime.logger.warn({ provider, state }, 'provider circuit changed');
    },
  };
};
// Publishes what this function appends right after each commit; the API's relay (NOTIFY) and the
// ticks-driven sweep of functions/timeouts cover whatever an instance leaves behind.
const relay = createOutboxRelay({
  pool: runtime.pool,
  publisher: runtime.publisher,
  logger: runtime.logger,
  sweepIntervalMs: 0,
});
const handler = createSagaHandler({
  pool: runtime.pool,
  payment: createHttpPaymentProvider({ baseUrl: config.PAYMENT_PROVIDER_URL, ...providerOptions('payment') }),
  shipping: createHttpShippingProvider({
    baseUrl: config.SHIPPING_PROVIDER_URL,
    ...providerOptions('shipping'),
  }),
  config: createSagaConfig({
    approvalThresholdMinor: config.APPROVAL_THRESHOLD_MINOR,
    approvalEscalateAfterMs: config.APPROVAL_ESCALATE_AFTER_MS,
    approvalExpireAfterMs: config.APPROVAL_EXPIRE_AFTER_MS,
  }),
  concurrency: config.SAGA_CONCURRENCY ?? Math.max(1, config.PG_POOL_MAX - 1),
  // The relay's cycle serves many deliveries: it runs outside the one that woke it.
  onAppended: (count) => outsideTrace(() => relay.trigger(count)),
  telemetry: runtime.telemetry,
  push: runtime.push,
});

http(FUNCTION.saga, (request, response) => handler.http(request, response));
