/**
 * The replays table (migration 0301): creating a replay idempotently (with its audit entry),
 * reading and listing them with their progress, cancelling, and what a runner needs: claiming one
 * under a lease, reading its events page by page in position order, advancing its cursor.
 */
import { ConflictError, InvalidTransitionError } from '#shared/errors.ts';
import type { Pool, Queryable } from '#shared/store/pool.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { storedTypesFor, type ReplayRequest } from './request.ts';

export const REPLAY_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type ReplayStatus = (typeof REPLAY_STATUSES)[number];
export const FINISHED_STATUSES: readonly ReplayStatus[] = ['completed', 'failed', 'cancelled'];

export interface Replay {
  id: string;
  consumer: string;
  request: ReplayRequest;
  status: ReplayStatus;
  requestedBy: string;
  /** Matching events; null until the replay first starts. */
  total: number | null;
  published: number;
  cursorPosition: number;
  uptoPosition: number;
  runs: number;
  lastError: string | null;
  createdAt: Date;
  startedAt: Date | null;
  updatedAt: Date;
  finishedAt: Date | null;
}

interface ReplayRow {
  id: string;
  consumer: string;
  request: ReplayRequest;
  status: ReplayStatus;
  requested_by: string;
  total: string | null;
  published: string;
  cursor_position: string;
  upto_position: string;
  runs: number;
  last_error: string | null;
  created_at: Date;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

const COLUMNS = `id, consumer, request, status, requested_by, total, published, cursor_position, upto_position,
  runs, last_error, created_at, started_at, updated_at, finished_at`;

const replayOf = (row: ReplayRow): Replay => ({
  id: row.id,
  consumer: row.consumer,
  request: row.request,
  status: row.status,
  requestedBy: row.requested_by,
  total: row.total === null ? null : Number(row.total),
  published: Number(row.published),
  cursorPosition: Number(row.cursor_position),
  uptoPosition: Number(row.upto_position),
  runs: row.runs,
  lastError: row.last_error,
  createdAt: row.created_at,
  startedAt: row.started_at,
  updatedAt: row.updated_at,
  finishedAt: row.finished_at,
});

export interface NewReplay {
  id: string;
  /** Normalized (normalizeReplayRequest). */
  request: ReplayRequest;
  requestHash: string;
  client: { id: string; name: string };
  idempotencyKey?: string | undefined;
  /** Without a key, the same request within this many seconds is the same replay. */
  reuseWithinSeconds: number;
}

/**
 * Creates a replay, or returns the one this request already made: with an Idempotency-Key, the
 * replay of that key (ConflictError if the key was used for another request); without one, the
 * latest replay of the same request by the same client within `reuseWithinSeconds`, unless it
 * failed or was cancelled. Concurrent identical requests wait on one another (advisory lock).
 */
export async function createReplay(
  pool: Pool,
  input: NewReplay,
): Promise<{ replay: Replay; created: boolean }> {
  return withTransaction(pool, async (client) => {
    const scope = `replay:${input.client.id}:${input.idempotencyKey ?? input.requestHash}`;
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [scope]);
    const existing = input.idempotencyKey
      ? await client.query<ReplayRow & { request_hash: string }>(
          `SELECT ${COLUMNS}, request_hash FROM replays WHERE client_id = $1 AND idempotency_key = $2`,
          [input.client.id, input.idempotencyKey],
        )
      : await client.query<ReplayRow & { request_hash: string }>(
          `SELECT ${COLUMNS}, request_hash FROM replays
            WHERE client_id = $1 AND request_hash = $2 AND status NOT IN ('failed', 'cancelled')
              AND created_at > now() - make_interval(secs => $3)
            ORDER BY created_at DESC LIMIT 1`,
          [input.client.id, input.requestHash, input.reuseWithinSeconds],
        );
    const found = existing.rows[0];
    if (found) {
      if (found.request_hash !== input.requestHash)
        throw new ConflictError('this Idempotency-Key was used for a different replay request');
      return { replay: replayOf(found), created: false };
    }
    const { rows } = await client.query<ReplayRow>(
      `WITH replay AS (
         INSERT INTO replays (id, consumer, request, request_hash, client_id, requested_by, idempotency_key,
                              upto_position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT coalesce(max(position), 0) FROM events))
         RETURNING ${COLUMNS}
       ), audit AS (
         INSERT INTO audit_log (actor, action, target_type, target_id, details)
         SELECT $6, 'replay.create', 'replay', id::text, $3::jsonb FROM replay
       )
       SELECT * FROM replay`,
      [
        input.id,
        input.request.consumer,
        JSON.stringify(input.request),
        input.requestHash,
        input.client.id,
        input.client.name,
        input.idempotencyKey ?? null,
      ],
    );
    return { replay: replayOf(rows[0]!), created: true };
  });
}

