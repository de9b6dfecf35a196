/**
 * The saga function's handler: every order event (live, redriven or replayed) asks the saga's
 * pure decider what the order needs next; the step is executed with its effect and recorded once.
 *
 * One message, inside one transaction holding the order's advisory lock (so one order's messages
 * run one at a time across instances, and in this process they queue per order before taking a
 * connection):
 *   1. skip it if processed_messages has (saga, event id): a redelivery, duplicate or replay;
 *   2. load the order (which includes the event) and decide; nothing to do → mark processed;
 *   3. run the command's effect: a provider call under the step's idempotency key, or a change of
 *      stock in this transaction;
 *   4. eventsForOutcome → append with the version loaded, and mark processed, and commit. When
 *      someone appended first (the API, a webhook), reload and record the same outcome again on
 *      the newer order; a change of stock commits only together with the events recording it.
 * Outcomes: a transient provider error or an open circuit nacks (Pub/Sub redelivers with backoff,
 * the same idempotency key repeats the same call); a permanent error, or a state the saga cannot
 * continue from (a failed refund), is dead-lettered at once for an operator and acked.
 */
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { EVENT_SOURCE_PREFIX } from '#shared/contracts/envelope.ts';
import { EVENT_TYPE, parseEvent, type DomainEvent } from '#shared/contracts/events/index.ts';
import type { OrderState } from '#shared/domain/order/index.ts';
import {
  decide,
  eventsForOutcome,
  type SagaCommand,
  type SagaConfig,
  type SagaOutcomes,
} from '#shared/domain/saga/index.ts';
import { ConveyorError, NotFoundError } from '#shared/errors.ts';
import { createKeyedSerializer, createLimiter } from '#shared/functions/concurrency.ts';
import type { PushPlumbing } from '#shared/functions/runtime.ts';
import { createPushHandler, type PushConsumer, type PushContext } from '#shared/messaging/consumer.ts';
import { createUuidV7 } from '#shared/orders/ids.ts';
import type { PaymentProvider, RetryOptions, ShippingProvider } from '#shared/providers/index.ts';
import { markProcessed, wasProcessed } from '#shared/store/consumer-records.ts';
import { AppendConflictError, appendEvents } from '#shared/store/event-store.ts';
import { lockOrder } from '#shared/store/order-locks.ts';
import { loadOrderState } from '#shared/store/orders.ts';
import type { Pool, PoolClient } from '#shared/store/pool.ts';
import { releaseStock, reserveStock, shipStock } from '#shared/store/reservations.ts';
import { withTransaction } from '#shared/store/transaction.ts';
import { disabledTelemetry, withEventCreation, type Telemetry } from '#shared/telemetry/index.ts';

export const SAGA_CONSUMER = FUNCTION.saga;
export const SAGA_SOURCE = `${EVENT_SOURCE_PREFIX}/saga`;

/**
 * How long the saga gives a provider call: 5 s per attempt, retries started within 15 s. The
 * worst case (an attempt started at 15 s that times out, plus backoff) stays under 25 s: inside
 * the subscription's 60 s ack deadline, and inside the pool's 30 s idle-in-transaction timeout,
 * since the call runs while the order's lock (a transaction) is held.
 */
export const SAGA_PROVIDER_TIMEOUT_MS = 5_000;
export const SAGA_PROVIDER_RETRY: Partial<RetryOptions> = {
  retries: 3,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  maxElapsedMs: 15_000,
};

/** Records attempted when other writers keep appending to the order first. */
const MAX_RECORD_ATTEMPTS = 5;

export interface SagaDeps {
  pool: Pool;
  payment: PaymentProvider;
  shipping: ShippingProvider;
  config: SagaConfig;
  clock?: () => Date;
  /** Event ids: UUIDv7. */
  newId?: () => string;
  /** Steps in flight at once in this process; each holds a pool connection. Default 8. */
  concurrency?: number;
  /** After a commit that appended `count` events: wake an outbox relay. */
  onAppended?: (count: number) => void;
  /**
   * Spans of the events the saga creates (their traceparent continues the order's trace) and the
   * end-to-end latency of the orders it finishes. Default: none.
   */
  telemetry?: Telemetry;
}

