/** dead-letter: stores every dead letter in Postgres for operators to inspect, redrive or discard. */
import { http } from '@google-cloud/functions-framework';
import { createBigQueryClient } from '#shared/analytics/client.ts';
import { createDeadLetterRecorder } from '#shared/analytics/dead-letters.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';
import { loadConfigOrExit } from '#shared/config/index.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { createFunctionRuntime } from '#shared/functions/runtime.ts';
import { deadLetterConfigSchema } from './config.ts';
import { createDeadLetterHandler, createParkingSink } from './handler.ts';

const config = loadConfigOrExit(deadLetterConfigSchema, process.env, FUNCTION.deadLetter);
const runtime = await createFunctionRuntime(FUNCTION.deadLetter, config);
const bigquery = createBigQueryClient({
  projectId: config.CONVEYOR_PROJECT_ID,
  apiEndpoint: config.BIGQUERY_API_ENDPOINT,
});
const handler = createDeadLetterHandler({
  pool: runtime.pool,
  analytics: createDeadLetterRecorder(
    createBigQuerySink({ bigquery, dataset: config.BIGQUERY_DATASET, logger: runtime.logger }),
  ),
  push: { ...runtime.push, deadLetters: createParkingSink(runtime.publisher) },
});

http(FUNCTION.deadLetter, (request, response) => handler.http(request, response));
