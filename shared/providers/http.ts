/**
 * The HTTP transport every provider adapter uses: JSON over fetch (global unless given), an
 * Idempotency-Key on every call that changes something, a timeout per attempt, retries with
 * exponential backoff and full jitter for transient failures only, and one circuit breaker per
 * provider around each attempt. While the circuit is open calls fail fast with a retryable
 * CircuitOpenError: the consumer nacks and Pub/Sub redelivers later, instead of every message
 * hammering a provider that is down. Retrying is safe only because the key makes the provider
 * answer a repeated call once.
 */
import CircuitBreaker from 'opossum';
import pRetry, { AbortError } from 'p-retry';
import { CircuitOpenError, ProviderError } from './errors.ts';

export const BREAKER_STATE = { closed: 'closed', open: 'open', halfOpen: 'half-open' } as const;
export type BreakerState = (typeof BREAKER_STATE)[keyof typeof BREAKER_STATE];

export interface RetryOptions {
  /** Retries after the first attempt. */
  retries: number;
  /** The cap of the first backoff; each retry doubles it, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No new attempt starts after this long: keep it inside the subscription's ack deadline. */
  maxElapsedMs: number;
}

export interface BreakerOptions {
  /** Open when more than this share of the calls in the window failed… */
  failureThresholdPercent: number;
  /** …and at least this many calls were made in it. */
  volumeThreshold: number;
  windowMs: number;
  /** How long an open circuit waits before letting one trial call through (half-open). */
  resetAfterMs: number;
}

export interface ProviderClientOptions {
  /** Names the provider in errors, logs and metrics: `payment`, `shipping`. */
  name: string;
  baseUrl: string;
  /** Per attempt, from sending the request to reading the whole response. */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  breaker?: Partial<BreakerOptions>;
  /** Sent with every request (credentials, for instance). */
  headers?: Readonly<Record<string, string>>;
  /** Called when the circuit changes state, for metrics and logs. */
  onBreakerStateChange?: (state: BreakerState) => void;
  /**
   * The fetch requests go through; default the global one. Telemetry's traced fetch gives each
   * call a client span and sends the caller's trace context (`traceparent`) to the provider.
   */
  fetch?: typeof fetch;
  /** The jitter source, in [0, 1); injectable for tests. */
  random?: () => number;
}

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_RETRY: RetryOptions = {
  retries: 3,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  maxElapsedMs: 20_000,
};
export const DEFAULT_BREAKER: BreakerOptions = {
  failureThresholdPercent: 50,
  volumeThreshold: 10,
  windowMs: 10_000,
  resetAfterMs: 10_000,
};

export interface ProviderResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body; the text when it is not JSON; undefined when empty. */
  body: unknown;
}

export interface ProviderRequest<T> {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  idempotencyKey?: string;
  /**
   * The result this response means, or undefined when it is not an answer to this call (then it
   * is transient or permanent by its status). Business refusals (a decline, "already dispatched")
   * are results here, not errors. Throwing means the response could not be read: permanent.
   */
  read(response: ProviderResponse): T | undefined;
}

export interface ProviderClient {
  request<T>(request: ProviderRequest<T>): Promise<T>;
  breakerState(): BreakerState;
  /** Stops the breaker's timers; calls made afterwards fail. */
  close(): void;
}

/** Statuses worth repeating: the provider may answer differently later. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Full jitter: uniformly between 0 and the exponential cap for this retry (1-based). */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number): number {
  const cap = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * cap);
}

