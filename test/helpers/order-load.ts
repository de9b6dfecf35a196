/**
 * Orders at a steady rate through the API, as a well-behaved client places them while things
 * fail: each order has its own Idempotency-Key and is retried with that key (backing off) on a
 * 5xx, a 409 "in progress", a 429 or a broken connection, until the API accepts it. So every order
 * the client meant to place is placed exactly once, whatever happens in between; a 4xx otherwise is
 * a failure of the test.
 *
 *   const load = startOrderLoad({ apiUrl, apiKey, ratePerSecond: 20, lines: () => [{ sku, quantity: 1 }] });
 *   …                                  // faults
 *   const stats = await load.stop();   // waits for the orders in flight
 *   load.orders                        // the ids of every accepted order
 */
import { randomUUID } from 'node:crypto';
import type { RequestedLine } from '#shared/contracts/values.ts';

export interface OrderLoadOptions {
  apiUrl: string;
  apiKey: string;
  ratePerSecond: number;
  lines: () => RequestedLine[];
  /** Orders in flight (retrying included) at most; the generator waits above it. Default 200. */
  maxInFlight?: number;
  /** How long one order is retried before the client gives up on it. Default 180 s. */
  retryForMs?: number;
  customerId?: string;
}

export interface OrderLoadStats {
  accepted: number;
  /** Requests sent again after a failure (same Idempotency-Key). */
  retries: number;
  /** Accepted on a retry whose answer said it replayed the first request's (Idempotent-Replayed). */
  replayed: number;
  /** Answers that were neither accepted nor retryable (4xx): the test's failure. */
  rejected: { status: number; body: string }[];
  /** Orders given up after retryForMs. */
  abandoned: number;
  /** Status (or error code) → how many times it was seen, failures only. */
  failures: Record<string, number>;
  /** Accept latency of each order, first attempt to 202, ms. */
  latenciesMs: number[];
}

export interface OrderLoad {
  readonly orders: string[];
  readonly stats: OrderLoadStats;
  /** Stops placing new orders; resolves once every order in flight is accepted or given up. */
  stop(): Promise<OrderLoadStats>;
}

const RETRYABLE = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export function startOrderLoad(options: OrderLoadOptions): OrderLoad {
  const orders: string[] = [];
  const stats: OrderLoadStats = {
    accepted: 0,
    retries: 0,
    replayed: 0,
    rejected: [],
    abandoned: 0,
    failures: {},
    latenciesMs: [],
  };
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = options.maxInFlight ?? 200;
  const retryForMs = options.retryForMs ?? 180_000;
  let stopped = false;

  const placeOne = async () => {
    const key = randomUUID();
    const body = JSON.stringify({
      customerId: options.customerId ?? 'load-customer',
      currency: 'EUR',
      lines: options.lines(),
      shippingAddress: {
        name: 'Ada Lovelace',
        line1: '1 Analytical St',
        city: 'London',
        postalCode: 'N1 9GU',
        country: 'GB',
      },
    });
    const started = Date.now();
    let backoffMs = 100;
    for (let attempt = 1; ; attempt++) {
      let failure: string;
      try {
        const response = await fetch(`${options.apiUrl}/v1/orders`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${options.apiKey}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (response.status === 202) {
          orders.push((JSON.parse(text) as { id: string }).id);
          stats.accepted++;
          if (response.headers.get('idempotent-replayed') === 'true') stats.replayed++;
          stats.latenciesMs.push(Date.now() - started);
          return;
        }
        if (!RETRYABLE.has(response.status)) {
          stats.rejected.push({ status: response.status, body: text.slice(0, 500) });
          return;
        }
        failure = String(response.status);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause;
        failure = cause?.code ?? (error as Error).name;
      }
      stats.failures[failure] = (stats.failures[failure] ?? 0) + 1;
      if (Date.now() - started > retryForMs) {
        stats.abandoned++;
        return;
      }
      stats.retries++;
      await new Promise((resolve) => setTimeout(resolve, backoffMs * (0.5 + Math.random() / 2)));
      backoffMs = Math.min(backoffMs * 2, 2_000);
    }
  };

  const intervalMs = 1000 / options.ratePerSecond;
  let due = performance.now();
  const generator = (async () => {
    while (!stopped) {
      if (inFlight.size < maxInFlight) {
        const task = placeOne().finally(() => inFlight.delete(task));
        inFlight.add(task);
      }
      due += intervalMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    }
  })();

  return {
    orders,
    stats,
    async stop() {
      stopped = true;
      await generator;
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return stats;
    },
  };
}

/** A percentile of `values` (0–100), 0 when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
