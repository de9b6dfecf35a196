/**
 * Webhook signatures: HMAC-SHA256 over `${timestamp}.${rawBody}`, sent as
 *
 *   Conveyor-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]
 *
 * One v1 per signing secret, so a secret can be rotated without a gap: the sender signs with the
 * old and the new secret, each receiver accepts any of the secrets it knows. The receiver checks
 * the signature over the raw bytes (never a re-serialised body) in constant time, then that the
 * timestamp is within the tolerance either way, which bounds how long a captured delivery can be
 * replayed; replays inside the window are caught by the provider event id, processed once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '#shared/errors.ts';
import { InvalidSignatureError, MalformedSignatureHeaderError, StaleTimestampError } from './errors.ts';

export const SIGNATURE_HEADER = 'Conveyor-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The raw request body, exactly as received or sent. */
export type RawBody = string | Uint8Array;
/** Milliseconds since the epoch, like Date.now. */
export type Clock = () => number;

const SIGNATURE_BYTES = 32;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;
/** Bounds what a hostile header can make the receiver do. */
const MAX_HEADER_LENGTH = 2048;
const MAX_SIGNATURES = 8;

/** The hex HMAC-SHA256 of `${timestamp}.${rawBody}` under `secret`. */
export function computeSignature(secret: string, timestamp: number, rawBody: RawBody): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** The header value signing `rawBody` at `timestamp` (unix seconds) with every secret given. */
export function signatureHeader(rawBody: RawBody, secrets: readonly string[], timestamp: number): string {
  requireSecrets(secrets);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`timestamp must be whole unix seconds, got ${timestamp}`);
  }
  return [
    `t=${timestamp}`,
    ...secrets.map((secret) => `v1=${computeSignature(secret, timestamp, rawBody)}`),
  ].join(',');
}

export interface ParsedSignatureHeader {
  timestamp: number;
  /** The v1 signatures, lowercase hex; other schemes are ignored. */
  signatures: string[];
}

/** Parses a header value; throws MalformedSignatureHeaderError saying what is wrong. */
export function parseSignatureHeader(header: string | undefined): ParsedSignatureHeader {
  if (header === undefined || header.trim() === '') {
    throw new MalformedSignatureHeaderError(`the ${SIGNATURE_HEADER} header is missing`);
  }
  if (header.length > MAX_HEADER_LENGTH) {
    throw new MalformedSignatureHeaderError(`longer than ${MAX_HEADER_LENGTH} characters`);
  }
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator <= 0) throw new MalformedSignatureHeaderError(`expected key=value, got "${clip(part)}"`);
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined) throw new MalformedSignatureHeaderError('more than one timestamp');
      if (!/^\d{1,12}$/.test(value)) {
        throw new MalformedSignatureHeaderError(`the timestamp must be unix seconds, got "${clip(value)}"`);
      }
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!HEX_SIGNATURE.test(value)) {
        throw new MalformedSignatureHeaderError('a v1 signature must be 64 lowercase hex digits');
      }
      signatures.push(value);
    }
  }
  if (timestamp === undefined) throw new MalformedSignatureHeaderError('no timestamp (t=…)');
  if (signatures.length === 0) throw new MalformedSignatureHeaderError('no v1 signature');
  if (signatures.length > MAX_SIGNATURES) {
    throw new MalformedSignatureHeaderError(`more than ${MAX_SIGNATURES} signatures`);
  }
  return { timestamp, signatures };
}

export interface VerifyOptions {
  /** The header value as received; undefined when the header is absent. */
  header: string | undefined;
  rawBody: RawBody;
  /** Every secret currently accepted (during a rotation: the old and the new). */
  secrets: readonly string[];
  /** The receiver's time, in milliseconds since the epoch. */
  now: number;
  toleranceSeconds?: number;
}

/**
 * Verifies a delivery: a v1 signature made with one of `secrets` over this exact body, and a
 * timestamp within the tolerance of `now` either way. Returns the signed timestamp; throws
 * MalformedSignatureHeaderError, InvalidSignatureError or StaleTimestampError.
 */
export function verifySignature(options: VerifyOptions): { timestamp: number } {
  requireSecrets(options.secrets);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const { timestamp, signatures } = parseSignatureHeader(options.header);
  const received = signatures.map((hex) => Buffer.from(hex, 'hex'));
  let matched = false;
  // Every pair is compared, so the time taken says nothing about which secret or signature matched.
  for (const secret of options.secrets) {
    const expected = Buffer.from(computeSignature(secret, timestamp, options.rawBody), 'hex');
    for (const candidate of received) {
      if (candidate.length === SIGNATURE_BYTES && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  if (!matched) throw new InvalidSignatureError();
  const nowSeconds = Math.floor(options.now / 1000);
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new StaleTimestampError(timestamp, nowSeconds, tolerance);
  }
  return { timestamp };
}

export interface WebhookSigner {
  /** The header value for `rawBody`, timestamped now. */
  sign(rawBody: RawBody): string;
}

/** Signs with every configured secret (more than one while rotating), timestamped by `clock`. */
export function createWebhookSigner(options: { secrets: readonly string[]; clock?: Clock }): WebhookSigner {
  const secrets = requireSecrets(options.secrets);
  const clock = options.clock ?? Date.now;
  return { sign: (rawBody) => signatureHeader(rawBody, secrets, Math.floor(clock() / 1000)) };
}

export interface WebhookVerifier {
  /** Returns the signed timestamp, or throws a WebhookSignatureError. */
  verify(header: string | undefined, rawBody: RawBody): { timestamp: number };
}

/** Verifies against every configured secret, with the time from `clock`. */
export function createWebhookVerifier(options: {
  secrets: readonly string[];
  clock?: Clock;
  toleranceSeconds?: number;
}): WebhookVerifier {
  const secrets = requireSecrets(options.secrets);
  const clock = options.clock ?? Date.now;
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  return {
    verify: (header, rawBody) =>
      verifySignature({ header, rawBody, secrets, now: clock(), toleranceSeconds }),
  };
}

function requireSecrets(secrets: readonly string[]): readonly string[] {
  if (secrets.length === 0 || secrets.some((secret) => secret.length === 0)) {
    throw new ConfigError(['webhook secrets: at least one, and none empty']);
  }
  return [...secrets];
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
