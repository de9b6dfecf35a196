import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { decodeCursor, encodeCursor, etag, ifMatchVersions } from '../../../api/http.ts';

describe('If-Match', () => {
  const cases: [string | undefined, number[] | undefined][] = [
    [undefined, undefined],
    ['*', undefined],
    ['"3"', [3]],
    ['"3", "4"', [3, 4]],
    [' "3" ,W/"4"', [3]],
    ['W/"3"', []],
    ['3', []],
    ['"x"', []],
    ['"99999999999"', []],
    ['', []],
  ];
  for (const [header, versions] of cases) {
    it(`${JSON.stringify(header)} → ${JSON.stringify(versions)}`, () => {
      assert.deepEqual(ifMatchVersions(header), versions);
    });
  }

  it('matches what etag() produces', () => {
    assert.deepEqual(ifMatchVersions(etag(12)), [12]);
  });
});

describe('cursors', () => {
  const schema = z.object({ c: z.string(), i: z.number() });

  it('decode what they encode', () => {
    assert.deepEqual(decodeCursor(encodeCursor({ c: 'a', i: 1 }), schema), { c: 'a', i: 1 });
  });

  for (const garbage of [
    '',
    'not-base64!',
    Buffer.from('{"c":1}').toString('base64url'),
    Buffer.from('[').toString('base64url'),
  ]) {
    it(`refuse ${JSON.stringify(garbage)}`, () => {
      assert.equal(decodeCursor(garbage, schema), undefined);
    });
  }
});
