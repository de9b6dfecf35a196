/**
 * Idempotent requests by Idempotency-Key, per API client. A key's record is written in the same
 * statement as the effect it guards (see appendEventsOnce), completed with the exact response, so
 * there is no window in which a key is taken but its effect is not committed; a crash rolls back
 * both and the client's retry simply runs again. Records expire (24 h by default) and are purged.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from './pool.ts';

/** Which request a key belongs to, and for how long it is remembered. */
export interface IdempotencyRecord {
  /** The API client (its key's id): keys are scoped per client. */
  clientId: string;
  key: string;
  method: string;
  path: string;
  /** requestHash() of what the client sent: the same key with another request is refused. */
  requestHash: string;
  ttlSeconds: number;
}

/** A response exactly as first sent: replayed byte for byte. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface StoredRequest {
  requestHash: string;
  method: string;
  path: string;
  response: StoredResponse | undefined;
}

/**
 * A digest of a request: method, path and the body as canonical JSON (object keys sorted), so the
 * same request with its keys in another order or other whitespace is still the same request.
 */
export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method.toUpperCase()} ${path}\n`)
    .update(canonicalJson(body))
    .digest('base64url');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/** The unexpired record of a key, if any. */
export async function findIdempotentRequest(
  client: Queryable,
  clientId: string,
  key: string,
): Promise<StoredRequest | undefined> {
  const { rows } = await client.query<{
    request_hash: string;
    request_method: string;
    request_path: string;
    status: string;
    response_status: number | null;
    response_headers: Record<string, string> | null;
    response_body: string | null;
  }>({
    name: 'conveyor.idempotency.find',
    text: `SELECT request_hash, request_method, request_path, status, response_status, response_headers,
                  response_body
             FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND expires_at > now()`,
    values: [clientId, key],
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    requestHash: row.request_hash,
    method: row.request_method,
    path: row.request_path,
    response:
      row.status === 'completed' && row.response_status !== null
        ? {
            status: row.response_status,
            headers: row.response_headers ?? {},
            body: row.response_body ?? '',
          }
        : undefined,
  };
}

/** Deletes up to `limit` expired records; returns how many. Call periodically. */
export async function purgeExpiredIdempotencyKeys(client: Queryable, limit = 1_000): Promise<number> {
  const result = await client.query(
    `DELETE FROM idempotency_keys k
      USING (SELECT client_id, key FROM idempotency_keys WHERE expires_at <= now()
              ORDER BY expires_at LIMIT $1) expired
      WHERE k.client_id = expired.client_id AND k.key = expired.key AND k.expires_at <= now()`,
    [limit],
  );
  return result.rowCount ?? 0;
}
