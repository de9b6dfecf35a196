/**
 * The push OIDC check: a valid token passes (and is remembered until it expires, so the signature
 * is checked once per token, not once per message); a forged, foreign, expired or absent one fails.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import { createPushAuthenticator, PushAuthError } from '#shared/messaging/push-auth.ts';

const AUDIENCE = 'http://127.0.0.1:8091/';
const INVOKER = 'push-invoker@conveyor-local.iam.gserviceaccount.com';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };

async function token(
  options: { key?: typeof privateKey; email?: string; expiresAt?: number; iat?: number } = {},
) {
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  return new SignJWT({ email: options.email ?? INVOKER, email_verified: true })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer('https://accounts.google.com')
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(options.expiresAt ?? iat + 3600)
    .sign(options.key ?? privateKey);
}

describe('push authentication', () => {
  it('accepts a valid token, again and again, until it expires', async () => {
    let clock = Date.now();
    const check = createPushAuthenticator(
      { jwks, audience: AUDIENCE, serviceAccountEmail: INVOKER },
      () => clock,
    );
    const valid = await token({ expiresAt: Math.floor(clock / 1000) + 60 });
    await check(`Bearer ${valid}`);
    await check(`Bearer ${valid}`);
    clock += 61_000;
    await assert.rejects(check(`Bearer ${valid}`), PushAuthError, 'expired: refused, cached or not');
  });

  it('refuses a forged, a foreign or a missing token', async () => {
    const check = createPushAuthenticator({ jwks, audience: AUDIENCE, serviceAccountEmail: INVOKER });
    await check(`Bearer ${await token()}`); // something cached: it must not let others through
    await assert.rejects(check(`Bearer ${await token({ key: other.privateKey })}`), PushAuthError);
    await assert.rejects(check(`Bearer ${await token({ email: 'someone@example.com' })}`), PushAuthError);
    await assert.rejects(check(undefined), PushAuthError);
    await assert.rejects(check('Bearer not.a.jwt'), PushAuthError);
  });
});
