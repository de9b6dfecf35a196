/**
 * The AnalyticsSink port (rows into an analytics table, one outcome per row) and its BigQuery
 * adapter over tabledata.insertAll (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll).
 *
 * What BigQuery documents, and what the adapter does about it:
 * - insertId: BigQuery drops a row whose insertId it saw within about a minute (best effort). Every
 *   row carries its natural id (event id, dead-letter message id), so a retry or a redelivery is
 *   not a second row as far as BigQuery can tell; the views de-duplicate exactly in any case.
 * - Per-row errors come back in `insertErrors` with HTTP 200: reason `invalid` is the row itself
 *   (a permanent error: never retried, reported so the caller dead-letters it); `stopped` (a row
 *   not inserted because another row was invalid, without skipInvalidRows), `backendError`,
 *   `timeout` and the rest are retried, only those rows, with backoff.
 * - A request refused as a whole (HTTP 400: a malformed row, a request over the size limit) is
 *   split in halves until the offending row stands alone, which is then `invalid`; the other rows
 *   go in. Any other failure (5xx, 403 quota, 404 while a table is being created, the network) is
 *   retried for the whole request.
 * A row is never reported inserted unless BigQuery accepted it.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import type { Logger } from '#shared/logging/index.ts';
import type { StreamRow } from './rows.ts';

export type RowOutcome =
  | { status: 'inserted' }
  /** BigQuery refuses the row itself: retrying cannot help. */
  | { status: 'invalid'; reason: string }
  /** Not inserted after the sink's own retries: worth retrying later. */
  | { status: 'failed'; reason: string };

/** Streams rows into an analytics table. */
export interface AnalyticsSink {
  /** One outcome per row, in order. Rejects only when it cannot even try (never for a row's fate). */
  insert(table: string, rows: readonly StreamRow[]): Promise<RowOutcome[]>;
}

export interface BigQuerySinkOptions {
  bigquery: BigQuery;
  dataset: string;
  /** Attempts per row for retryable failures, the first included. Default 5. */
  maxAttempts?: number;
  /** Backoff before the second attempt, doubling (with jitter) up to maxBackoffMs. Default 100 ms. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** insertAll requests carry at most this many rows (BigQuery recommends 500) … */
  maxRowsPerRequest?: number;
  /** … and at most this many bytes of row JSON (the request limit is 10 MB). */
  maxBytesPerRequest?: number;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
}

interface InsertError {
  index: number;
  errors?: { reason?: string; location?: string; message?: string }[];
}

interface InsertAllResponse {
  insertErrors?: InsertError[];
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createBigQuerySink(options: BigQuerySinkOptions): AnalyticsSink {
  const maxAttempts = options.maxAttempts ?? 5;
  const initialBackoffMs = options.initialBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 2_000;
  const maxRows = options.maxRowsPerRequest ?? 500;
  const maxBytes = options.maxBytesPerRequest ?? 9 * 1024 * 1024;
  const sleep = options.sleep ?? defaultSleep;
  const dataset = options.bigquery.dataset(options.dataset);

  return {
    async insert(tableId, rows) {
      const table = dataset.table(tableId);
      const outcomes = new Array<RowOutcome | undefined>(rows.length);
      const reasons = new Map<number, string>();
      const sizes = rows.map((row) => Buffer.byteLength(JSON.stringify(row)));

      /** Sends `indices` as one request; pushes the rows to retry onto `retry`. */
      const send = async (indices: number[], retry: number[]): Promise<void> => {
        let response: InsertAllResponse;
        try {
          [response] = (await table.request({
            method: 'POST',
            uri: '/insertAll',
            json: { rows: indices.map((index) => rows[index]), skipInvalidRows: true },
          })) as unknown as [InsertAllResponse];
        } catch (error) {
          const { status, message } = describeRequestError(error);
          if (status === 400 && indices.length > 1) {
            // Refused as a whole: find the row(s) it objects to, let the others in.
            const half = Math.ceil(indices.length / 2);
            await Promise.all([send(indices.slice(0, half), retry), send(indices.slice(half), retry)]);
          } else if (status === 400) {
            outcomes[indices[0]!] = { status: 'invalid', reason: message };
          } else {
            for (const index of indices) reasons.set(index, message);
            retry.push(...indices);
          }
          return;
        }
        const failed = new Map<number, InsertError['errors']>();
        for (const error of response.insertErrors ?? []) failed.set(error.index, error.errors ?? []);
        indices.forEach((rowIndex, position) => {
          const errors = failed.get(position);
          if (!errors) outcomes[rowIndex] = { status: 'inserted' };
          else if (errors.some((error) => error.reason === 'invalid')) {
            outcomes[rowIndex] = { status: 'invalid', reason: describeRowErrors(errors) };
          } else {
            reasons.set(rowIndex, describeRowErrors(errors));
            retry.push(rowIndex);
          }
        });
      };

      let pending = rows.map((_, index) => index);
      for (let attempt = 1; pending.length > 0; attempt++) {
        const retry: number[] = [];
        await Promise.all(requests(pending, sizes, maxRows, maxBytes).map((indices) => send(indices, retry)));
        pending = retry.sort((a, b) => a - b);
        if (pending.length === 0 || attempt >= maxAttempts) break;
        const delay = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
        options.logger?.warn(
          { table: tableId, rows: pending.length, attempt, reason: reasons.get(pending[0]!) },
          'insertAll: retrying rows BigQuery did not take',
        );
        await sleep(delay / 2 + Math.random() * (delay / 2));
      }
      for (const index of pending)
        outcomes[index] = { status: 'failed', reason: reasons.get(index) ?? 'not inserted' };
      return outcomes.map((outcome) => outcome ?? { status: 'failed', reason: 'not inserted' });
    },
  };
}

/** `indices` in request-sized groups, in order. */
function requests(indices: number[], sizes: number[], maxRows: number, maxBytes: number): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const index of indices) {
    const size = sizes[index]!;
    if (current.length > 0 && (current.length >= maxRows || bytes + size > maxBytes)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function describeRowErrors(errors: NonNullable<InsertError['errors']>): string {
  const described = errors
    .filter((error) => error.reason !== 'stopped' || errors.length === 1)
    .map(
      (error) =>
        `${error.reason ?? 'error'}${error.location ? ` at ${error.location}` : ''}${error.message ? `: ${error.message}` : ''}`,
    );
  return described.join('; ') || 'not inserted';
}

/** The HTTP status (when BigQuery answered) and message of a failed request. */
function describeRequestError(error: unknown): { status: number | undefined; message: string } {
  const { code, message, errors } = (error ?? {}) as { code?: unknown; message?: unknown; errors?: unknown };
  // The client's ApiError lists BigQuery's own messages in `errors`; its `message` may only summarise.
  const detail = Array.isArray(errors)
    ? errors
        .map((item) => (item as { message?: unknown }).message)
        .filter((text): text is string => typeof text === 'string' && text.length > 0)
        .join('; ')
    : '';
  return {
    status: typeof code === 'number' ? code : undefined,
    message: `insertAll failed${typeof code === 'number' ? ` (${code})` : ''}: ${detail || (typeof message === 'string' ? message : String(error))}`,
  };
}
