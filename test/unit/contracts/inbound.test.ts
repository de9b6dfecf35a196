import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  inboundJsonSchema,
  InboundEventSchema,
  inboundOrderId,
  INBOUND_TYPE,
} from '#shared/contracts/inbound.ts';

const committed = new URL('../../../shared/contracts/inbound.schema.json', import.meta.url);

const place = {
  specversion: '1.0',
  id: 'msg-1',
  source: '//partner/acme',
  type: INBOUND_TYPE.orderPlace,
  time: '2026-03-01T12:00:00Z',
  datacontenttype: 'application/json',
  data: {
    externalId: 'A-1001',
    customerId: 'c-7',
    currency: 'EUR',
    lines: [{ sku: 'BOOK-1', quantity: 2 }],
    shippingAddress: { name: 'Ada', line1: '1 St', city: 'London', postalCode: 'N1', country: 'GB' },
  },
};

describe('inbound contract', () => {
  it('the committed JSON Schema is the one generated from the zod schemas (node shared/contracts/write-inbound-schema.ts)', () => {
    assert.deepEqual(JSON.parse(readFileSync(committed, 'utf8')), inboundJsonSchema());
  });

  it('derives one order id per producer and external id', () => {
    const id = inboundOrderId('//partner/acme', 'A-1001');
    assert.match(id, /^[\da-f]{8}-[\da-f]{4}-5[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);
    assert.equal(inboundOrderId('//partner/acme', 'A-1001'), id);
    assert.notEqual(inboundOrderId('//partner/other', 'A-1001'), id);
    assert.notEqual(inboundOrderId('//partner/acme', 'A-1002'), id);
    // The separator keeps (source, id) pairs apart that concatenate alike.
    assert.notEqual(inboundOrderId('//a', 'b/c'), inboundOrderId('//a/b', 'c'));
  });

  const invalid: [string, unknown, RegExp][] = [
    ['an unknown type', { ...place, type: 'order.place.v9' }, /type/],
    [
      'prices from the producer',
      { ...place, data: { ...place.data, lines: [{ sku: 'B', quantity: 1, unitPriceMinor: 1 }] } },
      /lines/,
    ],
    ['no lines', { ...place, data: { ...place.data, lines: [] } }, /lines/],
    ['another spec version', { ...place, specversion: '0.3' }, /specversion/],
    ['an external id with spaces', { ...place, data: { ...place.data, externalId: 'A 1' } }, /externalId/],
  ];
  for (const [name, event, path] of invalid) {
    it(`refuses ${name}`, () => {
      const parsed = InboundEventSchema.safeParse(event);
      assert.equal(parsed.success, false);
      assert.match(JSON.stringify(parsed.error?.issues.map((issue) => issue.path)), path);
    });
  }

  it('accepts a place and a cancel', () => {
    assert.equal(InboundEventSchema.safeParse(place).success, true);
    const cancel = {
      specversion: '1.0',
      id: 'm2',
      source: '//partner/acme',
      type: INBOUND_TYPE.orderCancel,
      data: { externalId: 'A-1001', reason: 'no' },
    };
    assert.equal(InboundEventSchema.safeParse(cancel).success, true);
  });
});
