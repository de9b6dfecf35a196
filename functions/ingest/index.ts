/** ingest: turns what outside producers publish on inbound-events into orders, or dead letters. */
import { http } from '@google-cloud/functions-framework';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { createOutboxRelay } from '#shared/messaging/relay.ts';
import { outsideTrace } from '#shared/telemetry/index.ts';
import { ingestConfigSchema } from './config.ts';
import { createIngestHandler } from './handler.ts';

const config = loadConfigOrExit(ingestConfigSchema, process.env, FUNCTION.ingest);
const runtime = await createFunctionRuntime(FUNCTION.ingest, config);
const relay = createOutboxRelay({
  pool: runtime.pool,
  publisher: runtime.publisher,
  logger: runtime.logger,
  sweepIntervalMs: 0,
});
const handler = createIngestHandler({
  pool: runtime.pool,
  onAppended: (count) => outsideTrace(() => relay.trigger(count)),
  push: runtime.push,
});

http(FUNCTION.ingest, (request, response) => handler.http(request, response));
