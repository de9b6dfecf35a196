/**
 * The outbox relay: publishes committed outbox rows to Pub/Sub and marks them published with the
 * message id. Delivery is at least once: a crash after Pub/Sub accepted a message but before the
 * row was marked republishes it, which consumers absorb by de-duplicating on the event id.
 *
 * It runs when asked (`trigger()` right after a commit, for low latency), on a timer (the sweeper,
 * which catches whatever a crashed process left behind), on NOTIFY from writers in other processes
 * (optional), and on demand (`sweep()`, for the ticks-driven timeouts function). Within a process
 * one cycle runs at a time; across processes rows are claimed per ordering key (see
 * shared/store/outbox.ts), so one order's events are published by one relay at a time, in order.
 * A key whose publish fails is backed off exponentially as a whole, so nothing overtakes the
 * failed message. One cycle publishes all its claimed rows of a topic in one call.
 */
import pg from 'pg';
import type { Logger } from '#shared/logging/index.ts';
import { OUTBOX_CHANNEL } from '#shared/store/event-store.ts';
import {
  claimOutbox,
  outboxStats,
  purgePublishedOutbox,
  settleOutbox,
  type ClaimedKey,
  type Failed,
  type OutboxStats,
  type Published,
} from '#shared/store/outbox.ts';
import type { Pool } from '#shared/store/pool.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import type { Publisher } from './publisher.ts';

export interface OutboxRelayOptions {
  pool: Pool;
  publisher: Publisher;
  logger?: Logger | undefined;
  /** Rows claimed per cycle; default 500. */
  batchSize?: number;
  /** How often the sweeper looks for rows nobody relayed; default 1 s. 0 disables the timer. */
  sweepIntervalMs?: number;
  /** Backoff of a key whose publish failed: initial × 2^attempts, capped, ±25 % jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** LISTEN on OUTBOX_CHANNEL with a dedicated connection, to hear commits of other processes. */
  listen?: { connectionString: string } | undefined;
  /**
   * Under sustained load (the previous cycle ended moments ago), wait up to this long for more
   * committed rows before a cycle, unless `lingerRows` are already waiting: a cycle's queries
   * and each publish request cost much the same for one row as for fifty. Idle, a trigger starts
   * a cycle at once. Default 4 ms; 0 disables.
   */
  lingerMs?: number;
  /** Rows waiting (as counted by trigger) that start a cycle without lingering; default 100. */
  lingerRows?: number;
  /** Delete rows published longer ago than this (in sweeps); default 1 h. 0 keeps them. */
  retainPublishedMs?: number;
  random?: () => number;
}

export interface CycleResult {
  /** Keys claimed. */
  keys: number;
  published: number;
  failed: number;
  /** Keys skipped because another relay held them. */
  contended: number;
}

export interface RelayStats extends OutboxStats {
  /** Since this relay started. */
  published: number;
  failedAttempts: number;
  cycles: number;
  lastError: string | undefined;
}

export interface OutboxRelay {
  /** Starts the sweeper timer (and LISTEN). */
  start(): void;
  /** Asks for a cycle soon: call after committing `rows` outbox rows (default 1). Cheap; coalesced. */
  trigger(rows?: number): void;
  /** Relays everything due now, cycle after cycle, until nothing is left; for timers and tests. */
  sweep(): Promise<CycleResult>;
  /** Backlog numbers for /readyz and metrics. */
  stats(): Promise<RelayStats>;
  /** Stops the timers and LISTEN, then publishes what is due, for at most `flushTimeoutMs`. */
  stop(options?: { flushTimeoutMs?: number }): Promise<void>;
}

