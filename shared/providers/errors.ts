/** How a provider call failed, for the consumer to ack, nack or dead-letter by `retryable`. */
import { DependencyError } from '#shared/errors.ts';

export interface ProviderErrorOptions {
  retryable: boolean;
  /** The HTTP status of the last response, when there was one. */
  status?: number;
  /** How many attempts were made. */
  attempts?: number;
  cause?: unknown;
}

/**
 * A provider call that produced no result. Retryable: the provider was unreachable, slow or
 * overloaded (network error, timeout, 408, 409, 429, 5xx), also after the retries in this process;
 * redelivery will repeat the call under the same idempotency key. Not retryable: the provider
 * refused the request as such (another 4xx, or an answer this client cannot read).
 */
export class ProviderError extends DependencyError {
  /** What went wrong, without the provider's name in front. */
  readonly detail: string;
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(provider: string, detail: string, options: ProviderErrorOptions) {
    super(provider, detail, { retryable: options.retryable, cause: options.cause });
    this.detail = detail;
    this.status = options.status;
    this.attempts = options.attempts ?? 1;
  }
}

/** The provider's circuit is open: fail fast, so the message is redelivered later. */
export class CircuitOpenError extends ProviderError {
  constructor(provider: string, attempts = 1) {
    super(provider, 'circuit open: the provider has been failing; not calling it for now', {
      retryable: true,
      attempts,
    });
  }
}
