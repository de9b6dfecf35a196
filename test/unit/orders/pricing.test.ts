import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '#shared/errors.ts';
import { createUuidV7 } from '#shared/orders/ids.ts';
import { priceLinesFrom } from '#shared/orders/pricing.ts';

const prices = new Map([
  ['BOOK', { unitPriceMinor: 1250, currency: 'EUR' }],
  ['MUG', { unitPriceMinor: 800, currency: 'USD' }],
]);

describe('pricing from the catalogue', () => {
  it('takes every price from the catalogue', () => {
    assert.deepEqual(priceLinesFrom(prices, 'EUR', [{ sku: 'BOOK', quantity: 3 }]), [
      { sku: 'BOOK', quantity: 3, unitPriceMinor: 1250 },
    ]);
  });

  it('names each line it cannot price', () => {
    assert.throws(
      () =>
        priceLinesFrom(prices, 'EUR', [
          { sku: 'BOOK', quantity: 1 },
          { sku: 'NOPE', quantity: 1 },
          { sku: 'MUG', quantity: 1 },
        ]),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(error.issues, [
          { path: 'lines.1.sku', message: 'unknown SKU NOPE' },
          { path: 'lines.2.sku', message: 'MUG is priced in USD, not EUR' },
        ]);
        return true;
      },
    );
  });
});

describe('UUIDv7 ids', () => {
  it('are version 7, unique, and ordered by their millisecond', () => {
    const newId = createUuidV7(64);
    const ids = Array.from({ length: 1_000 }, newId);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const millis = ids.map((id) => parseInt(id.replace(/-/g, '').slice(0, 12), 16));
    assert.deepEqual(
      millis,
      [...millis].sort((a, b) => a - b),
    );
  });
});
