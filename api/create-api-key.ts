/**
 * Registers an API client and prints its key (the only time the key is shown):
 *
 *   node api/create-api-key.ts --name shop-1 --scopes orders:read,orders:write [--rate-limit 1200]
 *   node api/create-api-key.ts --name dev --scopes admin --key cvk_... --json
 *
 * Reads DATABASE_URL. The local launcher registers its dev key through createApiKey directly.
 */
import { Command, InvalidArgumentError } from 'commander';
import { databaseConfig, loadConfigOrExit } from '#shared/config/index.ts';
import { ValidationError } from '#shared/errors.ts';
import { API_SCOPES, ApiScopeSchema, createApiKey, type ApiScope } from '#shared/store/api-keys.ts';
import { createPool } from '#shared/store/pool.ts';

const program = new Command('create-api-key')
  .description('Register an API client and print its key')
  .requiredOption('--name <name>', 'who the key is for (shown in audit records)')
  .requiredOption('--scopes <scopes>', `comma-separated: ${API_SCOPES.join(', ')}`, parseScopes)
  .option('--key <key>', 'register this key instead of a random one')
  .option('--rate-limit <perMinute>', 'requests per minute for this key', parsePositive)
  .option('--json', 'print {id, name, scopes, key} as JSON')
  .parse();

const options = program.opts<{
  name: string;
  scopes: ApiScope[];
  key?: string;
  rateLimit?: number;
  json?: boolean;
}>();
const config = loadConfigOrExit(databaseConfig, process.env, 'create-api-key');
const pool = createPool({ url: config.DATABASE_URL, applicationName: 'create-api-key', max: 1 });
try {
  const created = await createApiKey(pool, {
    name: options.name,
    scopes: options.scopes,
    ...(options.key ? { key: options.key } : {}),
    ...(options.rateLimit ? { rateLimitPerMinute: options.rateLimit } : {}),
  });
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ id: created.id, name: created.name, scopes: created.scopes, key: created.key })}\n`,
    );
  } else {
    process.stdout.write(
      `API key for ${created.name} (${created.scopes.join(', ')}), id ${created.id}:\n\n  ${created.key}\n\n` +
        'Store it now: only its hash is kept.\n',
    );
  }
} catch (error) {
  const detail =
    error instanceof ValidationError
      ? error.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')
      : String(error);
  process.stderr.write(`create-api-key: ${detail}\n`);
  process.exitCode = 1;
} finally {
  await pool.end();
}

function parseScopes(value: string): ApiScope[] {
  const scopes = value
    .split(',')
    .map((scope) => scope.trim())
    .filter(Boolean);
  for (const scope of scopes) {
    if (!ApiScopeSchema.safeParse(scope).success) {
      throw new InvalidArgumentError(`unknown scope ${scope}; expected ${API_SCOPES.join(', ')}`);
    }
  }
  return scopes as ApiScope[];
}

function parsePositive(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
}
