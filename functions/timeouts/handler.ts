/**
 * The timeouts function's handler, driven by ticks (Cloud Scheduler every minute in production,
 * the launcher or a test locally). Each tick, in order:
 *   1. approval deadlines: every order awaiting approval past a deadline gets CheckApprovalDeadline
 *      (escalate after the first: order.approval_escalated, which the notifier announces; cancel
 *      after the second: order.cancellation_requested, which the saga carries out);
 *   2. unrecorded provider effects (see api/routes/webhooks/record.ts): refund a charge a cancelled
 *      order never recorded; cancel such a parcel, or hand it to an operator as a dead letter;
 *   3. one sweep of the outbox, so rows left by a crash are published even with no API running.
 * Every part is idempotent (the order's decide answers [] once a deadline is dealt with; refunds
 * and cancels carry idempotency keys), so a redelivered or doubled tick does no harm. A failure in
 * one order does not stop the others; if any failed for a transient reason the tick is nacked and
 * comes back.
 */
import { z } from 'zod';
import { FUNCTION, TOPIC } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { ATTRIBUTE, EVENT_SOURCE_PREFIX } from '#shared/contracts/envelope.ts';
import { issuesOf } from '#shared/contracts/events/index.ts';
import { DependencyError, isRetryable, ValidationError } from '#shared/errors.ts';
import type { PushPlumbing } from '#shared/functions/runtime.ts';
import type { Logger } from '#shared/logging/index.ts';
import type { ReceivedMessage } from '#shared/messaging/codec.ts';
import { createPushHandler, type PushConsumer } from '#shared/messaging/consumer.ts';
import { truncateUtf8 } from '#shared/messaging/dead-letters.ts';
import type { Publisher } from '#shared/messaging/publisher.ts';
import type { CycleResult } from '#shared/messaging/relay.ts';
import { executeOrderCommand, type OrderCommandDeps } from '#shared/orders/execute.ts';
import { createUuidV7 } from '#shared/orders/ids.ts';
import type { PaymentProvider, ShippingProvider } from '#shared/providers/index.ts';
import { approvalsDue } from '#shared/store/approvals.ts';
import type { Pool } from '#shared/store/pool.ts';
import {
  openUnrecordedEffects,
  settleUnrecordedEffect,
  type UnrecordedEffect,
} from '#shared/store/unrecorded-effects.ts';

export const TIMEOUTS_SOURCE = `${EVENT_SOURCE_PREFIX}/timeouts`;

/**
 * A tick, as infra/constructs/scheduler.ts publishes it: data {"tick":"every-minute"} and the
 * attribute conveyor-tick. Either one identifies a tick.
 */
export const TICK_ATTRIBUTE = 'conveyor-tick';
export const TickSchema = z.object({ tick: z.string().min(1).max(100) });

export interface Tick {
  name: string;
  messageId: string;
}

export function parseTick(message: ReceivedMessage): Tick {
  const attribute = message.attributes[TICK_ATTRIBUTE];
  if (attribute) return { name: attribute, messageId: message.messageId };
  const parsed = TickSchema.safeParse(message.json);
  if (!parsed.success) throw new ValidationError('not a tick', issuesOf(parsed.error, 'data'));
  return { name: parsed.data.tick, messageId: message.messageId };
}

export interface TimeoutsDeps {
  pool: Pool;
  payment: PaymentProvider;
  shipping: ShippingProvider;
  /** Sweeps the outbox once (a relay's sweep()). */
  sweepOutbox: () => Promise<CycleResult>;
  /** Publishes operator dead letters (a parcel that left for a cancelled order). */
  publisher: Publisher;
  clock?: () => Date;
  newId?: () => string;
  /** Orders and effects looked at per tick, at most. Default 500. */
  batchSize?: number;
  /** After a commit that appended events: wake an outbox relay. */
  onAppended?: (count: number) => void;
}

export interface TickResult {
  escalated: number;
  expired: number;
  compensated: number;
  handedToOperator: number;
  published: number;
  failures: number;
}

