/** timeouts: on every tick, approval deadlines, compensation of unrecorded effects, one outbox sweep. */
import { http } from '@google-cloud/functions-framework';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { createOutboxRelay } from '#shared/messaging/relay.ts';
import { createHttpPaymentProvider, createHttpShippingProvider } from '#shared/providers/index.ts';
import { timeoutsConfigSchema } from './config.ts';
import { createTimeoutsHandler } from './handler.ts';

const config = loadConfigOrExit(timeoutsConfigSchema, process.env, FUNCTION.timeouts);
const runtime = await createFunctionRuntime(FUNCTION.timeouts, config);
const relay = createOutboxRelay({
  pool: runtime.pool,
  publisher: runtime.publisher,
  logger: runtime.logger,
  sweepIntervalMs: 0,
});
const handler = createTimeoutsHandler({
  pool: runtime.pool,
  payment: createHttpPaymentProvider({
    baseUrl: config.PAYMENT_PROVIDER_URL,
    ...runtime.providerOptions('payment'),
  }),
  shipping: createHttpShippingProvider({
    baseUrl: config.SHIPPING_PROVIDER_URL,
    ...runtime.providerOptions('shipping'),
  }),
  sweepOutbox: () => relay.sweep(),
  publisher: runtime.publisher,
  push: runtime.push,
});

http(FUNCTION.timeouts, (request, response) => handler.http(request, response));
