/** Signed webhooks: HMAC-SHA256 signatures over timestamp and raw body, with key rotation. */
export * from './errors.ts';
export * from './signature.ts';
