/**
 * Dead letters into BigQuery, for the dead-letter rate per subscription (view
 * dead_letter_rate_daily): one dead_letters row per message on the dead-letters topic, streamed
 * through the row batcher with insertId = its message id. Meant for the dead-letter function, the
 * one consumer that sees every dead letter of both kinds: record() after the dead letter is stored,
 * before the push is answered, so that a failed insert is retried by redelivery.
 */
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import { createRowBatcher, type BatcherOptions, type RowBatcher } from './batcher.ts';
import { deadLetterRow, deadLetterStreamRow, type DeadLetterMessage } from './rows.ts';
import type { AnalyticsSink } from './sink.ts';

export interface DeadLetterRecorder {
  /** Resolves once the dead letter's row is in BigQuery (see RowBatcher.write for failures). */
  record(message: DeadLetterMessage): Promise<void>;
  readonly batcher: RowBatcher;
}

export function createDeadLetterRecorder(
  sink: AnalyticsSink,
  options: Partial<BatcherOptions> & { table?: string } = {},
): DeadLetterRecorder {
  const batcher = createRowBatcher(sink, options.table ?? BIGQUERY.deadLettersTable, options);
  return {
    record: (message) => batcher.write(deadLetterStreamRow(deadLetterRow(message))),
    batcher,
  };
}
