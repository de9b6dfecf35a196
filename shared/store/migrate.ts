/**
 * Schema migrations: numbered SQL files in ./migrations, applied in order by node-pg-migrate under
 * its advisory lock, so several instances starting at once apply each migration exactly once.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

export const MIGRATIONS_TABLE = 'schema_migrations';

/** The migrations folder beside this module (bundles copy it next to themselves). */
export const defaultMigrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

export interface MigrateOptions {
  databaseUrl: string;
  direction?: 'up' | 'down';
  /** How many to run; all pending (up) or one (down) by default. */
  count?: number;
  dir?: string;
  log?: (message: string) => void;
}

/** Applies pending migrations (or reverts some); returns the names it ran, in order. */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const direction = options.direction ?? 'up';
  const ran = await runner({
    databaseUrl: options.databaseUrl,
    dir: path.resolve(options.dir ?? defaultMigrationsDir),
    direction,
    count: options.count ?? (direction === 'up' ? Infinity : 1),
    migrationsTable: MIGRATIONS_TABLE,
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log: options.log ?? (() => {}),
  });
  return ran.map((migration) => migration.name);
}
