import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, requestHash } from '#shared/store/idempotency.ts';

describe('request hashes for Idempotency-Key', () => {
  const body = {
    customerId: 'c',
    lines: [{ sku: 'A', quantity: 1 }],
    shippingAddress: { city: 'X', name: 'Y' },
  };

  it('ignore key order and whitespace', () => {
    const reordered = {
      shippingAddress: { name: 'Y', city: 'X' },
      lines: [{ quantity: 1, sku: 'A' }],
      customerId: 'c',
    };
    assert.equal(requestHash('POST', '/v1/orders', body), requestHash('post', '/v1/orders', reordered));
  });

  it('see any other difference', () => {
    const base = requestHash('POST', '/v1/orders', body);
    for (const other of [
      requestHash('POST', '/v1/orders', { ...body, customerId: 'd' }),
      requestHash('POST', '/v1/orders', { ...body, lines: [{ sku: 'A', quantity: 2 }] }),
      requestHash('POST', '/v1/orders', { ...body, lines: [...body.lines, ...body.lines] }),
      requestHash('PUT', '/v1/orders', body),
      requestHash('POST', '/v1/other', body),
    ]) {
      assert.notEqual(other, base);
    }
  });

  it('write canonical JSON: sorted keys, no undefined, arrays kept in order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [2, { d: undefined, c: 'x' }], e: null }),
      '{"a":[2,{"c":"x"}],"b":1,"e":null}',
    );
    assert.equal(canonicalJson('text'), '"text"');
    assert.equal(canonicalJson(undefined), 'null');
  });
});
