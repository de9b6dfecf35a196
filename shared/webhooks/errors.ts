/**
 * Why a webhook's signature was refused. None is retryable: the same delivery will fail the same
 * way. The API answers each with a 4xx problem+json and changes nothing.
 */
import { ConveyorError } from '#shared/errors.ts';

export const SIGNATURE_FAILURE = {
  malformed: 'malformed_signature_header',
  mismatch: 'signature_mismatch',
  stale: 'stale_timestamp',
} as const;
export type SignatureFailure = (typeof SIGNATURE_FAILURE)[keyof typeof SIGNATURE_FAILURE];

export class WebhookSignatureError extends ConveyorError {
  readonly code: SignatureFailure;

  constructor(code: SignatureFailure, message: string) {
    super(message, { retryable: false });
    this.code = code;
  }
}

/** The header is missing, or not `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`. */
export class MalformedSignatureHeaderError extends WebhookSignatureError {
  constructor(message: string) {
    super(SIGNATURE_FAILURE.malformed, `malformed signature header: ${message}`);
  }
}

/** No v1 signature matches the body under any of the secrets: tampered, or a wrong secret. */
export class InvalidSignatureError extends WebhookSignatureError {
  constructor() {
    super(SIGNATURE_FAILURE.mismatch, 'no signature matches the payload');
  }
}

/** Correctly signed, but too long ago (a replay) or too far ahead (a wrong clock). */
export class StaleTimestampError extends WebhookSignatureError {
  readonly timestamp: number;
  readonly toleranceSeconds: number;

  constructor(timestamp: number, nowSeconds: number, toleranceSeconds: number) {
    const drift = nowSeconds - timestamp;
    super(
      SIGNATURE_FAILURE.stale,
      `signature timestamp is ${Math.abs(drift)} s ${drift > 0 ? 'old' : 'in the future'}, ` +
        `beyond the ${toleranceSeconds} s tolerance`,
    );
    this.timestamp = timestamp;
    this.toleranceSeconds = toleranceSeconds;
  }
}