/** The saga cannot go on by itself: an operator must look at the order (dead-lettered, acked). */
export class OperatorNeededError extends ConveyorError {
  readonly orderId: string;

  constructor(orderId: string, reason: string) {
    super(`order ${orderId} needs an operator: ${reason}`, { retryable: false });
    this.orderId = orderId;
  }
}

/** What one message did, for logs and tests. */
export interface StepResult {
  outcome: 'duplicate' | 'nothing-to-do' | 'recorded';
  command?: SagaCommand['type'];
  appended: number;
  /** The order ended with this step: accepted at createdAt, ended at endedAt (its last event's time). */
  ended?: { outcome: 'completed' | 'cancelled'; createdAt: string; endedAt: string };
}

export function createSagaConsumer(deps: SagaDeps): PushConsumer<DomainEvent> {
  const clock = deps.clock ?? (() => new Date());
  const newId = deps.newId ?? createUuidV7();
  const serially = createKeyedSerializer();
  const limited = createLimiter(deps.concurrency ?? 8);
  const telemetry = deps.telemetry ?? disabledTelemetry(SAGA_CONSUMER);

  async function step(event: DomainEvent, context: PushContext): Promise<StepResult> {
    const orderId = event.subject;
    const result = await withTransaction(deps.pool, async (client): Promise<StepResult> => {
      await lockOrder(client, orderId);
      if (await wasProcessed(client, SAGA_CONSUMER, event.id)) {
        return { outcome: 'duplicate', appended: 0 };
      }
      let state = await loadOrderState(client, orderId);
      if (!state) throw new NotFoundError('order', orderId);
      const [command] = decide(state, event, { config: deps.config, now: clock().toISOString() });
      let appended = 0;
      let ended: StepResult['ended'];
      if (command) {
        if (command.type === 'EscalateToOperator') throw new OperatorNeededError(orderId, command.reason);
        const outcome = await callProvider(command);
        let events: readonly DomainEvent[];
        ({ state, appended, events } = await record(client, state, command, outcome, event));
        const last = events.find(
          (e) => e.type === EVENT_TYPE.orderCompleted || e.type === EVENT_TYPE.orderCancelled,
        );
        if (last) {
          ended = {
            outcome: last.type === EVENT_TYPE.orderCompleted ? 'completed' : 'cancelled',
            createdAt: state.createdAt,
            endedAt: last.time,
          };
        }
      }
      // Stock follows the recorded facts: once the carrier has the parcel, its units are shipped.
      if (state.shipment?.status === 'dispatched' || state.shipment?.status === 'delivered') {
        await shipStock(client, orderId);
      }
      await markProcessed(client, SAGA_CONSUMER, event.id);
      return {
        outcome: appended > 0 ? 'recorded' : 'nothing-to-do',
        ...(command ? { command: command.type } : {}),
        appended,
        ...(ended ? { ended } : {}),
      };
    });
    if (result.appended > 0) deps.onAppended?.(result.appended);
    // Committed: the order's end-to-end latency, from acceptance (order.created) to this event.
    if (result.ended) {
      telemetry.metrics.orderEnded(result.ended.outcome, {
        acceptedAt: result.ended.createdAt,
        endedAt: result.ended.endedAt,
      });
    }
    context.logger.debug({ step: result }, 'saga step');
    return result;
  }

  /** The outcome of a provider call; undefined for steps whose effect is in Postgres or nowhere. */
  async function callProvider(command: SagaCommand): Promise<SagaOutcomes[keyof SagaOutcomes] | undefined> {
    switch (command.type) {
      case 'ChargePayment':
        return deps.payment.charge({
          orderId: command.orderId,
          amountMinor: command.amountMinor,
          currency: command.currency,
          idempotencyKey: command.idempotencyKey,
        });
      case 'RefundPayment':
        return deps.payment.refund({
          paymentId: command.paymentId,
          amountMinor: command.amountMinor,
          idempotencyKey: command.idempotencyKey,
        });
      case 'RequestShipment':
        return deps.shipping.createShipment({
          orderId: command.orderId,
          lines: command.lines,
          address: command.address,
          idempotencyKey: command.idempotencyKey,
        });
      case 'CancelShipment':
        return deps.shipping.cancelShipment({
          shipmentId: command.shipmentId,
          idempotencyKey: command.idempotencyKey,
        });
      // Their effect is a change of stock in the recording transaction, or nothing but the events.
      case 'ReserveInventory':
      case 'ReleaseInventory':
      case 'RequestApproval':
      case 'CompleteOrder':
      case 'FinishCancellation':
      case 'EscalateToOperator':
        return undefined;
    }
  }

  /** Effects in Postgres, run inside the recording savepoint so they commit only with their events. */
  async function changeStock(
    client: PoolClient,
    command: SagaCommand,
  ): Promise<SagaOutcomes[keyof SagaOutcomes]> {
    switch (command.type) {
      case 'ReserveInventory':
        return reserveStock(client, command.orderId, command.lines);
      case 'ReleaseInventory':
        await releaseStock(client, command.orderId);
        return { status: 'released' };
      case 'RequestApproval':
      case 'CompleteOrder':
      case 'FinishCancellation':
      case 'EscalateToOperator':
        return { status: 'done' };
      // Provider calls are made before recording; their outcome is passed in.
      case 'ChargePayment':
      case 'RefundPayment':
      case 'RequestShipment':
      case 'CancelShipment':
        throw new Error(`${command.type} is a provider call, not a change of stock`);
    }
  }

  async function record(
    client: PoolClient,
    loaded: OrderState,
    command: SagaCommand,
    providerOutcome: SagaOutcomes[keyof SagaOutcomes] | undefined,
    cause: DomainEvent,
  ): Promise<{ state: OrderState; appended: number; events: readonly DomainEvent[] }> {
    let state = loaded;
    for (let attempt = 1; ; attempt++) {
      await client.query('SAVEPOINT saga_record');
      try {
        const outcome = providerOutcome ?? (await changeStock(client, command));
        const decisions = eventsForOutcome(state, command, outcome as never);
        let events: readonly DomainEvent[] = [];
        if (decisions.length === 0) {
          // Nothing (more) to record: a change of stock made for it must not stay either.
          await client.query('ROLLBACK TO SAVEPOINT saga_record');
        } else {
          // The events are created in a span under this delivery's: their consumers continue the
          // order's trace from here (the cause's own traceparent when tracing is off).
          const creation = { orderId: state.id, correlationId: cause.correlationid, count: decisions.length };
          const current = state;
          const result = await withEventCreation(telemetry, creation, (traceparent) =>
            appendEvents(
              client,
              current.id,
              current.version,
              decisions,
              {
                time: clock().toISOString(),
                newId,
                source: SAGA_SOURCE,
                correlationId: cause.correlationid,
                causationId: cause.id,
                ...((traceparent ?? cause.traceparent)
                  ? { traceparent: traceparent ?? cause.traceparent }
                  : {}),
              },
              // The API's relay hears the commit through NOTIFY (and this function's own relay, when
              // it runs one, through onAppended).
              { current, notify: true },
            ),
          );
          state = result.state;
          events = result.events;
        }
        await client.query('RELEASE SAVEPOINT saga_record');
        return { state, appended: events.length, events };
      } catch (error) {
        if (!(error instanceof AppendConflictError) || attempt >= MAX_RECORD_ATTEMPTS) throw error;
        await client.query('ROLLBACK TO SAVEPOINT saga_record');
        const reloaded = await loadOrderState(client, state.id);
        if (!reloaded) throw error;
        state = reloaded;
      }
    }
  }

  return {
    name: SAGA_CONSUMER,
    parse: (message) => parseEvent(message.json),
    handle: async (event, context) => {
      await serially(event.subject, () => limited(() => step(event, context)));
    },
  };
}

/** The push endpoint of the saga function. */
export function createSagaHandler(deps: SagaDeps & { push: PushPlumbing }) {
  return createPushHandler(createSagaConsumer(deps), deps.push);
}
