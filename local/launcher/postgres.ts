/** The launcher's database: embedded PostgreSQL (or the server in DATABASE_URL), migrated. */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '#shared/store/migrate.ts';
import { postgresDataRoot, startLocalPostgres, type LocalPostgres } from '../postgres/index.ts';
import type { Component } from './stack.ts';

export const LOCAL_DATABASE = 'conveyor';
const LOCAL_PASSWORD = 'conveyor';

/** The database a stack runs on; an embedded server can be stopped and started again (fault tests). */
export interface LocalDatabase {
  /** Connection URL of the `conveyor` database. */
  readonly url: string;
  readonly embedded: boolean;
  /** The embedded server's postmaster (its backends are its children); undefined when not ours or stopped. */
  readonly pid: number | undefined;
  /** Fast shutdown of the embedded server (not available with DATABASE_URL). */
  stop(): Promise<void>;
  /** Starts the embedded server again on the same port and data. */
  start(): Promise<void>;
}

export function postgresComponent(options: {
  databaseUrl: string | undefined;
  port: number;
  dataDir: string;
  /** Remove the cluster on stop (tests). */
  ephemeral?: boolean;
  log: (line: string) => void;
  onReady?: (database: LocalDatabase) => void;
}): Component {
  return {
    name: 'PostgreSQL',
    async start() {
      if (options.databaseUrl) {
        const url = options.databaseUrl;
        await migrate({ databaseUrl: url, log: () => {} });
        const refuse = () => Promise.reject(new Error('PostgreSQL from DATABASE_URL is not ours to stop'));
        options.onReady?.({ url, embedded: false, pid: undefined, stop: refuse, start: refuse });
        return {
          name: 'PostgreSQL',
          endpoints: { PostgreSQL: `${redact(url)} (from DATABASE_URL)` },
          env: { DATABASE_URL: url },
          stop: async () => {},
        };
      }
      const dataDir = path.join(postgresDataRoot(path.resolve(options.dataDir)), 'postgres');
      const launch = (port: number) =>
        startLocalPostgres({
          dataDir,
          port,
          password: LOCAL_PASSWORD,
          fast: true,
          processGroup: true,
          onLog: options.log,
        });
      let server: LocalPostgres | undefined = await launch(options.port);
      const port = server.port;
      try {
        await ensureDatabase(server.url(), LOCAL_DATABASE);
        const url = server.url(LOCAL_DATABASE);
        const ran = await migrate({ databaseUrl: url, log: () => {} });
        if (ran.length) options.log(`applied migrations: ${ran.join(', ')}`);
        options.onReady?.({
          url,
          embedded: true,
          get pid() {
            return server?.pid;
          },
          async stop() {
            await server?.stop();
            server = undefined;
          },
          async start() {
            server ??= await launch(port);
          },
        });
        return {
          name: 'PostgreSQL',
          endpoints: { PostgreSQL: `${redact(url)} (embedded, data in ${dataDir})` },
          env: { DATABASE_URL: url },
          async stop() {
            await server?.stop();
            server = undefined;
            if (options.ephemeral) {
              await rm(dataDir, { recursive: true, force: true });
              await rm(`${dataDir}.conveyor-password`, { force: true });
            }
          },
        };
      } catch (error) {
        await server.stop();
        throw error;
      }
    },
  };
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client(adminUrl);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

/** A URL with its password hidden, for printing. */
export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
