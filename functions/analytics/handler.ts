/**
 * The analytics consumer, built from injected dependencies: every order event it is pushed (live
 * on `analytics`, replayed on `analytics-replay`) becomes one row of the events table, streamed
 * with insertId = event id through the micro-batcher, so a push is acknowledged only once its row
 * is in BigQuery.
 *
 * At least once, de-duplicated by event id: a redelivery or a replay inserts the same insertId
 * (BigQuery drops it within its window) and the views keep one row per event id in any case. An
 * event that does not parse, or a row BigQuery refuses, is dead-lettered with the reason; a row
 * BigQuery did not take is nacked and comes back.
 */
import { createRowBatcher, type BatcherOptions } from '#shared/analytics/batcher.ts';
import { eventRow, eventStreamRow, type EventRow, type StreamRow } from '#shared/analytics/rows.ts';
import type { AnalyticsSink } from '#shared/analytics/sink.ts';
import { BIGQUERY, FUNCTION } from '#shared/contracts/catalogue.ts';
import { parseEvent } from '#shared/contracts/events/index.ts';
import { createPushHandler, type PushHandlerDeps } from '#shared/messaging/consumer.ts';

export interface AnalyticsHandlerDeps {
  sink: AnalyticsSink;
  push: PushHandlerDeps;
  batch?: Partial<BatcherOptions>;
  /** The events table's id (the catalogue's by default). */
  table?: string;
}

export function createAnalyticsHandler(deps: AnalyticsHandlerDeps) {
  const batcher = createRowBatcher(deps.sink, deps.table ?? BIGQUERY.eventsTable, deps.batch);
  const handler = createPushHandler<StreamRow<EventRow>>(
    {
      name: FUNCTION.analytics,
      // Current shapes only: an older version is upcast, as every consumer sees it.
      parse: (message) =>
        eventStreamRow(
          eventRow(parseEvent(message.json), {
            publishTime: message.publishTime,
            attributes: message.attributes,
          }),
        ),
      handle: (row) => batcher.write(row),
    },
    deps.push,
  );
  return { ...handler, batcher };
}
