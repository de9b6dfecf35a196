/**
 * API clients and their keys. Only a SHA-256 digest of a key is stored. A key is 32 random bytes
 * (256 bits), so a leaked digest cannot be reversed by guessing; slow password hashes (bcrypt,
 * argon2) protect low-entropy secrets and would cost milliseconds of CPU on every request. The
 * digest is looked up through a unique index, so no comparison of secrets happens in our code.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '#shared/errors.ts';
import type { Queryable } from './pool.ts';

export const API_SCOPES = ['orders:read', 'orders:write', 'admin'] as const;
export const ApiScopeSchema = z.enum(API_SCOPES);
export type ApiScope = z.infer<typeof ApiScopeSchema>;

/** Keys look like `cvk_` + 43 base64url characters; the prefix makes leaked keys easy to scan for. */
export const API_KEY_PREFIX = 'cvk_';
const KEY_PATTERN = /^cvk_[A-Za-z0-9_-]{43}$/;

export interface ApiClient {
  id: string;
  name: string;
  scopes: ApiScope[];
  /** Requests per minute for this key; undefined = the deployment's default. */
  rateLimitPerMinute: number | undefined;
}

export interface NewApiKey {
  name: string;
  scopes: readonly ApiScope[];
  /** A key to register instead of a random one (the local launcher's dev key); same format. */
  key?: string;
  rateLimitPerMinute?: number;
}

/** A fresh random API key. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function isWellFormedApiKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/**
 * Registers a key for a new client and returns the key in clear text: the only time it is ever
 * seen. Registering the same key twice fails (key_hash is unique).
 */
export async function createApiKey(
  client: Queryable,
  input: NewApiKey,
): Promise<ApiClient & { key: string }> {
  const key = input.key ?? generateApiKey();
  const problems = [
    ...(isWellFormedApiKey(key)
      ? []
      : [{ path: 'key', message: `expected ${API_KEY_PREFIX} + 43 base64url characters` }]),
    ...(input.name.trim() === '' || input.name.length > 200
      ? [{ path: 'name', message: 'expected 1-200 characters' }]
      : []),
    ...(input.scopes.length === 0 ? [{ path: 'scopes', message: 'at least one scope' }] : []),
    ...input.scopes
      .filter((scope) => !ApiScopeSchema.safeParse(scope).success)
      .map((scope) => ({ path: 'scopes', message: `unknown scope ${scope}` })),
  ];
  if (
    input.rateLimitPerMinute !== undefined &&
    !(Number.isInteger(input.rateLimitPerMinute) && input.rateLimitPerMinute > 0)
  ) {
    problems.push({ path: 'rateLimitPerMinute', message: 'expected a positive whole number' });
  }
  if (problems.length > 0) throw new ValidationError('invalid API key', problems);
  const id = randomUUID();
  const scopes = [...new Set(input.scopes)];
  await client.query(
    `INSERT INTO api_keys (id, name, key_hash, scopes, rate_limit_per_minute) VALUES ($1, $2, $3, $4, $5)`,
    [id, input.name, hashApiKey(key), scopes, input.rateLimitPerMinute ?? null],
  );
  return { id, name: input.name, scopes, rateLimitPerMinute: input.rateLimitPerMinute, key };
}

/** The client a key belongs to, unless the key is unknown or revoked. */
export async function findApiClient(client: Queryable, key: string): Promise<ApiClient | undefined> {
  if (!isWellFormedApiKey(key)) return undefined;
  const { rows } = await client.query<{
    id: string;
    name: string;
    scopes: string[];
    rate_limit_per_minute: number | null;
  }>({
    name: 'conveyor.api-keys.find',
    text: `SELECT id, name, scopes, rate_limit_per_minute FROM api_keys
            WHERE key_hash = $1 AND revoked_at IS NULL`,
    values: [hashApiKey(key)],
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.filter((scope): scope is ApiScope => ApiScopeSchema.safeParse(scope).success),
    rateLimitPerMinute: row.rate_limit_per_minute ?? undefined,
  };
}

/** Revokes a client's key; returns whether it was active. */
export async function revokeApiKey(client: Queryable, id: string): Promise<boolean> {
  const result = await client.query(
    `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`,
    [id],
  );
  return (result.rowCount ?? 0) > 0;
}
