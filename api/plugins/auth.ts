/**
 * API keys and rate limits. Three onRequest hooks, in this order, before the body is even read:
 * authenticate (`Authorization: Bearer <key>` → the client, or nobody), rate limit (per client,
 * or per IP for requests without a valid key), authorize (401 without a valid key, 403 without the
 * route's scope). Routes declare `config: { scope }`; public routes declare `config: { public: true }`.
 *
 * Looked-up keys are cached for a short time, so a request costs no database round trip for its
 * key; a revoked key stops working within that time. Rate limits count per instance.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findApiClient, hashApiKey, type ApiClient, type ApiScope } from '#shared/store/api-keys.ts';
import type { Pool } from '#shared/store/pool.ts';
import { HttpProblem } from '../problems.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API client; undefined on public routes and when authentication failed. */
    apiClient: ApiClient | undefined;
    authFailure: 'missing' | 'invalid' | undefined;
  }
  interface FastifyContextConfig {
    /** No API key needed (health, docs). */
    public?: boolean;
    /** The scope a key needs for this route; admin keys have every scope. */
    scope?: ApiScope;
  }
}

export function hasScope(client: ApiClient, scope: ApiScope): boolean {
  return client.scopes.includes(scope) || client.scopes.includes('admin');
}

export interface AuthOptions {
  pool: Pool;
  cacheTtlMs: number;
  rateLimitPerMinute: number;
  clock: () => Date;
}

export async function auth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const lookup = createKeyCache(options.pool, options.cacheTtlMs, () => options.clock().getTime());
  app.decorateRequest('apiClient', undefined);
  app.decorateRequest('authFailure', undefined);

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public) return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer +(\S+) *$/i.exec(header) : null;
    if (!match) {
      request.authFailure = 'missing';
      return;
    }
    request.apiClient = await lookup(match[1]!);
    if (!request.apiClient) request.authFailure = 'invalid';
  });

  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: 60_000,
    cache: 10_000,
    allowList: (request) => request.routeOptions.config.public === true,
    keyGenerator: (request) => (request.apiClient ? `client:${request.apiClient.id}` : `ip:${request.ip}`),
    max: (request) => request.apiClient?.rateLimitPerMinute ?? options.rateLimitPerMinute,
    // Thrown to the error handler, which answers problem+json; Retry-After is already set.
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`rate limit exceeded; retry in ${context.after}`), {
        statusCode: context.statusCode,
      }),
  });

  app.addHook('onRequest', (request, _reply, done) => {
    const { config } = request.routeOptions;
    const client = request.apiClient;
    if (config.public || request.is404) done();
    else if (!client) done(unauthorized(request));
    else if (config.scope && !hasScope(client, config.scope)) {
      done(new HttpProblem(403, 'forbidden', `this API key lacks the ${config.scope} scope`));
    } else done();
  });
}

function unauthorized(request: FastifyRequest): HttpProblem {
  const invalid = request.authFailure === 'invalid';
  return new HttpProblem(
    401,
    'unauthorized',
    invalid ? 'the API key is unknown or revoked' : 'send an API key: Authorization: Bearer <key>',
    {
      headers: {
        'www-authenticate': invalid
          ? 'Bearer realm="conveyor", error="invalid_token"'
          : 'Bearer realm="conveyor"',
      },
    },
  );
}

/** Key → client, remembered for `ttlMs`; unknown keys for at most 5 s (so guessing costs few queries). */
function createKeyCache(pool: Pool, ttlMs: number, now: () => number) {
  const MAX_ENTRIES = 10_000;
  const entries = new Map<string, { client: ApiClient | undefined; expires: number }>();
  return async (key: string): Promise<ApiClient | undefined> => {
    const digest = hashApiKey(key);
    const cached = entries.get(digest);
    if (cached && cached.expires > now()) return cached.client;
    const client = await findApiClient(pool, key);
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    entries.delete(digest);
    entries.set(digest, { client, expires: now() + (client ? ttlMs : Math.min(ttlMs, 5_000)) });
    return client;
  };
}
