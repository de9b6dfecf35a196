/** dead-letter: stores every dead letter in Postgres for operators to inspect, redrive or discard. */
import { http } from '@google-cloud/functions-framework';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { deadLetterConfigSchema } from './config.ts';
import { createDeadLetterHandler, createParkingSink } from './handler.ts';

const config = loadConfigOrExit(deadLetterConfigSchema, process.env, FUNCTION.deadLetter);
const runtime = createFunctionRuntime(FUNCTION.deadLetter, config);
const handler = createDeadLetterHandler({
  pool: runtime.pool,
  push: { ...runtime.push, deadLetters: createParkingSink(runtime.publisher) },
});

http(FUNCTION.deadLetter, (request, response) => handler.http(request, response));
