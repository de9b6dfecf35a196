import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpProblem, problemFor } from '../../../api/problems.ts';
import {
  ConcurrencyError,
  ConflictError,
  DependencyError,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
} from '#shared/errors.ts';
import { VersionMismatchError } from '#shared/orders/errors.ts';

const fastifyError = (statusCode: number, message: string, code = 'FST_ERR') =>
  Object.assign(new Error(message), { statusCode, code });

describe('problemFor: one mapping from errors to problem details', () => {
  const cases: {
    name: string;
    error: unknown;
    status: number;
    type: string;
    unexpected?: boolean;
    headers?: object;
  }[] = [
    {
      name: 'a domain validation error',
      error: new ValidationError('bad', [{ path: 'a', message: 'b' }]),
      status: 422,
      type: 'unprocessable',
    },
    { name: 'a missing resource', error: new NotFoundError('order', 'x'), status: 404, type: 'not-found' },
    {
      name: 'a transition the state forbids',
      error: new InvalidTransitionError('completed', 'cancel'),
      status: 409,
      type: 'invalid-transition',
    },
    {
      name: 'a concurrent writer',
      error: new ConcurrencyError('moved on'),
      status: 409,
      type: 'concurrent-update',
      headers: { 'retry-after': '1' },
    },
    { name: 'a conflict', error: new ConflictError('taken'), status: 409, type: 'conflict' },
    {
      name: 'an If-Match that no longer holds',
      error: new VersionMismatchError('o', [1], 2),
      status: 412,
      type: 'precondition-failed',
    },
    {
      name: 'an unavailable dependency',
      error: new DependencyError('pubsub', 'down'),
      status: 503,
      type: 'unavailable',
      unexpected: true,
      headers: { 'retry-after': '2' },
    },
    {
      name: 'Postgres refusing connections',
      error: Object.assign(new Error('sorry, too many clients already'), { code: '53300' }),
      status: 503,
      type: 'unavailable',
      unexpected: true,
    },
    {
      name: 'a pool that cannot connect in time',
      error: new Error('timeout exceeded when trying to connect'),
      status: 503,
      type: 'unavailable',
      unexpected: true,
    },
    {
      name: 'a body too large',
      error: fastifyError(413, 'Request body is too large'),
      status: 413,
      type: 'payload-too-large',
    },
    {
      name: 'an unsupported media type',
      error: fastifyError(415, 'Unsupported Media Type'),
      status: 415,
      type: 'unsupported-media-type',
    },
    {
      name: 'the rate limit',
      error: fastifyError(429, 'rate limit exceeded'),
      status: 429,
      type: 'rate-limited',
    },
    {
      name: 'an HTTP problem raised by the API',
      error: new HttpProblem(401, 'unauthorized', 'no key'),
      status: 401,
      type: 'unauthorized',
    },
    {
      name: 'anything else',
      error: new TypeError('x is undefined at /srv/app.ts:12'),
      status: 500,
      type: 'internal',
      unexpected: true,
    },
    { name: 'a thrown non-error', error: 'boom', status: 500, type: 'internal', unexpected: true },
  ];
  for (const { name, error, status, type, unexpected = false, headers } of cases) {
    it(`${name} → ${status}`, () => {
      const answer = problemFor(error);
      assert.equal(answer.problem.status, status);
      assert.equal(answer.problem.type, `urn:problem-type:conveyor:${type}`);
      assert.ok(answer.problem.title);
      assert.equal(answer.unexpected, unexpected);
      if (headers) assert.deepEqual(answer.headers, headers);
    });
  }

  it('names the failing fields of a validation error', () => {
    const { problem } = problemFor(
      new ValidationError('bad', [{ path: 'lines.0.sku', message: 'unknown SKU' }]),
    );
    assert.deepEqual(problem.errors, [{ path: 'lines.0.sku', message: 'unknown SKU' }]);
  });

  it('never passes on the message of an unexpected error', () => {
    const { problem } = problemFor(new Error('password=hunter2 at db.internal:5432'));
    assert.doesNotMatch(JSON.stringify(problem), /hunter2|db\.internal/);
  });

  it('keeps the headers an HTTP problem carries', () => {
    const { headers } = problemFor(
      new HttpProblem(401, 'unauthorized', 'no key', { headers: { 'www-authenticate': 'Bearer' } }),
    );
    assert.deepEqual(headers, { 'www-authenticate': 'Bearer' });
  });
});
