/** The dead-letter function's environment, parsed once by index.ts. */
import { functionConfigSchema } from '#shared/functions/runtime.ts';

export const deadLetterConfigSchema = functionConfigSchema;