export function createTimeoutsConsumer(deps: TimeoutsDeps): PushConsumer<Tick> {
  const clock = deps.clock ?? (() => new Date());
  const commands: OrderCommandDeps = {
    db: deps.pool,
    clock,
    newId: deps.newId ?? createUuidV7(),
    source: TIMEOUTS_SOURCE,
    notify: true,
    onAppended: (events) => deps.onAppended?.(events.length),
  };
  const batchSize = deps.batchSize ?? 500;

  async function checkApprovals(
    tick: Tick,
    now: Date,
    result: TickResult,
    errors: unknown[],
    logger: Logger,
  ) {
    for (const orderId of await approvalsDue(deps.pool, now, batchSize)) {
      try {
        const { events } = await executeOrderCommand(
          commands,
          orderId,
          { type: 'CheckApprovalDeadline', now: now.toISOString() },
          { causationId: `tick:${tick.messageId}` },
        );
        for (const event of events) {
          if (event.type === 'order.approval_escalated.v1') result.escalated++;
          if (event.type === 'order.cancellation_requested.v1') result.expired++;
        }
      } catch (error) {
        errors.push(error);
        logger.warn({ error, orderId }, 'approval deadline check failed');
      }
    }
  }

  async function compensate(effect: UnrecordedEffect): Promise<'compensated' | 'operator' | 'retry'> {
    const key = `${effect.orderId}:compensate:${effect.reference}`;
    if (effect.kind === 'charge') {
      if (effect.amountMinor === undefined) return handToOperator(effect, 'the charge has no amount');
      const outcome = await deps.payment.refund({
        paymentId: effect.reference,
        amountMinor: effect.amountMinor,
        idempotencyKey: key,
      });
      if (outcome.status === 'refunded') {
        await settleUnrecordedEffect(deps.pool, effect, 'compensated', `refunded: ${outcome.refundId}`);
        return 'compensated';
      }
      return handToOperator(effect, `refund refused: ${outcome.reason}`);
    }
    const outcome = await deps.shipping.cancelShipment({ shipmentId: effect.reference, idempotencyKey: key });
    if (outcome.status === 'cancelled') {
      await settleUnrecordedEffect(deps.pool, effect, 'compensated', 'shipment cancelled');
      return 'compensated';
    }
    return handToOperator(effect, `shipment of a cancelled order cannot be cancelled: ${outcome.reason}`);
  }

  /** A compensation that failed is never swallowed: a dead letter for an operator, then settled. */
  async function handToOperator(effect: UnrecordedEffect, reason: string): Promise<'operator'> {
    const [outcome] = await deps.publisher.publish(TOPIC.deadLetters, [
      {
        data: Buffer.from(JSON.stringify({ unrecordedEffect: effect })),
        attributes: {
          [DEAD_LETTER_ATTRIBUTE.reason]: truncateUtf8(
            `${effect.kind} ${effect.reference} of cancelled order ${effect.orderId}: ${reason}`,
            1_024,
          ),
          [DEAD_LETTER_ATTRIBUTE.subscription]: FUNCTION.timeouts,
          // An id makes a second hand-over (a crash before settling) the same open dead letter.
          [ATTRIBUTE.id]: `unrecorded-effect:${effect.provider}:${effect.reference}`,
          [ATTRIBUTE.subject]: effect.orderId,
        },
      },
    ]);
    if (!outcome?.messageId) throw outcome?.error ?? new Error('dead letter not published');
    await settleUnrecordedEffect(deps.pool, effect, 'failed', reason);
    return 'operator';
  }

  async function tick(tick: Tick, logger: Logger): Promise<TickResult> {
    const now = clock();
    const result: TickResult = {
      escalated: 0,
      expired: 0,
      compensated: 0,
      handedToOperator: 0,
      published: 0,
      failures: 0,
    };
    const errors: unknown[] = [];
    await checkApprovals(tick, now, result, errors, logger);
    for (const effect of await openUnrecordedEffects(deps.pool, batchSize)) {
      try {
        const done = await compensate(effect);
        if (done === 'compensated') result.compensated++;
        if (done === 'operator') result.handedToOperator++;
      } catch (error) {
        errors.push(error);
        logger.warn({ error, effect }, 'compensating an unrecorded effect failed');
      }
    }
    try {
      result.published = (await deps.sweepOutbox()).published;
    } catch (error) {
      errors.push(error);
      logger.warn({ error }, 'outbox sweep failed');
    }
    result.failures = errors.length;
    logger.info({ tick: tick.name, ...result }, 'tick');
    if (errors.some(isRetryable)) {
      throw new DependencyError('timeouts', `${errors.length} part(s) of the tick failed; it will come back`);
    }
    return result;
  }

  return {
    name: FUNCTION.timeouts,
    parse: parseTick,
    handle: async (input, context) => {
      await tick(input, context.logger);
    },
  };
}

export function createTimeoutsHandler(deps: TimeoutsDeps & { push: PushPlumbing }) {
  return createPushHandler(createTimeoutsConsumer(deps), deps.push);
}