export function createProviderClient(options: ProviderClientOptions): ProviderClient {
  const { name } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const breakerOptions = { ...DEFAULT_BREAKER, ...options.breaker };
  const random = options.random ?? Math.random;
  const send = options.fetch ?? fetch;

  const breaker = new CircuitBreaker((request: ProviderRequest<unknown>) => attempt(request), {
    name,
    // The attempt has its own timeout that aborts the request; the breaker's would not.
    timeout: false,
    errorThresholdPercentage: breakerOptions.failureThresholdPercent,
    volumeThreshold: breakerOptions.volumeThreshold,
    rollingCountTimeout: breakerOptions.windowMs,
    rollingCountBuckets: 10,
    resetTimeout: breakerOptions.resetAfterMs,
    // A provider that answers "no" to a request is healthy: only transient failures count.
    errorFilter: (error: unknown) => error instanceof ProviderError && !error.retryable,
  });
  const state = (): BreakerState =>
    breaker.opened ? BREAKER_STATE.open : breaker.halfOpen ? BREAKER_STATE.halfOpen : BREAKER_STATE.closed;
  if (options.onBreakerStateChange) {
    const notify = options.onBreakerStateChange;
    breaker.on('open', () => notify(BREAKER_STATE.open));
    breaker.on('halfOpen', () => notify(BREAKER_STATE.halfOpen));
    breaker.on('close', () => notify(BREAKER_STATE.closed));
  }

  async function attempt<T>(request: ProviderRequest<T>): Promise<T> {
    const where = `${request.method} ${request.path}`;
    let response: Response;
    let text: string;
    try {
      response = await send(`${baseUrl}${request.path}`, {
        method: request.method,
        headers: {
          accept: 'application/json',
          'user-agent': 'conveyor',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(request.idempotencyKey ? { 'idempotency-key': request.idempotencyKey } : {}),
          ...options.headers,
        },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new ProviderError(
        name,
        timedOut ? `${where} timed out after ${timeoutMs} ms` : `${where} failed: ${describe(error)}`,
        { retryable: true, cause: error },
      );
    }
    const answer: ProviderResponse = {
      status: response.status,
      headers: response.headers,
      body: parse(text),
    };
    let result: T | undefined;
    try {
      result = request.read(answer);
    } catch (error) {
      throw new ProviderError(
        name,
        `${where} answered ${response.status} with a body this client cannot read`,
        {
          retryable: false,
          status: response.status,
          cause: error,
        },
      );
    }
    if (result !== undefined) return result;
    const transient = isTransientStatus(response.status);
    throw new UnexpectedStatusError(name, `${where} answered ${response.status}${snippet(text)}`, {
      retryable: transient,
      status: response.status,
      retryAfterMs: transient ? retryAfter(response.headers) : undefined,
    });
  }

  async function request<T>(request: ProviderRequest<T>): Promise<T> {
    let waitAtLeastMs = 0;
    let attempts = 0;
    try {
      return await pRetry(
        async (attemptNumber) => {
          if (attemptNumber > 1) {
            const delay = Math.min(
              retry.maxDelayMs,
              Math.max(backoffDelay(attemptNumber - 1, retry, random), waitAtLeastMs),
            );
            await new Promise((resolve) => setTimeout(resolve, delay));
          }
          attempts = attemptNumber;
          try {
            return (await breaker.fire(request)) as T;
          } catch (error) {
            if (hasCode(error, 'EOPENBREAKER'))
              throw new AbortError(new CircuitOpenError(name, attemptNumber));
            if (hasCode(error, 'ESHUTDOWN')) {
              throw new AbortError(new ProviderError(name, 'the client is closed', { retryable: false }));
            }
            if (error instanceof ProviderError && !error.retryable) throw new AbortError(error);
            waitAtLeastMs = error instanceof UnexpectedStatusError ? (error.retryAfterMs ?? 0) : 0;
            throw error;
          }
        },
        // Delays are full-jitter ones taken above, so p-retry itself waits 0.
        { retries: retry.retries, minTimeout: 0, maxTimeout: 0, maxRetryTime: retry.maxElapsedMs },
      );
    } catch (error) {
      if (error instanceof CircuitOpenError) throw error;
      if (error instanceof ProviderError) {
        const after = error.retryable && attempts > 1 ? ` (after ${attempts} attempts)` : '';
        throw new ProviderError(name, `${error.detail}${after}`, {
          retryable: error.retryable,
          status: error.status,
          attempts,
          cause: error.cause ?? error,
        });
      }
      throw new ProviderError(name, `call failed: ${describe(error)}`, {
        retryable: true,
        attempts,
        cause: error,
      });
    }
  }

  return { request, breakerState: state, close: () => breaker.shutdown() };
}

/** An answer that is not a result of the call: transient or not by its status; it may say when to come back (Retry-After). */
class UnexpectedStatusError extends ProviderError {
  readonly retryAfterMs: number | undefined;

  constructor(
    provider: string,
    message: string,
    options: { retryable: boolean; status: number; retryAfterMs: number | undefined },
  ) {
    super(provider, message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** opossum marks its own rejections with a code: EOPENBREAKER (open circuit), ESHUTDOWN (closed). */
function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as Error & { code?: string }).code === code;
}

function parse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function retryAfter(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function snippet(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  return `: ${trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed}`;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