const NOTHING: CycleResult = { keys: 0, published: 0, failed: 0, contended: 0 };
/** When keys were held by another relay, look again this soon (it may leave new rows behind). */
const CONTENDED_RETRY_MS = 50;
const MAX_CYCLES_PER_SWEEP = 1_000;
const PURGE_INTERVAL_MS = 10_000;
const PURGE_BATCH = 5_000;
const PURGE_BUDGET_MS = 2_000;
/** A cycle that ended less than this long ago means the relay is under load: linger. */
const BUSY_WINDOW_MS = 20;

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, publisher, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const backoff = options.backoff ?? { initialMs: 250, maxMs: 10_000 };
  const retainPublishedMs = options.retainPublishedMs ?? 3_600_000;
  const random = options.random ?? Math.random;
  const lingerMs = options.lingerMs ?? 4;
  const lingerRows = options.lingerRows ?? 100;

  let stopped = false;
  let draining = false;
  let again = false;
  /** Rows announced by trigger() since the current or last cycle began. */
  let waiting = 0;
  let lastCycleEnded = 0;
  let lingering: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let sweeper: NodeJS.Timeout | undefined;
  let contendedTimer: NodeJS.Timeout | undefined;
  let lastPurge = 0;
  let listener: Listener | undefined;
  const counters = { published: 0, failedAttempts: 0, cycles: 0, lastError: undefined as string | undefined };

  /** One cycle at a time per relay: a second would only find the first one's keys locked. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = chain.then(work, work);
    chain = next.catch(() => undefined);
    return next;
  }

  async function cycle(): Promise<CycleResult> {
    counters.cycles++;
    return withTransaction(pool, async (client) => {
      const claim = await claimOutbox(client, batchSize);
      if (claim.keys.length === 0) return { ...NOTHING, contended: claim.contended };
      const byTopic = new Map<string, ClaimedKey[]>();
      for (const key of claim.keys) byTopic.set(key.topic, [...(byTopic.get(key.topic) ?? []), key]);
      const outcomes = await Promise.all([...byTopic].map(([topic, keys]) => publishTopic(topic, keys)));
      const published = outcomes.flatMap((outcome) => outcome.published);
      const failed = outcomes.flatMap((outcome) => outcome.failed);
      await settleOutbox(client, published, failed);
      counters.published += published.length;
      counters.failedAttempts += failed.length;
      return {
        keys: claim.keys.length,
        published: published.length,
        failed: failed.length,
        contended: claim.contended,
      };
    });
  }

  /**
   * Publishes the claimed keys of one topic in one call, each key's rows in order. A key's
   * published rows are a prefix; from its first failure on, its rows back off together.
   */
  async function publishTopic(
    topic: string,
    keys: ClaimedKey[],
  ): Promise<{ published: Published[]; failed: Failed[] }> {
    const rows = keys.flatMap((key) => key.rows);
    const outcomes = await publisher.publish(
      topic,
      rows.map((row) => ({
        data: Buffer.from(row.payload),
        attributes: row.attributes,
        orderingKey: row.orderingKey ?? undefined,
      })),
    );
    const published: Published[] = [];
    const failed: Failed[] = [];
    let next = 0;
    for (const key of keys) {
      const results = outcomes.slice(next, next + key.rows.length);
      next += key.rows.length;
      const firstFailure = results.findIndex((outcome) => outcome.error);
      const publishedCount = firstFailure === -1 ? key.rows.length : firstFailure;
      for (let position = 0; position < publishedCount; position++) {
        published.push({ id: key.rows[position]!.id, messageId: results[position]!.messageId! });
      }
      if (firstFailure === -1) continue;
      const head = key.rows[firstFailure]!;
      const error = results[firstFailure]!.error!.message;
      const delayMs =
        Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(head.attempts, 30)) * (0.75 + random() / 2);
      counters.lastError = error;
      logger?.warn(
        {
          topic,
          orderingKey: key.orderingKey,
          outboxId: head.id,
          attempts: head.attempts + 1,
          delayMs: Math.round(delayMs),
          error,
        },
        'publish failed; backing off the ordering key',
      );
      for (const row of key.rows.slice(firstFailure)) failed.push({ id: row.id, delayMs, error });
    }
    return { published, failed };
  }

  /** Resolves after lingerMs, or as soon as lingerRows are waiting. */
  function linger(): Promise<void> {
    if (lingerMs <= 0 || waiting >= lingerRows || stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        lingering = undefined;
        resolve();
      };
      const timer = setTimeout(wake, lingerMs);
      lingering = { timer, wake };
    });
  }

  /** Cycles until a cycle finds less than a full batch and nobody asked again meanwhile. */
  async function drain(until = Number.POSITIVE_INFINITY, lingerFirst = false): Promise<CycleResult> {
    const total = { ...NOTHING };
    for (let cycles = 0; cycles < MAX_CYCLES_PER_SWEEP && Date.now() < until; cycles++) {
      if (lingerFirst || cycles > 0) await linger();
      again = false;
      waiting = 0;
      const result = await cycle().finally(() => {
        lastCycleEnded = Date.now();
      });
      total.keys += result.keys;
      total.published += result.published;
      total.failed += result.failed;
      total.contended = result.contended;
      const full = result.keys > 0 && result.published + result.failed >= batchSize;
      if (!again && !full) break;
    }
    if (total.contended > 0 && !stopped) {
      contendedTimer ??= setTimeout(() => {
        contendedTimer = undefined;
        trigger(0);
      }, CONTENDED_RETRY_MS).unref();
    }
    return total;
  }

  function trigger(rows = 1): void {
    if (stopped) return;
    waiting += rows;
    if (draining) {
      again = true;
      if (lingering && waiting >= lingerRows) lingering.wake();
      return;
    }
    draining = true;
    const busy = Date.now() - lastCycleEnded < BUSY_WINDOW_MS;
    void exclusive(() => drain(Number.POSITIVE_INFINITY, busy))
      .catch((error: unknown) => report(error, 'outbox relay cycle failed'))
      .finally(() => {
        draining = false;
      });
  }

  async function sweep(): Promise<CycleResult> {
    const result = await exclusive(() => drain());
    if (retainPublishedMs > 0 && Date.now() - lastPurge > PURGE_INTERVAL_MS) {
      lastPurge = Date.now();
      await purge().catch((error: unknown) => report(error, 'purging published outbox rows failed'));
    }
    return result;
  }

  /** Deletes old published rows in batches, for a bounded time, so the table keeps pace with the load. */
  async function purge(): Promise<void> {
    const until = Date.now() + PURGE_BUDGET_MS;
    while (Date.now() < until && !stopped) {
      const deleted = await purgePublishedOutbox(pool, retainPublishedMs, PURGE_BATCH);
      if (deleted < PURGE_BATCH) return;
    }
  }

  function report(error: unknown, message: string): void {
    counters.lastError = error instanceof Error ? error.message : String(error);
    logger?.error({ error }, message);
  }

  return {
    start() {
      if (stopped || sweeper) return;
      const interval = options.sweepIntervalMs ?? 1_000;
      if (interval > 0) {
        sweeper = setInterval(() => {
          void sweep().catch((error: unknown) => report(error, 'outbox sweep failed'));
        }, interval).unref();
      }
      if (options.listen) listener = listen(options.listen.connectionString, () => trigger(), logger);
      trigger();
    },
    trigger,
    sweep,
    async stats() {
      return { ...(await outboxStats(pool)), ...counters };
    },
    async stop(stopOptions = {}) {
      if (stopped) return;
      stopped = true;
      lingering?.wake();
      clearInterval(sweeper);
      clearTimeout(contendedTimer);
      await listener?.close();
      const until = Date.now() + (stopOptions.flushTimeoutMs ?? 5_000);
      await exclusive(() => drain(until)).catch((error: unknown) =>
        report(error, 'final outbox flush failed'),
      );
    },
  };
}

interface Listener {
  close(): Promise<void>;
}

/** A dedicated connection LISTENing on OUTBOX_CHANNEL; reconnects with backoff until closed. */
function listen(connectionString: string, onNotify: () => void, logger: Logger | undefined): Listener {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = 250;

  const connect = async () => {
    const next = new pg.Client({ connectionString, application_name: 'outbox-listener', keepAlive: true });
    client = next;
    next.on('notification', onNotify);
    next.on('error', (error) => {
      logger?.warn({ error }, 'outbox listener connection lost');
      reconnect(next);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${OUTBOX_CHANNEL}`);
      delay = 250;
      onNotify(); // anything committed while we were not listening
    } catch (error) {
      logger?.warn({ error }, 'outbox listener could not connect');
      reconnect(next);
    }
  };
  const reconnect = (failed: pg.Client) => {
    if (closed || client !== failed) return;
    client = undefined;
    void failed.end().catch(() => undefined);
    retry = setTimeout(() => void connect(), delay).unref();
    delay = Math.min(delay * 2, 10_000);
  };
  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
    },
  };
}
