/**
 * Micro-batching for streaming inserts. Push delivers one message per request and each request
 * must be answered only after its row is stored (ack after insert), so rows of concurrent
 * requests are gathered into one insertAll. A batch goes out:
 * - at once when nothing is in flight (the rows that arrived in the same turn of the event loop
 *   go together): an idle instance adds no delay;
 * - otherwise when it holds `maxRows` rows, or its oldest row has waited `maxDelayMs`, or the
 *   batch in flight returns (group commit: under load, a batch is what arrived meanwhile),
 * with at most `maxInFlight` batches in flight. Each write resolves when its row is inserted, or
 * rejects: InvalidRowError (permanent: dead-letter it) or DependencyError (transient: nack,
 * Pub/Sub redelivers).
 *
 * A row whose insertId is already waiting or in flight is not sent twice: the second write shares
 * the first one's outcome (a redelivery racing its original).
 */
import { DependencyError, ValidationError } from '#shared/errors.ts';
import type { StreamRow } from './rows.ts';
import type { AnalyticsSink } from './sink.ts';

/** BigQuery refused the row itself; retrying cannot help. */
export class InvalidRowError extends ValidationError {
  readonly insertId: string;

  constructor(table: string, insertId: string, reason: string) {
    super(`BigQuery refused row ${insertId} of ${table}: ${reason}`, [{ path: table, message: reason }]);
    this.insertId = insertId;
  }
}

export interface BatcherOptions {
  /** A batch goes out as soon as it holds this many rows (and never holds more). */
  maxRows: number;
  /** … or when its oldest row has waited this long while another batch was in flight. */
  maxDelayMs: number;
  /** Batches in flight at once; more rows wait (and fill the next batch). */
  maxInFlight: number;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = { maxRows: 500, maxDelayMs: 10, maxInFlight: 4 };

export interface BatcherStats {
  rows: number;
  batches: number;
  /** Rows that shared the outcome of a row with the same insertId already on its way. */
  coalesced: number;
  waiting: number;
  inFlight: number;
}

export interface RowBatcher {
  /** Resolves once the row is inserted; rejects with InvalidRowError or DependencyError. */
  write(row: StreamRow): Promise<void>;
  /** Sends everything waiting now and resolves when every write so far has settled. */
  flush(): Promise<void>;
  stats(): BatcherStats;
}

interface Entry {
  row: StreamRow;
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/** A batcher writing to `table` through `sink`. */
export function createRowBatcher(
  sink: AnalyticsSink,
  table: string,
  options: Partial<BatcherOptions> = {},
): RowBatcher {
  const { maxRows, maxDelayMs, maxInFlight } = { ...DEFAULT_BATCHER_OPTIONS, ...options };
  const waiting: Entry[] = [];
  /** insertId → its entry, from write until settled. */
  const open = new Map<string, Entry>();
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  /** The oldest waiting row has waited maxDelayMs: send as soon as a slot is free. */
  let due = false;
  const counts = { rows: 0, batches: 0, coalesced: 0 };

  function pump(): void {
    while (
      waiting.length > 0 &&
      inFlight.size < maxInFlight &&
      (due || waiting.length >= maxRows || inFlight.size === 0)
    ) {
      if (inFlight.size === 0 && !due && waiting.length < maxRows) {
        // Idle: go at the end of this turn, with whatever else arrives in it.
        if (!immediate)
          immediate = setImmediate(() => {
            immediate = undefined;
            if (waiting.length > 0 && inFlight.size === 0) send(waiting.splice(0, maxRows));
            pump();
          });
        break;
      }
      send(waiting.splice(0, maxRows));
      if (waiting.length === 0) due = false;
    }
    if (waiting.length > 0 && !due && !timer) {
      timer = setTimeout(() => {
        timer = undefined;
        due = true;
        pump();
      }, maxDelayMs);
    }
    if (waiting.length === 0) {
      due = false;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
    }
  }

  function send(batch: Entry[]): void {
    counts.batches++;
    const settle = (entry: Entry, error?: Error) => {
      open.delete(entry.row.insertId);
      if (error) entry.reject(error);
      else entry.resolve();
    };
    const call = sink
      .insert(
        table,
        batch.map((entry) => entry.row),
      )
      .then(
        (outcomes) => {
          batch.forEach((entry, index) => {
            const outcome = outcomes[index];
            if (outcome?.status === 'inserted') settle(entry);
            else if (outcome?.status === 'invalid')
              settle(entry, new InvalidRowError(table, entry.row.insertId, outcome.reason));
            else settle(entry, new DependencyError('bigquery', outcome?.reason ?? 'row not inserted'));
          });
        },
        (error: unknown) => {
          const reason = error instanceof Error ? error.message : String(error);
          for (const entry of batch) settle(entry, new DependencyError('bigquery', reason, { cause: error }));
        },
      )
      .finally(() => {
        inFlight.delete(call);
        pump();
      });
    inFlight.add(call);
  }

  return {
    write(row) {
      const existing = open.get(row.insertId);
      if (existing) {
        counts.coalesced++;
        return existing.promise;
      }
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const entry: Entry = { row, promise, resolve, reject };
      open.set(row.insertId, entry);
      waiting.push(entry);
      counts.rows++;
      pump();
      return promise;
    },
    async flush() {
      const pending = [...open.values()].map((entry) => entry.promise.catch(() => {}));
      due = waiting.length > 0;
      pump();
      await Promise.all(pending);
    },
    stats: () => ({ ...counts, waiting: waiting.length, inFlight: inFlight.size }),
  };
}
