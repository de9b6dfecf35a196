import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_KEY_PREFIX, generateApiKey, hashApiKey, isWellFormedApiKey } from '#shared/store/api-keys.ts';

describe('API keys', () => {
  it('are 256 random bits behind a recognisable prefix', () => {
    const keys = new Set(Array.from({ length: 100 }, generateApiKey));
    assert.equal(keys.size, 100);
    for (const key of keys) {
      assert.ok(key.startsWith(API_KEY_PREFIX));
      assert.ok(isWellFormedApiKey(key), key);
      assert.equal(Buffer.from(key.slice(API_KEY_PREFIX.length), 'base64url').length, 32);
    }
  });

  it('are stored as a SHA-256 digest only', () => {
    const key = generateApiKey();
    assert.match(hashApiKey(key), /^[0-9a-f]{64}$/);
    assert.equal(hashApiKey(key), hashApiKey(key));
    assert.notEqual(hashApiKey(key), hashApiKey(generateApiKey()));
  });

  for (const malformed of [
    '',
    'cvk_short',
    `xyz_${'a'.repeat(43)}`,
    `cvk_${'a'.repeat(42)}!`,
    `cvk_${'a'.repeat(44)}`,
  ]) {
    it(`refuse ${JSON.stringify(malformed)} without a lookup`, () => {
      assert.equal(isWellFormedApiKey(malformed), false);
    });
  }
});
