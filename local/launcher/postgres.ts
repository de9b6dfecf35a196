/** The launcher's database: embedded PostgreSQL (or the server in DATABASE_URL), migrated. */
import path from 'node:path';
import pg from 'pg';
import { migrate } from '#shared/store/migrate.ts';
import { postgresDataRoot, startLocalPostgres } from '../postgres/index.ts';
import type { Component } from './stack.ts';

export const LOCAL_DATABASE = 'conveyor';
const LOCAL_PASSWORD = 'conveyor';

export function postgresComponent(options: {
  databaseUrl: string | undefined;
  port: number;
  dataDir: string;
  log: (line: string) => void;
}): Component {
  return {
    name: 'PostgreSQL',
    async start() {
      if (options.databaseUrl) {
        await migrate({ databaseUrl: options.databaseUrl, log: () => {} });
        return {
          name: 'PostgreSQL',
          endpoints: { PostgreSQL: `${redact(options.databaseUrl)} (from DATABASE_URL)` },
          env: { DATABASE_URL: options.databaseUrl },
          stop: async () => {},
        };
      }
      const dataDir = path.join(postgresDataRoot(path.resolve(options.dataDir)), 'postgres');
      const server = await startLocalPostgres({
        dataDir,
        port: options.port,
        password: LOCAL_PASSWORD,
        fast: true,
        onLog: options.log,
      });
      try {
        await ensureDatabase(server.url(), LOCAL_DATABASE);
        const url = server.url(LOCAL_DATABASE);
        const ran = await migrate({ databaseUrl: url });
        if (ran.length) options.log(`applied migrations: ${ran.join(', ')}`);
        return {
          name: 'PostgreSQL',
          endpoints: { PostgreSQL: `${url} (embedded, data in ${dataDir})` },
          env: { DATABASE_URL: url },
          stop: () => server.stop(),
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

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
