/**
 * The local BigQuery emulator: BigQuery's REST API v2 over DuckDB, for the unmodified
 * @google-cloud/bigquery client (through its `apiEndpoint` option) and Google's `bq` CLI
 * (`bq --api=...`). In memory by default; with `dataDir`, data and metadata survive restarts.
 * See README.md for what it supports.
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Catalog } from './catalog.ts';
import { Engine } from './engine.ts';
import { InsertIdWindow } from './insert-all.ts';
import { Jobs } from './jobs.ts';
import { createServer } from './server.ts';
import { queryError } from './sql/query-errors.ts';
import { compileStatement } from './sql/statements.ts';

export interface BigQueryEmulatorOptions {
  /** Interface to listen on; 127.0.0.1 unless given. */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Where the DuckDB file and metadata live; in memory when absent. */
  dataDir?: string;
  /** How long an insertId is remembered for de-duplication (BigQuery: about a minute). */
  insertIdWindowMs?: number;
  /** Milliseconds since the epoch for the de-duplication window; tests inject their own. */
  clock?: () => number;
  /** Receives one line per request; silent by default. */
  log?: (line: string) => void;
  /** Receives the emulator's own failures (answered 500 without details); stderr by default. */
  warn?: (line: string) => void;
}

export interface BigQueryEmulator {
  readonly host: string;
  readonly port: number;
  /** http://host:port, the client's `apiEndpoint`. */
  readonly url: string;
  /** Stops listening, finishes queued writes and closes DuckDB. Safe to call twice. */
  stop(): Promise<void>;
}

export const DEFAULT_INSERT_ID_WINDOW_MS = 60_000;

export async function startBigQueryEmulator(
  options: BigQueryEmulatorOptions = {},
): Promise<BigQueryEmulator> {
  const log = options.log ?? (() => {});
  let file: string | undefined;
  if (options.dataDir) {
    await mkdir(options.dataDir, { recursive: true });
    file = path.join(options.dataDir, 'bigquery.duckdb');
  }
  const engine = await Engine.open(file ? { file } : {});
  try {
    const catalog = await Catalog.open(engine, options.dataDir, (query, projectId) => {
      try {
        const statement = compileStatement(query, {
          projectId,
          namedParams: new Map(),
          positionalParams: [],
          resolveTable: (name) => catalog.resolve(name.projectId, name.datasetId, name.tableId),
        });
        if (statement.kind !== 'query') throw new Error('A view must be defined by a query');
        const { compiled } = statement;
        return { sql: compiled.sql, fail: (error, prefix) => queryError(error, query, compiled.map, prefix) };
      } catch (error) {
        throw queryError(error, query);
      }
    });
    const insertIds = new InsertIdWindow(
      options.insertIdWindowMs ?? DEFAULT_INSERT_ID_WINDOW_MS,
      options.clock,
    );
    catalog.onTableReset = (key) => insertIds.forget(key);
    const jobs = new Jobs(engine, catalog);
    const warn = options.warn ?? ((line: string) => process.stderr.write(`bigquery-emulator: ${line}\n`));
    const server = createServer({ engine, catalog, jobs, insertIds, log, warn });
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    let stopping: Promise<void> | undefined;
    return {
      host,
      port,
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      stop() {
        stopping ??= (async () => {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
          await engine.close();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await engine.close().catch(() => {});
    throw error;
  }
}
