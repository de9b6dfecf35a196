/**
 * Checks the OIDC token a push subscription sends (Authorization: Bearer <JWT>). In production
 * Cloud Run's IAM check does this before the function runs; locally the function does it itself
 * against the JWKS of the Pub/Sub emulator, so a local function accepts only the push it would
 * accept in production.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { ConveyorError } from '#shared/errors.ts';

export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export class PushAuthError extends ConveyorError {}

export interface PushAuthOptions {
  jwks: JSONWebKeySet;
  /** The audience the subscription's OIDC token names: the function's URL. */
  audience: string;
  /** When set, only tokens of this service account are accepted. */
  serviceAccountEmail?: string | undefined;
}

export type PushAuthenticator = (authorization: string | undefined) => Promise<void>;

/** Tokens already verified, remembered until they expire (at most this many). */
const VERIFIED_TOKENS = 256;

export function createPushAuthenticator(
  options: PushAuthOptions,
  now: () => number = Date.now,
): PushAuthenticator {
  const keys = createLocalJWKSet(options.jwks);
  // Pub/Sub reuses a token for many pushes (the emulator for up to an hour): an RS256 check of the
  // very same string on every message was a tenth of a busy function's CPU. Accepted until its exp.
  const verified = new Map<string, number>();
  return async (authorization) => {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new PushAuthError('missing bearer token');
    const expiresAt = verified.get(token);
    if (expiresAt !== undefined && expiresAt > now()) return;
    verified.delete(token);
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: GOOGLE_ISSUERS,
        audience: options.audience,
        currentDate: new Date(now()),
      });
      if (options.serviceAccountEmail && payload.email !== options.serviceAccountEmail) {
        throw new PushAuthError(`token of ${String(payload.email)}, not ${options.serviceAccountEmail}`);
      }
      if (payload.email_verified === false) throw new PushAuthError('token email is not verified');
      if (payload.exp !== undefined) {
        if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value!);
        verified.set(token, payload.exp * 1000);
      }
    } catch (error) {
      if (error instanceof PushAuthError) throw error;
      throw new PushAuthError(
        `invalid push token: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };
}
