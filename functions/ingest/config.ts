/** The ingest function's environment, parsed once by index.ts. */
import { functionConfigSchema } from '#shared/functions/runtime.ts';

export const ingestConfigSchema = functionConfigSchema;
