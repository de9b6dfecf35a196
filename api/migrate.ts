/**
 * Entry point of the migration job: applies pending schema migrations and exits. Runs before a
 * new API revision takes traffic (a Cloud Run job in production, `npm run migrate` locally).
 */
import { z } from 'zod';
import { databaseConfig, loadConfigOrExit, loggingConfig } from '#shared/config/index.ts';
import { createLogger } from '#shared/logging/index.ts';
import { migrate } from '#shared/store/migrate.ts';

const migrateConfig = databaseConfig.extend({
  ...loggingConfig.shape,
  /** Where the SQL files are; a bundle ships them beside itself. */
  MIGRATIONS_DIR: z.string().min(1).optional(),
});
const config = loadConfigOrExit(migrateConfig, process.env, 'migrate');
const logger = createLogger({ service: 'migrate', level: config.LOG_LEVEL });

try {
  const ran = await migrate({
    databaseUrl: config.DATABASE_URL,
    ...(config.MIGRATIONS_DIR ? { dir: config.MIGRATIONS_DIR } : {}),
    log: (message) => logger.debug(message),
  });
  logger.info({ migrations: ran }, ran.length ? `applied ${ran.length} migration(s)` : 'schema up to date');
} catch (error) {
  logger.fatal({ error }, 'migration failed');
  process.exitCode = 1;
}
