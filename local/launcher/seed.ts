/**
 * The seeded catalogue and stock (seed.json beside this file): written through the store functions
 * the API uses, only for SKUs not yet in the catalogue, so a restart keeps prices and stock.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { getCatalogueItem, putCatalogueItem, setInventory } from '#shared/store/catalogue.ts';
import type { Queryable } from '#shared/store/pool.ts';

export const SEED_FILE = new URL('./seed.json', import.meta.url);

export const SeedSchema = z.object({
  description: z.string().optional(),
  operator: z.string().min(1).default('launcher-seed'),
  items: z.array(
    z.strictObject({
      sku: z.string().min(1).max(64),
      name: z.string().min(1),
      unitPriceMinor: z.number().int().min(0),
      currency: z.string().regex(/^[A-Z]{3}$/),
      stock: z.number().int().min(0),
    }),
  ),
});
export type Seed = z.infer<typeof SeedSchema>;

export async function readSeed(file: URL | string = SEED_FILE): Promise<Seed> {
  const parsed = SeedSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(
      `${String(file)}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** Adds the seed's items that are missing; returns the SKUs added. */
export async function seedCatalogue(db: Queryable, seed: Seed): Promise<string[]> {
  const added: string[] = [];
  for (const { stock, ...item } of seed.items) {
    if (await getCatalogueItem(db, item.sku)) continue;
    await putCatalogueItem(db, item, seed.operator);
    await setInventory(db, { sku: item.sku, available: stock }, seed.operator);
    added.push(item.sku);
  }
  return added;
}
