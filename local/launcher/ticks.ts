/**
 * Cloud Scheduler, locally: a tick on the ticks topic every `intervalMs`, the message infra's
 * scheduler job publishes (infra/constructs/scheduler.ts TICK; test/unit/launcher checks they
 * agree), which functions/timeouts turns into approval deadlines, compensations and the outbox sweep.
 */
import type { PubSub } from '@google-cloud/pubsub';
import { TOPIC } from '#shared/contracts/catalogue.ts';

/** The tick message: JSON data and attributes, as the scheduler job sends them. */
export const LOCAL_TICK = {
  data: { tick: 'every-minute' },
  attributes: { 'conveyor-tick': 'every-minute' },
} as const;

export interface Ticker {
  /** Publishes one tick now; resolves with its message id. */
  tick(): Promise<string>;
  stop(): void;
}

export function startTicker(options: {
  pubsub: PubSub;
  /** 0: no schedule, only tick() on demand. */
  intervalMs: number;
  onError?: (error: unknown) => void;
}): Ticker {
  const topic = options.pubsub.topic(TOPIC.ticks);
  const tick = () =>
    topic.publishMessage({
      data: Buffer.from(JSON.stringify(LOCAL_TICK.data)),
      attributes: { ...LOCAL_TICK.attributes },
    });
  // Like the scheduler: a missed tick is not retried; the next one comes on schedule.
  const timer =
    options.intervalMs > 0
      ? setInterval(() => {
          tick().catch((error: unknown) => options.onError?.(error));
        }, options.intervalMs)
      : undefined;
  timer?.unref();
  return { tick, stop: () => clearInterval(timer) };
}