export async function getReplay(db: Queryable, id: string): Promise<Replay | undefined> {
  const { rows } = await db.query<ReplayRow>(`SELECT ${COLUMNS} FROM replays WHERE id = $1`, [id]);
  return rows[0] ? replayOf(rows[0]) : undefined;
}

/** Replays newest first, optionally of one status, after a page cursor. */
export async function listReplays(
  db: Queryable,
  page: {
    status?: ReplayStatus | undefined;
    limit: number;
    after?: { createdAt: string; id: string } | undefined;
  },
): Promise<{ replays: Replay[]; next: { createdAt: string; id: string } | undefined }> {
  const { rows } = await db.query<ReplayRow>(
    `SELECT ${COLUMNS} FROM replays
      WHERE ($1::text IS NULL OR status = $1)
        AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $4`,
    [page.status ?? null, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit + 1],
  );
  const replays = rows.slice(0, page.limit).map(replayOf);
  const last = replays.at(-1);
  return {
    replays,
    next:
      rows.length > page.limit && last ? { createdAt: last.createdAt.toISOString(), id: last.id } : undefined,
  };
}

/**
 * Cancels a pending or running replay (its runner stops at its next page); cancelling a cancelled
 * one changes nothing. InvalidTransitionError for a completed or failed replay.
 */
export async function cancelReplay(pool: Pool, id: string, actor: string): Promise<Replay | undefined> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<ReplayRow>(
      `SELECT ${COLUMNS} FROM replays WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const current = rows[0];
    if (!current) return undefined;
    if (current.status === 'cancelled') return replayOf(current);
    if (current.status === 'completed' || current.status === 'failed')
      throw new InvalidTransitionError(current.status, 'cancel', `the replay is already ${current.status}`);
    const updated = await client.query<ReplayRow>(
      `UPDATE replays SET status = 'cancelled', finished_at = now(), updated_at = now(), lease_owner = NULL,
              lease_expires_at = NULL
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    await client.query(
      `INSERT INTO audit_log (actor, action, target_type, target_id, details)
       VALUES ($1, 'replay.cancel', 'replay', $2, jsonb_build_object('published', $3::bigint, 'total', $4::bigint))`,
      [actor, id, current.published, current.total],
    );
    return replayOf(updated.rows[0]!);
  });
}

/** Progress as clients see it: published of total, events per second so far, seconds left. */
export interface ReplayProgress {
  published: number;
  total: number | null;
  percent: number | null;
  eventsPerSecond: number | null;
  etaSeconds: number | null;
}

export function progressOf(replay: Replay, now: Date): ReplayProgress {
  const { published, total } = replay;
  const end = replay.finishedAt ?? now;
  const seconds = replay.startedAt ? (end.getTime() - replay.startedAt.getTime()) / 1000 : 0;
  const rate = seconds > 0 && replay.startedAt ? published / seconds : null;
  const finished = FINISHED_STATUSES.includes(replay.status);
  return {
    published,
    total,
    percent: total === null ? null : total === 0 ? 100 : Math.round((published / total) * 1000) / 10,
    eventsPerSecond: rate === null ? null : Math.round(rate * 10) / 10,
    etaSeconds:
      finished || total === null
        ? finished
          ? 0
          : null
        : rate && rate > 0
          ? Math.round(Math.max(0, total - published) / rate)
          : null,
  };
}

/** Takes on the oldest pending or running replay whose lease is free; undefined when there is none. */
export async function claimReplay(
  db: Queryable,
  owner: string,
  leaseMs: number,
): Promise<Replay | undefined> {
  const { rows } = await db.query<ReplayRow>(
    `UPDATE replays r
        SET status = 'running', lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
            runs = runs + 1, started_at = coalesce(started_at, now()), updated_at = now()
      WHERE r.id = (SELECT id FROM replays
                     WHERE status IN ('pending', 'running')
                       AND (lease_expires_at IS NULL OR lease_expires_at < now())
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING ${COLUMNS}`,
    [owner, leaseMs / 1000],
  );
  return rows[0] ? replayOf(rows[0]) : undefined;
}

