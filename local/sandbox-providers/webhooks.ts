/**
 * Webhook deliveries as real providers make them: each event has a unique provider event id, is
 * POSTed as JSON signed with `Conveyor-Signature` (signed afresh on every attempt) and retried
 * with exponential backoff on a non-2xx answer or a network error, until it is accepted or the
 * attempts run out. Duplicate deliveries are injected here.
 */
import { createWebhookSigner, SIGNATURE_HEADER, type WebhookSigner } from '#shared/webhooks/index.ts';
import type { FaultInjector } from './faults.ts';
import type { Timers } from './server.ts';

export interface WebhookEvent {
  /** The provider event id: the same on every delivery of this event, duplicates included. */
  id: string;
  type: string;
  /** Unix seconds. */
  created: number;
  data: Record<string, unknown>;
}

export interface WebhookRetry {
  /** Attempts per delivery, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt. */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = {
  attempts: 10,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  timeoutMs: 10_000,
};

export interface WebhookStats {
  /** Events emitted. */
  events: number;
  /** Deliveries scheduled (an injected duplicate is a second delivery of one event). */
  deliveries: number;
  delivered: number;
  /** Deliveries given up after the last attempt. */
  failed: number;
  pending: number;
  attempts: number;
}

export interface FailedDelivery {
  eventId: string;
  type: string;
  attempts: number;
  lastError: string;
}

export class WebhookSender {
  readonly #url: string | undefined;
  readonly #signer: WebhookSigner | undefined;
  readonly #retry: WebhookRetry;
  readonly #faults: FaultInjector;
  readonly #timers: Timers;
  readonly #userAgent: string;
  readonly #stopping = new AbortController();
  readonly #stats: WebhookStats = {
    events: 0,
    deliveries: 0,
    delivered: 0,
    failed: 0,
    pending: 0,
    attempts: 0,
  };
  readonly #failures: FailedDelivery[] = [];
  #idle: (() => void)[] = [];
  /** Events still to be emitted (a charge not yet settled, a parcel on its way). */
  #held = 0;

  constructor(options: {
    url: string | undefined;
    secrets: readonly string[];
    retry: WebhookRetry;
    faults: FaultInjector;
    timers: Timers;
    userAgent: string;
  }) {
    this.#url = options.url;
    this.#signer = options.url ? createWebhookSigner({ secrets: options.secrets }) : undefined;
    this.#retry = options.retry;
    this.#faults = options.faults;
    this.#timers = options.timers;
    this.#userAgent = options.userAgent;
  }

  /**
   * Delivers `event` after `delayMs`, and maybe a duplicate of it. Without a webhook URL the event
   * is only counted. `traceparent` (the one the call that led to this event carried) is sent back
   * as a header. Resolves once the first attempt of the (first) delivery is over, so that a caller
   * can make another event go out after this one.
   */
  send(event: WebhookEvent, delayMs: number, traceparent?: string): Promise<void> {
    this.#stats.events++;
    if (!this.#url) return Promise.resolve();
    const first = this.#deliver(event, delayMs, traceparent);
    if (this.#faults.chance(this.#faults.faults.duplicateRate)) {
      void this.#deliver(event, delayMs + 1 + Math.floor(this.#faults.random() * 50), traceparent);
    }
    return first;
  }

  stats(): WebhookStats {
    return { ...this.#stats };
  }

  failures(): FailedDelivery[] {
    return this.#failures.map((failure) => ({ ...failure }));
  }

  /** Resolves when no delivery is pending and no event is still to come. */
  idle(): Promise<void> {
    if (this.#stats.pending + this.#held === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Announces events still to come, so that `idle` waits for them; call the result once they are sent. */
  hold(): () => void {
    this.#held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held--;
      this.#notifyIfIdle();
    };
  }

  stop(): void {
    this.#stopping.abort();
  }

  /** Schedules one delivery with its retries; resolves after its first attempt. */
  #deliver(event: WebhookEvent, delayMs: number, traceparent: string | undefined): Promise<void> {
    this.#stats.deliveries++;
    this.#stats.pending++;
    const body = JSON.stringify(event);
    return new Promise<void>((firstAttemptDone) => {
      const attempt = async (number: number): Promise<void> => {
        const error = await this.#post(body, traceparent);
        firstAttemptDone();
        if (error === undefined) return this.#settle('delivered');
        if (this.#stopping.signal.aborted) return;
        if (number >= this.#retry.attempts) {
          this.#failures.push({ eventId: event.id, type: event.type, attempts: number, lastError: error });
          return this.#settle('failed');
        }
        // Exponential backoff with equal jitter: half the step for sure, the other half at random.
        const step = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (number - 1));
        this.#timers.after(step / 2 + this.#faults.random() * (step / 2), () => void attempt(number + 1));
      };
      this.#timers.after(delayMs, () => void attempt(1));
    });
  }

  /** One attempt: undefined when accepted (2xx), else what went wrong. */
  async #post(body: string, traceparent: string | undefined): Promise<string | undefined> {
    this.#stats.attempts++;
    try {
      const response = await fetch(this.#url!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#userAgent,
          [SIGNATURE_HEADER]: this.#signer!.sign(body),
          ...(traceparent ? { traceparent } : {}),
        },
        body,
        signal: AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(this.#retry.timeoutMs)]),
      });
      await response.arrayBuffer();
      return response.ok ? undefined : `answered ${response.status}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  #settle(how: 'delivered' | 'failed'): void {
    this.#stats[how]++;
    this.#stats.pending--;
    this.#notifyIfIdle();
  }

  #notifyIfIdle(): void {
    if (this.#stats.pending + this.#held === 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }
}
