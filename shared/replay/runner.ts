/**
 * Runs replays in the background of an API instance. One at a time per instance, each under a
 * lease in the replays table, so that exactly one instance publishes a replay at a time and a
 * replay left behind by a stopped or crashed instance is taken over (from its cursor) once its
 * lease expires, by whichever instance looks first.
 *
 * A replay reads the matching events page by page in position order and publishes each stored
 * envelope (same event id: consumers de-duplicate) to the replays topic with ordering key = order
 * id, REPLAY_CONSUMER_ATTRIBUTE = the consumer (only its `<consumer>-replay` subscription takes
 * it) and ATTRIBUTE.replay = the replay id. The cursor advances past a page once every message up
 * to it is published; after a failure the page is published again from the first message that
 * failed, so a message may go out twice, never not at all. The next page is read while the
 * current one is being published.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { REPLAY_CONSUMER_ATTRIBUTE, TOPIC } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE, type Envelope } from '#shared/contracts/envelope.ts';
import type { Logger } from '#shared/logging/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import type { Publisher } from '#shared/messaging/publisher.ts';
import type { Pool } from '#shared/store/pool.ts';
import {
  advanceReplay,
  claimReplay,
  finishReplay,
  measureReplay,
  readReplayPage,
  releaseReplay,
  type Replay,
  type StoredEvent,
} from './store.ts';

export interface ReplayRunnerOptions {
  pool: Pool;
  publisher: Publisher;
  logger: Logger;
  /** Who holds leases; unique per process by default. */
  owner?: string;
  /** A lease lasts this long unless renewed (every page renews it). Default 30 s. */
  leaseMs?: number;
  /** Look for replays to take over this often (a new one is started at once by trigger()). Default 5 s. */
  pollMs?: number;
  /** Events per page. Default 2,000. */
  pageSize?: number;
  /** Consecutive failed publish attempts of one page before the replay fails. Default 20. */
  maxPageAttempts?: number;
  /** Backoff after a failed attempt, doubling up to maxBackoffMs. Defaults 200 ms and 10 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ReplayRunner {
  /** Starts looking for replays. */
  start(): void;
  /** Look now (a replay was just requested). */
  trigger(): void;
  /** Stops after the current page, handing the lease back; resolves when stopped. */
  stop(): Promise<void>;
  /** The replay this instance is running, if any. */
  current(): string | undefined;
}

export function createReplayRunner(options: ReplayRunnerOptions): ReplayRunner {
  const owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = options.leaseMs ?? 30_000;
  const pollMs = options.pollMs ?? 5_000;
  const pageSize = options.pageSize ?? 2_000;
  const maxPageAttempts = options.maxPageAttempts ?? 20;
  const initialBackoffMs = options.initialBackoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const { pool, publisher, logger } = options;

  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let woken = false;
  let currentId: string | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || !running) {
        woken = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        woken = false;
        resolve();
      }
      wake = done;
    });

  async function runLoop(): Promise<void> {
    while (running) {
      let claimed: Replay | undefined;
      try {
        claimed = await claimReplay(pool, owner, leaseMs);
      } catch (error) {
        logger.warn({ error }, 'replay runner: could not look for replays');
      }
      if (claimed) {
        currentId = claimed.id;
        try {
          await run(claimed);
        } catch (error) {
          // The database went away mid-replay: the lease expires and the replay resumes later.
          logger.error(
            { error, replayId: claimed.id },
            'replay interrupted; it resumes when its lease expires',
          );
        } finally {
          currentId = undefined;
        }
        continue;
      }
      await sleep(pollMs);
    }
  }

  async function run(claimed: Replay): Promise<void> {
    const replay = await measureReplay(pool, claimed, owner);
    if (!replay) return;
    const log = logger.child({ replayId: replay.id, consumer: replay.consumer });
    log.info({ total: replay.total, from: replay.cursorPosition, runs: replay.runs }, 'replay started');
    const extra = { [REPLAY_CONSUMER_ATTRIBUTE]: replay.consumer, [ATTRIBUTE.replay]: replay.id };
    let cursor = replay.cursorPosition;
    let page = await readReplayPage(pool, replay, cursor, pageSize);
    while (page.length > 0) {
      if (!running) {
        await releaseReplay(pool, replay.id, owner);
        log.info({ cursor }, 'replay paused: this instance is stopping');
        return;
      }
      // Read ahead: the next page comes from Postgres while this one goes to Pub/Sub.
      const next = readReplayPage(pool, replay, page.at(-1)!.position, pageSize);
      next.catch(() => {});
      const outcome = await publishPage(replay, page, cursor, extra, log);
      if (outcome === 'stopped') {
        await releaseReplay(pool, replay.id, owner);
        return;
      }
      if (outcome === 'lost') {
        log.warn('replay no longer held by this instance (cancelled or taken over); stopping');
        return;
      }
      if (outcome === 'failed') return;
      cursor = page.at(-1)!.position;
      page = await next;
    }
    if (await finishReplay(pool, replay.id, owner, { status: 'completed' })) log.info('replay completed');
  }

  /** Publishes a page, retrying from the first failed message; advances the cursor as it goes. */
  async function publishPage(
    replay: Replay,
    page: StoredEvent[],
    cursorBefore: number,
    extra: Record<string, string>,
    log: Logger,
  ): Promise<'done' | 'lost' | 'failed' | 'stopped'> {
    let start = 0;
    let cursor = cursorBefore;
    for (let attempt = 1; ; attempt++) {
      const slice = page.slice(start);
      const outcomes = await publisher.publish(
        TOPIC.replays,
        slice.map((event) => toMessage(event.envelope as Envelope, extra)),
      );
      const failed = outcomes.findIndex((outcome) => outcome.error !== undefined);
      const done = failed === -1 ? slice.length : failed;
      const error = failed === -1 ? undefined : outcomes[failed]!.error!.message;
      if (done > 0 || error) {
        const held = await advanceReplay(
          pool,
          replay.id,
          owner,
          {
            cursorPosition: done > 0 ? slice[done - 1]!.position : cursor,
            published: done,
            ...(error ? { lastError: error } : {}),
          },
          leaseMs,
        );
        if (!held) return 'lost';
      }
      if (!error) return 'done';
      start += done;
      if (done > 0) cursor = slice[done - 1]!.position;
      if (!running) return 'stopped';
      if (attempt >= maxPageAttempts) {
        await finishReplay(pool, replay.id, owner, {
          status: 'failed',
          error: `publishing failed ${attempt} times in a row: ${error}`,
        });
        log.error({ error }, 'replay failed');
        return 'failed';
      }
      const delay = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1));
      log.warn({ error, attempt, delayMs: delay }, 'replay: publishing failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * (delay / 2)));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = runLoop();
    },
    trigger() {
      if (wake) wake();
      else woken = true;
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      loop = undefined;
    },
    current: () => currentId,
  };
}
