import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BREAKER_STATE,
  CircuitOpenError,
  createProviderClient,
  ProviderError,
  type BreakerState,
  type ProviderClientOptions,
  type ProviderRequest,
} from '#shared/providers/index.ts';
import { DependencyError, isRetryable } from '#shared/errors.ts';
import { startScriptedServer, waitFor, type ScriptedAnswer } from '../sandbox-providers/helpers.ts';

/** A POST that reads 2xx as its result and leaves every other status to the transport's rules. */
const call = (idempotencyKey = 'order-1:charge'): ProviderRequest<unknown> => ({
  method: 'POST',
  path: '/v1/things',
  body: { a: 1 },
  idempotencyKey,
  read: ({ status, body }) => (status < 300 ? body : undefined),
});

const FAST = { retries: 3, baseDelayMs: 10, maxDelayMs: 50, maxElapsedMs: 10_000 };

async function withServer(
  script: (index: number) => ScriptedAnswer,
  options: Partial<ProviderClientOptions>,
  run: (
    client: ReturnType<typeof createProviderClient>,
    server: Awaited<ReturnType<typeof startScriptedServer>>,
  ) => Promise<void>,
): Promise<void> {
  const server = await startScriptedServer((_, index) => script(index));
  const client = createProviderClient({ name: 'test', baseUrl: server.url, retry: FAST, ...options });
  try {
    await run(client, server);
  } finally {
    client.close();
    await server.close();
  }
}

async function rejectsWith(promise: Promise<unknown>, check: (error: ProviderError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProviderError, `expected ProviderError, got ${String(error)}`);
    assert.ok(error instanceof DependencyError);
    check(error);
    return true;
  });
}

describe('provider HTTP client: retries', () => {
  it('retries transient answers, sending the same Idempotency-Key each time, until one succeeds', async () => {
    const answers = [{ status: 503 }, { status: 502 }, { status: 201, body: { id: 'x' } }];
    await withServer(
      (i) => answers[i]!,
      {},
      async (client, server) => {
        assert.deepEqual(await client.request(call('order-7:charge')), { id: 'x' });
        assert.equal(server.requests.length, 3);
        for (const request of server.requests) {
          assert.equal(request.headers['idempotency-key'], 'order-7:charge');
          assert.equal(request.headers['content-type'], 'application/json');
          assert.equal(request.rawBody, '{"a":1}');
        }
      },
    );
  });

  it('waits a full-jitter backoff between attempts, growing with each retry', async () => {
    // random() ≈ 1: each wait is its cap, 100 then 200 ms (lower bounds only: the machine is shared).
    await withServer(
      (i) => (i < 2 ? { status: 500 } : { status: 200, body: {} }),
      { retry: { ...FAST, baseDelayMs: 100, maxDelayMs: 1_000 }, random: () => 0.999 },
      async (client, server) => {
        await client.request(call());
        const [a, b, c] = server.requests.map((r) => r.at);
        assert.ok(b! - a! >= 90, `first wait ${b! - a!} ms`);
        assert.ok(c! - b! >= 190, `second wait ${c! - b!} ms`);
      },
    );
  });

  for (const status of [408, 409, 429, 500, 504]) {
    it(`retries ${status}`, async () => {
      await withServer(
        (i) => (i === 0 ? { status } : { status: 200, body: 'ok' }),
        {},
        async (client, server) => {
          assert.equal(await client.request(call()), 'ok');
          assert.equal(server.requests.length, 2);
        },
      );
    });
  }

  it('waits at least what Retry-After asks', async () => {
    await withServer(
      (i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200, body: {} }),
      { retry: { ...FAST, maxDelayMs: 2_000 }, random: () => 0 },
      async (client, server) => {
        await client.request(call());
        assert.ok(server.requests[1]!.at - server.requests[0]!.at >= 950);
      },
    );
  });

  for (const status of [400, 401, 403, 404, 422]) {
    it(`does not retry ${status}: a permanent, non-retryable error`, async () => {
      await withServer(
        () => ({ status, body: { code: 'nope', message: 'refused' } }),
        {},
        async (client, server) => {
          await rejectsWith(client.request(call()), (error) => {
            assert.equal(error.retryable, false);
            assert.equal(isRetryable(error), false);
            assert.equal(error.status, status);
            assert.equal(error.attempts, 1);
            assert.match(error.message, new RegExp(`^test: POST /v1/things answered ${status}: .*refused`));
          });
          assert.equal(server.requests.length, 1);
        },
      );
    });
  }

  it('gives up after its retries with a retryable error naming the attempts', async () => {
    await withServer(
      () => ({ status: 503 }),
      {},
      async (client, server) => {
        await rejectsWith(client.request(call()), (error) => {
          assert.equal(error.retryable, true);
          assert.equal(error.attempts, 4);
          assert.match(error.message, /answered 503 \(after 4 attempts\)/);
        });
        assert.equal(server.requests.length, 4);
      },
    );
  });

  it('times out a slow attempt and retries it', async () => {
    await withServer(
      (i) => (i === 0 ? { status: 200, body: 'late', delayMs: 2_000 } : { status: 200, body: 'on time' }),
      { timeoutMs: 200 },
      async (client, server) => {
        assert.equal(await client.request(call()), 'on time');
        assert.equal(server.requests.length, 2);
      },
    );
  });

  it('reports a timeout as such when every attempt is too slow', async () => {
    await withServer(
      () => ({ status: 200, body: 'late', delayMs: 2_000 }),
      { timeoutMs: 100, retry: { ...FAST, retries: 1 } },
      async (client) => {
        await rejectsWith(client.request(call()), (error) => {
          assert.equal(error.retryable, true);
          assert.match(error.message, /timed out after 100 ms \(after 2 attempts\)/);
        });
      },
    );
  });

  it('retries network errors (nothing listening)', async () => {
    const server = await startScriptedServer(() => ({ status: 200 }));
    await server.close();
    const client = createProviderClient({
      name: 'test',
      baseUrl: server.url,
      retry: { ...FAST, retries: 2 },
    });
    try {
      await rejectsWith(client.request(call()), (error) => {
        assert.equal(error.retryable, true);
        assert.equal(error.attempts, 3);
        assert.match(error.message, /fetch failed/);
      });
    } finally {
      client.close();
    }
  });

  it('an answer it cannot read is permanent', async () => {
    await withServer(
      () => ({ status: 200, body: { unexpected: true } }),
      {},
      async (client) => {
        const strict: ProviderRequest<string> = {
          ...call(),
          read: ({ body }) => {
            if (typeof body !== 'string') throw new Error('expected a string');
            return body;
          },
        };
        await rejectsWith(client.request(strict), (error) => {
          assert.equal(error.retryable, false);
          assert.match(error.message, /cannot read/);
        });
      },
    );
  });
});

