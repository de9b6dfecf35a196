/**
 * Failure injection for the sandbox providers, by configuration. Every random choice comes from
 * one seeded generator per sandbox, so the same requests in the same order meet the same faults.
 * The defaults inject nothing: zero latency, every charge succeeds, every parcel arrives.
 */
import { z } from 'zod';

const Rate = z.number().min(0).max(1);
const Millis = z.number().int().min(0).max(600_000);

export const FaultsSchema = z.object({
  /** Seed of the generator behind every random choice below. */
  seed: z.number().int(),
  /** Payment: share of charges declined (reported by a payment.failed webhook). */
  declineRate: Rate,
  /** Shipping: share of shipments that fail instead of being dispatched (shipment.failed webhook). */
  shipmentFailureRate: Rate,
  /**
   * Share of API calls answered 500, 502 or 503. Half of them happen after the call took effect
   * (its answer is stored under its idempotency key), as when a gateway fails on the way back:
   * only the key keeps the retry from charging twice.
   */
  errorRate: Rate,
  /** Share of API calls never answered: the connection is dropped after `hangMs` (half after effect). */
  timeoutRate: Rate,
  hangMs: Millis,
  /** Added before every API answer. */
  latencyMs: Millis,
  /** From a call to its first webhook, and between a shipment's stages. */
  webhookDelayMs: Millis,
  /** Share of webhook events delivered twice (same provider event id). */
  duplicateRate: Rate,
  /** Shipping: share of shipments whose shipment.delivered goes out before shipment.dispatched. */
  reorderRate: Rate,
});
export type Faults = z.infer<typeof FaultsSchema>;

export const NO_FAULTS: Faults = Object.freeze({
  seed: 1,
  declineRate: 0,
  shipmentFailureRate: 0,
  errorRate: 0,
  timeoutRate: 0,
  hangMs: 30_000,
  latencyMs: 0,
  webhookDelayMs: 0,
  duplicateRate: 0,
  reorderRate: 0,
});

/** Merges `changes` into `current`, refusing out-of-range values with a message naming them. */
export function mergeFaults(current: Faults, changes: Partial<Faults> = {}): Faults {
  const parsed = FaultsSchema.safeParse({ ...current, ...changes });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new RangeError(`invalid faults: ${problems.join('; ')}`);
  }
  return Object.freeze(parsed.data);
}

/** A small seeded generator (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The faults in force and the generator that draws against them; reseeded when the seed changes. */
export class FaultInjector {
  #faults: Faults;
  #random: () => number;

  constructor(faults: Partial<Faults> = {}) {
    this.#faults = mergeFaults(NO_FAULTS, faults);
    this.#random = seededRandom(this.#faults.seed);
  }

  get faults(): Faults {
    return this.#faults;
  }

  configure(changes: Partial<Faults>): void {
    this.#faults = mergeFaults(this.#faults, changes);
    if (changes.seed !== undefined) this.#random = seededRandom(changes.seed);
  }

  /** True with probability `rate` (no draw when the rate is 0 or 1, so defaults stay deterministic). */
  chance(rate: number): boolean {
    if (rate <= 0) return false;
    if (rate >= 1) return true;
    return this.#random() < rate;
  }

  /** One of `choices`, evenly. */
  pick<T>(choices: readonly T[]): T {
    return choices[Math.floor(this.#random() * choices.length)]!;
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.#random();
  }

  /** The fault, if any, for one API call: an error status or a hang, before or after its effect. */
  drawCallFault(): CallFault | undefined {
    const { errorRate, timeoutRate } = this.#faults;
    if (this.chance(errorRate)) {
      return { kind: 'error', status: this.pick([500, 502, 503] as const), afterEffect: this.chance(0.5) };
    }
    if (this.chance(timeoutRate)) return { kind: 'hang', afterEffect: this.chance(0.5) };
    return undefined;
  }
}

export type CallFault =
  { kind: 'error'; status: 500 | 502 | 503; afterEffect: boolean } | { kind: 'hang'; afterEffect: boolean };
