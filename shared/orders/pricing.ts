import type { PricedLine, RequestedLine } from '#shared/contracts/values.ts';
import { ValidationError, type ValidationIssue } from '#shared/errors.ts';
import { pricesFor } from '#shared/store/catalogue.ts';
import type { Queryable } from '#shared/store/pool.ts';

/** Catalogue prices by SKU, as pricesFor reads them. */
export type Prices = ReadonlyMap<string, { unitPriceMinor: number; currency: string }>;

/**
 * Prices requested lines from the catalogue (never from the client). Throws ValidationError naming
 * each line whose SKU is unknown or priced in another currency than the order's.
 */
export async function priceLines(
  db: Queryable,
  currency: string,
  lines: readonly RequestedLine[],
): Promise<PricedLine[]> {
  return priceLinesFrom(await pricesFor(db, [...new Set(lines.map((line) => line.sku))]), currency, lines);
}

/** priceLines with the catalogue entries already read (one read for a batch of orders). */
export function priceLinesFrom(
  prices: Prices,
  currency: string,
  lines: readonly RequestedLine[],
): PricedLine[] {
  const issues: ValidationIssue[] = [];
  const priced = lines.map((line, index) => {
    const price = prices.get(line.sku);
    if (!price) {
      issues.push({ path: `lines.${index}.sku`, message: `unknown SKU ${line.sku}` });
    } else if (price.currency !== currency) {
      issues.push({
        path: `lines.${index}.sku`,
        message: `${line.sku} is priced in ${price.currency}, not ${currency}`,
      });
    }
    return { sku: line.sku, quantity: line.quantity, unitPriceMinor: price?.unitPriceMinor ?? 0 };
  });
  if (issues.length > 0) throw new ValidationError('some lines cannot be priced from the catalogue', issues);
  return priced;
}