describe('provider HTTP client: circuit breaker', () => {
  const breaker = { volumeThreshold: 2, failureThresholdPercent: 50, windowMs: 10_000, resetAfterMs: 300 };

  it('opens after failures, then fails fast without calling the provider', async () => {
    const states: BreakerState[] = [];
    await withServer(
      () => ({ status: 503 }),
      { breaker, retry: { ...FAST, retries: 0 }, onBreakerStateChange: (s) => states.push(s) },
      async (client, server) => {
        assert.equal(client.breakerState(), BREAKER_STATE.closed);
        for (let i = 0; i < 2; i++) await assert.rejects(client.request(call()), ProviderError);
        assert.equal(client.breakerState(), BREAKER_STATE.open);
        const before = server.requests.length;
        await assert.rejects(client.request(call()), (error: unknown) => {
          assert.ok(error instanceof CircuitOpenError);
          assert.ok(error instanceof DependencyError);
          assert.equal(error.retryable, true, 'the consumer nacks; Pub/Sub redelivers later');
          assert.match(error.message, /^test: circuit open/);
          return true;
        });
        assert.equal(server.requests.length, before, 'no call reached the provider');
        assert.deepEqual(states, [BREAKER_STATE.open]);
      },
    );
  });

  it('stops retrying as soon as the circuit opens', async () => {
    await withServer(
      () => ({ status: 500 }),
      { breaker, retry: { ...FAST, retries: 10 } },
      async (client, server) => {
        await assert.rejects(client.request(call()), CircuitOpenError);
        assert.equal(server.requests.length, 2, 'two failures opened it; the third attempt failed fast');
      },
    );
  });

  it('half-opens after the reset time; a successful trial closes it', async () => {
    let healthy = false;
    const states: BreakerState[] = [];
    await withServer(
      () => (healthy ? { status: 200, body: 'ok' } : { status: 503 }),
      { breaker, retry: { ...FAST, retries: 0 }, onBreakerStateChange: (s) => states.push(s) },
      async (client) => {
        for (let i = 0; i < 2; i++) await assert.rejects(client.request(call()));
        assert.equal(client.breakerState(), BREAKER_STATE.open);
        await waitFor('the circuit to half-open', () => client.breakerState() === BREAKER_STATE.halfOpen);
        healthy = true;
        assert.equal(await client.request(call()), 'ok');
        assert.equal(client.breakerState(), BREAKER_STATE.closed);
        assert.deepEqual(states, [BREAKER_STATE.open, BREAKER_STATE.halfOpen, BREAKER_STATE.closed]);
      },
    );
  });

  it('a failed trial opens it again', async () => {
    await withServer(
      () => ({ status: 503 }),
      { breaker, retry: { ...FAST, retries: 0 } },
      async (client, server) => {
        for (let i = 0; i < 2; i++) await assert.rejects(client.request(call()));
        await waitFor('the circuit to half-open', () => client.breakerState() === BREAKER_STATE.halfOpen);
        const before = server.requests.length;
        await assert.rejects(client.request(call()), ProviderError);
        assert.equal(server.requests.length, before + 1, 'one trial call');
        assert.equal(client.breakerState(), BREAKER_STATE.open);
      },
    );
  });

  it('refusals (4xx) and results do not open it: the provider is answering', async () => {
    await withServer(
      (i) => (i % 2 === 0 ? { status: 422, body: { code: 'bad' } } : { status: 200, body: 'ok' }),
      { breaker, retry: { ...FAST, retries: 0 } },
      async (client) => {
        for (let i = 0; i < 6; i++) await client.request(call()).catch(() => undefined);
        assert.equal(client.breakerState(), BREAKER_STATE.closed);
      },
    );
  });

  it('a closed client refuses further calls without retrying', async () => {
    await withServer(
      () => ({ status: 200, body: 'ok' }),
      {},
      async (client, server) => {
        client.close();
        await rejectsWith(client.request(call()), (error) => assert.equal(error.retryable, false));
        assert.equal(server.requests.length, 0);
      },
    );
  });
});
