/**
 * The one way to get a Postgres pool: bounded connection, statement and idle timeouts, so a slow
 * or unreachable database fails requests quickly instead of piling them up.
 */
import pg from 'pg';
import type { Logger } from '#shared/logging/index.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolConfig {
  url: string;
  applicationName: string;
  max?: number;
  /** Time to wait for a connection from the server (and from a full pool). */
  connectTimeoutMs?: number;
  /** Server-side cap on any one statement. */
  statementTimeoutMs?: number;
  /** Close a connection idle this long. */
  idleTimeoutMs?: number;
  logger?: Logger;
}

export function createPool(config: PoolConfig): Pool {
  const statementTimeoutMs = config.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: config.url,
    application_name: config.applicationName,
    max: config.max ?? 10,
    connectionTimeoutMillis: config.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: config.idleTimeoutMs ?? 30_000,
    statement_timeout: statementTimeoutMs,
    // A transaction left open by a bug must not hold locks for ever.
    idle_in_transaction_session_timeout: Math.max(statementTimeoutMs * 2, 30_000),
    // Client-side backstop for a server that stops answering (network partition).
    query_timeout: statementTimeoutMs + 5_000,
    keepAlive: true,
  });
  // An idle client losing its connection (server restart) emits here; without a listener the
  // process would crash. The pool discards that client and opens a new one on next use.
  pool.on('error', (error) => config.logger?.warn({ error }, 'idle postgres connection lost'));
  return pool;
}

/** The pool settings from a deployable's parsed database config. */
export function poolConfigFrom(
  config: {
    DATABASE_URL: string;
    PG_POOL_MAX: number;
    PG_CONNECT_TIMEOUT_MS: number;
    PG_STATEMENT_TIMEOUT_MS: number;
    PG_IDLE_TIMEOUT_MS: number;
  },
  applicationName: string,
  logger?: Logger,
): PoolConfig {
  return {
    url: config.DATABASE_URL,
    applicationName,
    max: config.PG_POOL_MAX,
    connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
    idleTimeoutMs: config.PG_IDLE_TIMEOUT_MS,
    ...(logger ? { logger } : {}),
  };
}
