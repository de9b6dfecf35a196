/**
 * OIDC tokens for authenticated push (PushConfig.oidc_token): an RS256 JWT with the claims a
 * Google-signed push token carries (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions),
 * signed with a local key. The public half is published as a JWKS so a receiver verifies the
 * token locally exactly as it would verify Google's against https://www.googleapis.com/oauth2/v3/certs.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export const OIDC_ISSUER = 'https://accounts.google.com';
const TOKEN_LIFETIME_SECONDS = 3600;

export interface OidcSigningKey {
  /** An RSA private key, PEM (PKCS#8 or PKCS#1). */
  privateKeyPem: string;
  /** The `kid` header and JWKS key id; defaults to the key's JWK thumbprint. */
  keyId?: string;
}

export interface JsonWebKeySet {
  keys: JWK[];
}

export class OidcSigner {
  readonly jwks: JsonWebKeySet;
  readonly issuer = OIDC_ISSUER;
  private readonly privateKey: KeyObject;
  private readonly keyId: string;
  private readonly cache = new Map<string, { token: string; renewAt: number }>();

  private constructor(privateKey: KeyObject, keyId: string, publicJwk: JWK) {
    this.privateKey = privateKey;
    this.keyId = keyId;
    this.jwks = { keys: [publicJwk] };
  }

  /** A signer with the given key, or a fresh 2048-bit RSA key. */
  static async create(key?: OidcSigningKey): Promise<OidcSigner> {
    // Generating a key takes ~100 ms of CPU: done off the event loop.
    const privateKey = key
      ? createPrivateKey(key.privateKeyPem)
      : (await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })).privateKey;
    if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('the OIDC signing key must be an RSA key');
    const jwk = await exportJWK(createPublicKey(privateKey));
    const keyId = key?.keyId ?? (await calculateJwkThumbprint(jwk));
    return new OidcSigner(privateKey, keyId, { ...jwk, kid: keyId, alg: 'RS256', use: 'sig' });
  }

  /** A token for `serviceAccountEmail` with audience `audience`; reused until close to expiry. */
  async token(serviceAccountEmail: string, audience: string): Promise<string> {
    const cacheKey = `${serviceAccountEmail}\n${audience}`;
    const now = Math.floor(Date.now() / 1000);
    const cached = this.cache.get(cacheKey);
    if (cached && cached.renewAt > now) return cached.token;
    const subject = numericId(serviceAccountEmail);
    const token = await new SignJWT({
      azp: subject,
      email: serviceAccountEmail,
      email_verified: true,
    })
      .setProtectedHeader({ alg: 'RS256', kid: this.keyId, typ: 'JWT' })
      .setIssuer(OIDC_ISSUER)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
      .sign(this.privateKey);
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(cacheKey, { token, renewAt: now + TOKEN_LIFETIME_SECONDS - 300 });
    return token;
  }
}

/** A stable 21-digit id standing in for the service account's unique id (Google's `sub`). */
function numericId(email: string): string {
  const digest = createHash('sha256').update(email).digest();
  let digits = '1';
  for (let i = 0; digits.length < 21; i++) digits += String(digest[i % digest.length]! % 10);
  return digits;
}
