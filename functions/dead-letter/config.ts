/** The dead-letter function's environment, parsed once by index.ts. */
import { z } from 'zod';
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import { functionConfigSchema } from '#shared/functions/runtime.ts';

export const deadLetterConfigSchema = functionConfigSchema.extend({
  /** The analytics dataset whose dead_letters table feeds the dead-letter rate view. */
  BIGQUERY_DATASET: z
    .string()
    .regex(/^\w{1,1024}$/, 'expected a BigQuery dataset id')
    .default(BIGQUERY.dataset),
  /** URL of the BigQuery emulator; unset in production (see shared/analytics/client.ts). */
  BIGQUERY_API_ENDPOINT: z.url().optional(),
});