/** The filter of a replay as SQL parameters ($1 from, $2 to, $3 stored types or null, $4 order or null). */
function filterValues(request: ReplayRequest): unknown[] {
  return [
    request.from,
    request.to,
    request.types ? storedTypesFor(request.types) : null,
    request.orderId ?? null,
  ];
}
const FILTER = `occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz
  AND ($3::text[] IS NULL OR type = ANY($3::text[])) AND ($4::uuid IS NULL OR order_id = $4::uuid)`;

/**
 * On first start: counts the matching events and narrows the position range to them (so pages
 * read by position from the first match to the last). Returns the replay as updated.
 */
export async function measureReplay(
  db: Queryable,
  replay: Replay,
  owner: string,
): Promise<Replay | undefined> {
  if (replay.total !== null) return replay;
  const { rows } = await db.query<ReplayRow>(
    `WITH matching AS (
       SELECT count(*) AS total, min(position) AS lo, max(position) AS hi FROM events
        WHERE ${FILTER} AND position > $5 AND position <= $6
     )
     UPDATE replays r SET total = m.total,
            cursor_position = greatest(r.cursor_position, coalesce(m.lo - 1, r.upto_position)),
            upto_position = coalesce(m.hi, r.upto_position), updated_at = now()
       FROM matching m
      WHERE r.id = $7 AND r.lease_owner = $8 AND r.status = 'running'
      RETURNING ${COLUMNS.split(',')
        .map((column) => `r.${column.trim()}`)
        .join(', ')}`,
    [...filterValues(replay.request), replay.cursorPosition, replay.uptoPosition, replay.id, owner],
  );
  return rows[0] ? replayOf(rows[0]) : undefined;
}

export interface StoredEvent {
  position: number;
  orderId: string;
  /** The envelope exactly as stored (the original version of its type). */
  envelope: Record<string, unknown>;
}

/** The next page of the replay's events after `after`, in position order. */
export async function readReplayPage(
  db: Queryable,
  replay: Replay,
  after: number,
  limit: number,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<{ position: string; order_id: string; envelope: Record<string, unknown> }>({
    name: 'conveyor.replay.page',
    text: `SELECT position, order_id, envelope FROM events
            WHERE position > $5 AND position <= $6 AND ${FILTER}
            ORDER BY position LIMIT $7`,
    values: [...filterValues(replay.request), after, replay.uptoPosition, limit],
  });
  return rows.map((row) => ({
    position: Number(row.position),
    orderId: row.order_id,
    envelope: row.envelope,
  }));
}

/**
 * Records progress and renews the lease. False when the runner no longer holds the replay (its
 * lease was taken over, or it was cancelled): it must stop.
 */
export async function advanceReplay(
  db: Queryable,
  id: string,
  owner: string,
  progress: { cursorPosition: number; published: number; lastError?: string | null },
  leaseMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE replays SET cursor_position = $3, published = published + $4,
            last_error = CASE WHEN $5::boolean THEN $6 ELSE last_error END,
            lease_expires_at = now() + make_interval(secs => $7), updated_at = now()
      WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
    [
      id,
      owner,
      progress.cursorPosition,
      progress.published,
      progress.lastError !== undefined,
      progress.lastError ?? null,
      leaseMs / 1000,
    ],
  );
  return rowCount === 1;
}

/** Ends a replay this runner holds: completed, or failed with the reason. */
export async function finishReplay(
  db: Queryable,
  id: string,
  owner: string,
  outcome: { status: 'completed' } | { status: 'failed'; error: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE replays SET status = $3, last_error = coalesce($4, last_error), finished_at = now(), updated_at = now(),
            lease_owner = NULL, lease_expires_at = NULL
      WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
    [id, owner, outcome.status, outcome.status === 'failed' ? outcome.error : null],
  );
  return rowCount === 1;
}

/** Gives the lease up at once (shutdown), so that another instance takes the replay over now. */
export async function releaseReplay(db: Queryable, id: string, owner: string): Promise<void> {
  await db.query(
    `UPDATE replays SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE id = $1 AND lease_owner = $2`,
    [id, owner],
  );
}
