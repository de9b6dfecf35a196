/** The saga function's environment, parsed once by index.ts. */
import { z } from 'zod';
import { functionConfigSchema } from '#shared/functions/runtime.ts';

const wholeMillis = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

export const sagaConfigSchema = functionConfigSchema.extend({
  PAYMENT_PROVIDER_URL: z.url(),
  SHIPPING_PROVIDER_URL: z.url(),
  /** Orders above this total (minor units) wait for an operator's approval. */
  APPROVAL_THRESHOLD_MINOR: z.coerce.number().int().min(0),
  /** No approval decision this long after the request: escalate. */
  APPROVAL_ESCALATE_AFTER_MS: wholeMillis(60 * 60_000),
  /** No approval decision this long after the request: cancel. */
  APPROVAL_EXPIRE_AFTER_MS: wholeMillis(24 * 60 * 60_000),
  /** Saga steps in flight at once per instance; each holds a connection, so keep it under PG_POOL_MAX. */
  SAGA_CONCURRENCY: z.coerce.number().int().min(1).max(500).optional(),
});
export type SagaFunctionConfig = z.infer<typeof sagaConfigSchema>;
