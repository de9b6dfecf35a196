/** The timeouts function's environment, parsed once by index.ts. */
import { z } from 'zod';
import { functionConfigSchema } from '#shared/functions/runtime.ts';

export const timeoutsConfigSchema = functionConfigSchema.extend({
  /** Refunds of charges a cancelled order never recorded. */
  PAYMENT_PROVIDER_URL: z.url(),
  /** Cancels of parcels a cancelled order never recorded. */
  SHIPPING_PROVIDER_URL: z.url(),
});
