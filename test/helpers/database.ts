/**
 * A fresh database per test file, cloned from the migrated template the test runner (test/run.ts)
 * prepares, on the one PostgreSQL of the run. Cloning takes milliseconds; migrations ran once.
 *
 *   let db: TestDatabase;
 *   before(async () => (db = await createTestDatabase()));
 *   after(() => db.drop());
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '#shared/store/pool.ts';

export const TEST_ENV = {
  adminUrl: 'CONVEYOR_TEST_ADMIN_URL',
  template: 'CONVEYOR_TEST_TEMPLATE',
  prefix: 'CONVEYOR_TEST_DB_PREFIX',
} as const;

export interface TestDatabase {
  readonly name: string;
  /** Connection URL of this database. */
  readonly url: string;
  /** A pool on this database, closed by drop(). */
  readonly pool: Pool;
  /** A connection URL for another database on the same server (for admin work). */
  urlFor(database: string): string;
  /** Closes the pool and drops the database, disconnecting anyone still on it. */
  drop(): Promise<void>;
}

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run database tests through the runner, e.g. ` +
        `npm run test:integration -- test/integration/<file>.test.ts`,
    );
  }
  return value;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = setting(TEST_ENV.adminUrl);
  const template = setting(TEST_ENV.template);
  const name = `${setting(TEST_ENV.prefix)}${randomBytes(5).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const urlFor = (database: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const url = urlFor(name);
  const pool = createPool({ url, applicationName: 'test', max: 20 });
  let dropped = false;
  return {
    name,
    url,
    pool,
    urlFor,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(adminUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
