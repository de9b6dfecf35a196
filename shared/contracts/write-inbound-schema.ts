/** Writes inbound.schema.json from the zod schemas of inbound.ts: `node shared/contracts/write-inbound-schema.ts`. */
import { writeFileSync } from 'node:fs';
import { inboundJsonSchemaText } from './inbound.ts';

const target = new URL('./inbound.schema.json', import.meta.url);
writeFileSync(target, inboundJsonSchemaText());
process.stdout.write(`wrote ${target.pathname}\n`);
