import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, DEFAULT_RETRY, isTransientStatus } from '#shared/providers/http.ts';

describe('provider retries', () => {
  const options = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1_000 };

  it('full jitter: anywhere from 0 up to the exponential cap, which doubles per retry', () => {
    const almostOne = 1 - Number.EPSILON;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, options, () => almostOne)),
      [99, 199, 399, 799, 999, 999],
    );
    for (const retry of [1, 2, 3, 4, 5, 6])
      assert.equal(
        backoffDelay(retry, options, () => 0),
        0,
      );
    assert.equal(
      backoffDelay(3, options, () => 0.5),
      200,
    );
  });

  it('retries network-level trouble and overload, not requests the provider refuses as such', () => {
    const transient = [408, 409, 429, 500, 502, 503, 504];
    const permanent = [400, 401, 403, 404, 405, 410, 413, 415, 422];
    for (const status of transient) assert.equal(isTransientStatus(status), true, String(status));
    for (const status of permanent) assert.equal(isTransientStatus(status), false, String(status));
  });
});
