/** saga: drives each order through approval, reservation, payment and shipment, and compensates. */
import { http } from '@google-cloud/functions-framework';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createSagaConfig } from '#shared/domain/saga/index.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { createOutboxRelay } from '#shared/messaging/relay.ts';
import { createHttpPaymentProvider, createHttpShippingProvider } from '#shared/providers/index.ts';
import { sagaConfigSchema } from './config.ts';
import { createSagaHandler, SAGA_PROVIDER_RETRY, SAGA_PROVIDER_TIMEOUT_MS } from './handler.ts';

const config = loadConfigOrExit(sagaConfigSchema, process.env, FUNCTION.saga);
const runtime = createFunctionRuntime(FUNCTION.saga, config);
const providerOptions = {
  timeoutMs: SAGA_PROVIDER_TIMEOUT_MS,
  retry: SAGA_PROVIDER_RETRY,
  onBreakerStateChange: (state: string) => runtime.logger.warn({ state }, 'provider circuit changed'),
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
  payment: createHttpPaymentProvider({ baseUrl: config.PAYMENT_PROVIDER_URL, ...providerOptions }),
  shipping: createHttpShippingProvider({ baseUrl: config.SHIPPING_PROVIDER_URL, ...providerOptions }),
  config: createSagaConfig({
    approvalThresholdMinor: config.APPROVAL_THRESHOLD_MINOR,
    approvalEscalateAfterMs: config.APPROVAL_ESCALATE_AFTER_MS,
    approvalExpireAfterMs: config.APPROVAL_EXPIRE_AFTER_MS,
  }),
  concurrency: config.SAGA_CONCURRENCY ?? Math.max(1, config.PG_POOL_MAX - 1),
  onAppended: (count) => relay.trigger(count),
  push: runtime.push,
});

http(FUNCTION.saga, (request, response) => handler.http(request, response));
