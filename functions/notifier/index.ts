/** notifier: announces selected order events to subscribers as signed webhooks. */
import { http } from '@google-cloud/functions-framework';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { createWebhookSigner } from '#shared/webhooks/index.ts';
import { notifierConfigSchema } from './config.ts';
import { createNotifierHandler } from './handler.ts';

const config = loadConfigOrExit(notifierConfigSchema, process.env, FUNCTION.notifier);
const runtime = await createFunctionRuntime(FUNCTION.notifier, config);
const handler = createNotifierHandler({
  pool: runtime.pool,
  subscribers: config.NOTIFIER_SUBSCRIBERS,
  events: config.NOTIFIER_EVENTS,
  signer: createWebhookSigner({ secrets: config.NOTIFIER_SIGNING_SECRET }),
  push: runtime.push,
});

http(FUNCTION.notifier, (request, response) => handler.http(request, response));
