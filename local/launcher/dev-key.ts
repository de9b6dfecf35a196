/**
 * The local stack's API key: CONVEYOR_API_KEY when given, else the one generated on the first start
 * and kept in the data directory (so scripts and `npx conveyor` keep working across restarts).
 * Registered with every scope, stored hashed like any key, and printed by the launcher.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { API_SCOPES, createApiKey, generateApiKey, hashApiKey } from '#shared/store/api-keys.ts';
import type { Queryable } from '#shared/store/pool.ts';

export const DEV_KEY_NAME = 'local-dev';
export const DEV_KEY_FILE = 'dev-api-key';
/** The dev key is for a person and local tools, benches included: the API's per-key limit is lifted. */
const DEV_RATE_LIMIT_PER_MINUTE = 10_000_000;

export async function ensureDevApiKey(
  db: Queryable,
  options: { dataDir: string; key?: string | undefined },
): Promise<{ key: string; created: boolean }> {
  const file = path.join(options.dataDir, DEV_KEY_FILE);
  const stored = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  const key = options.key ?? (stored || generateApiKey());
  if (!options.key && key !== stored) {
    await mkdir(options.dataDir, { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
  }
  const { rows } = await db.query<{ revoked: boolean }>(
    'SELECT revoked_at IS NOT NULL AS revoked FROM api_keys WHERE key_hash = $1',
    [hashApiKey(key)],
  );
  if (rows[0]?.revoked) {
    throw new Error(
      `the dev API key was revoked: ${options.key ? 'set another CONVEYOR_API_KEY' : `delete ${file} for a new one`}`,
    );
  }
  if (rows[0]) return { key, created: false };
  await createApiKey(db, {
    name: DEV_KEY_NAME,
    scopes: API_SCOPES,
    key,
    rateLimitPerMinute: DEV_RATE_LIMIT_PER_MINUTE,
  });
  return { key, created: true };
}
