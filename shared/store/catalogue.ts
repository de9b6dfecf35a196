/**
 * The catalogue (what can be ordered, at which price) and inventory (stock per SKU) as operators
 * maintain them. Prices for orders are read from here, never taken from a client. Every change is
 * written to audit_log in the same statement, naming the operator.
 */
import type { Queryable } from './pool.ts';

export interface CatalogueItem {
  sku: string;
  name: string;
  unitPriceMinor: number;
  currency: string;
  updatedAt: string;
}

export interface InventoryItem {
  sku: string;
  available: number;
  reserved: number;
  shipped: number;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  /** The last key of this page when there may be more. */
  next?: string;
}

/** Who made a change, for the audit log: an operator's API key name. */
export type Operator = string;

interface CatalogueRow {
  sku: string;
  name: string;
  unit_price_minor: string;
  currency: string;
  updated_at: Date;
  created?: boolean;
}

const catalogueItem = (row: CatalogueRow): CatalogueItem => ({
  sku: row.sku,
  name: row.name,
  unitPriceMinor: Number(row.unit_price_minor),
  currency: row.currency,
  updatedAt: row.updated_at.toISOString(),
});

/** Creates or replaces an item; `created` tells which. */
export async function putCatalogueItem(
  client: Queryable,
  item: Omit<CatalogueItem, 'updatedAt'>,
  by: Operator,
): Promise<{ item: CatalogueItem; created: boolean }> {
  const { rows } = await client.query<CatalogueRow>(
    `WITH item AS (
       INSERT INTO catalogue AS c (sku, name, unit_price_minor, currency, updated_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (sku) DO UPDATE
          SET name = excluded.name, unit_price_minor = excluded.unit_price_minor,
              currency = excluded.currency, updated_at = now()
       RETURNING sku, name, unit_price_minor, currency, updated_at, (xmax = 0) AS created
     ), audit AS (
       INSERT INTO audit_log (actor, action, target_type, target_id, details)
       SELECT $5, CASE WHEN created THEN 'catalogue.create' ELSE 'catalogue.update' END, 'catalogue', sku,
              jsonb_build_object('name', name, 'unitPriceMinor', unit_price_minor, 'currency', currency)
         FROM item
     )
     SELECT * FROM item`,
    [item.sku, item.name, item.unitPriceMinor, item.currency, by],
  );
  const row = rows[0]!;
  return { item: catalogueItem(row), created: row.created === true };
}

export async function getCatalogueItem(client: Queryable, sku: string): Promise<CatalogueItem | undefined> {
  const { rows } = await client.query<CatalogueRow>(
    `SELECT sku, name, unit_price_minor, currency, updated_at FROM catalogue WHERE sku = $1`,
    [sku],
  );
  return rows[0] ? catalogueItem(rows[0]) : undefined;
}

export async function listCatalogue(
  client: Queryable,
  page: { limit: number; after?: string | undefined },
): Promise<Page<CatalogueItem>> {
  const { rows } = await client.query<CatalogueRow>(
    `SELECT sku, name, unit_price_minor, currency, updated_at FROM catalogue
      WHERE $1::text IS NULL OR sku > $1 ORDER BY sku LIMIT $2`,
    [page.after ?? null, page.limit + 1],
  );
  return pageOf(rows.map(catalogueItem), page.limit, (item) => item.sku);
}

/** The catalogue entries of `skus` (those that exist), by SKU. */
export async function pricesFor(
  client: Queryable,
  skus: readonly string[],
): Promise<Map<string, { unitPriceMinor: number; currency: string }>> {
  const { rows } = await client.query<{ sku: string; unit_price_minor: string; currency: string }>({
    name: 'conveyor.catalogue.prices',
    text: 'SELECT sku, unit_price_minor, currency FROM catalogue WHERE sku = ANY($1::text[])',
    values: [skus],
  });
  return new Map(
    rows.map((row) => [row.sku, { unitPriceMinor: Number(row.unit_price_minor), currency: row.currency }]),
  );
}

interface InventoryRow {
  sku: string;
  available: number;
  reserved: number;
  shipped: number;
  updated_at: Date;
  created?: boolean;
}

const inventoryItem = (row: InventoryRow): InventoryItem => ({
  sku: row.sku,
  available: row.available,
  reserved: row.reserved,
  shipped: row.shipped,
  updatedAt: row.updated_at.toISOString(),
});

/** Sets the units available for new reservations (reserved and shipped units are untouched). */
export async function setInventory(
  client: Queryable,
  stock: { sku: string; available: number },
  by: Operator,
): Promise<{ item: InventoryItem; created: boolean }> {
  const { rows } = await client.query<InventoryRow>(
    `WITH item AS (
       INSERT INTO inventory AS i (sku, available, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (sku) DO UPDATE SET available = excluded.available, updated_at = now()
       RETURNING sku, available, reserved, shipped, updated_at, (xmax = 0) AS created
     ), audit AS (
       INSERT INTO audit_log (actor, action, target_type, target_id, details)
       SELECT $3, 'inventory.set', 'inventory', sku, jsonb_build_object('available', available) FROM item
     )
     SELECT * FROM item`,
    [stock.sku, stock.available, by],
  );
  const row = rows[0]!;
  return { item: inventoryItem(row), created: row.created === true };
}

export async function getInventory(client: Queryable, sku: string): Promise<InventoryItem | undefined> {
  const { rows } = await client.query<InventoryRow>(
    `SELECT sku, available, reserved, shipped, updated_at FROM inventory WHERE sku = $1`,
    [sku],
  );
  return rows[0] ? inventoryItem(rows[0]) : undefined;
}

export async function listInventory(
  client: Queryable,
  page: { limit: number; after?: string | undefined },
): Promise<Page<InventoryItem>> {
  const { rows } = await client.query<InventoryRow>(
    `SELECT sku, available, reserved, shipped, updated_at FROM inventory
      WHERE $1::text IS NULL OR sku > $1 ORDER BY sku LIMIT $2`,
    [page.after ?? null, page.limit + 1],
  );
  return pageOf(rows.map(inventoryItem), page.limit, (item) => item.sku);
}

function pageOf<T>(items: T[], limit: number, keyOf: (item: T) => string): Page<T> {
  if (items.length <= limit) return { items };
  const page = items.slice(0, limit);
  return { items: page, next: keyOf(page.at(-1)!) };
}
