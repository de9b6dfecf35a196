/**
 * The ingest function's handler: an inbound event (shared/contracts/inbound.ts) from an outside
 * producer becomes an order command run through the order's decide, so what producers ask for
 * becomes domain events exactly as if asked through the API. Invalid messages (not the contract,
 * unknown SKUs, an external id reused for another order) are dead-lettered at once with their
 * validation errors and acked; a database failure nacks.
 *
 * Safe to run twice without a record of its own: the order id is derived from the producer and its
 * external id, so a second place finds the order placed; a second cancel finds it cancelling.
 */
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { EVENT_SOURCE_PREFIX } from '#shared/contracts/envelope.ts';
import { issuesOf } from '#shared/contracts/events/index.ts';
import {
  inboundOrderId,
  InboundEventSchema,
  INBOUND_TYPE,
  type InboundEvent,
  type OrderPlaceRequest,
} from '#shared/contracts/inbound.ts';
import type { OrderState } from '#shared/domain/order/index.ts';
import { NotFoundError, ValidationError } from '#shared/errors.ts';
import type { PushPlumbing } from '#shared/functions/runtime.ts';
import { createPushHandler, type PushConsumer, type PushContext } from '#shared/messaging/consumer.ts';
import { executeOrderCommand, placeOrder, type OrderCommandDeps } from '#shared/orders/execute.ts';
import { createUuidV7 } from '#shared/orders/ids.ts';
import { AppendConflictError } from '#shared/store/event-store.ts';
import { loadOrderState } from '#shared/store/orders.ts';
import type { Pool } from '#shared/store/pool.ts';

export const INGEST_SOURCE = `${EVENT_SOURCE_PREFIX}/ingest`;

export interface IngestDeps {
  pool: Pool;
  clock?: () => Date;
  newId?: () => string;
  /** After events were committed: wake an outbox relay. */
  onAppended?: (count: number) => void;
}

/** What one inbound event did. */
export type IngestOutcome = 'placed' | 'already-placed' | 'cancellation-requested' | 'unchanged';

/** Validates the message as an inbound event; ValidationError (dead-lettered) listing every problem. */
export function parseInbound(json: unknown): InboundEvent {
  if (json === undefined) {
    throw new ValidationError('invalid inbound event: the data is not JSON', [
      { path: '(data)', message: 'expected a JSON CloudEvent' },
    ]);
  }
  const parsed = InboundEventSchema.safeParse(json);
  if (!parsed.success) throw new ValidationError('invalid inbound event', issuesOf(parsed.error, ''));
  return parsed.data;
}

export function createIngestConsumer(deps: IngestDeps): PushConsumer<InboundEvent> {
  const commands: OrderCommandDeps = {
    db: deps.pool,
    clock: deps.clock ?? (() => new Date()),
    newId: deps.newId ?? createUuidV7(),
    source: INGEST_SOURCE,
    notify: true,
    onAppended: (events) => deps.onAppended?.(events.length),
  };

  async function ingest(event: InboundEvent, context: PushContext): Promise<IngestOutcome> {
    const orderId = inboundOrderId(event.source, event.data.externalId);
    const meta = { correlationId: orderId, causationId: `inbound:${event.source}:${event.id}` };
    switch (event.type) {
      case INBOUND_TYPE.orderPlace: {
        const existing = await loadOrderState(deps.pool, orderId);
        if (existing) return samePlacement(existing, event.data);
        try {
          await placeOrder(commands, orderId, { ...event.data, channel: 'inbound' }, meta);
          return 'placed';
        } catch (error) {
          // Placed by a concurrent delivery of the same request between our read and our write.
          if (!(error instanceof AppendConflictError)) throw error;
          const placed = await loadOrderState(deps.pool, orderId);
          if (!placed) throw error;
          return samePlacement(placed, event.data);
        }
      }
      case INBOUND_TYPE.orderCancel: {
        try {
          const result = await executeOrderCommand(
            commands,
            orderId,
            {
              type: 'RequestCancellation',
              by: { kind: 'customer', id: event.source },
              reason: event.data.reason,
            },
            meta,
          );
          return result.events.length > 0 ? 'cancellation-requested' : 'unchanged';
        } catch (error) {
          if (error instanceof NotFoundError) {
            context.logger.info({ orderId }, 'cancel of an order this producer never placed');
            throw new ValidationError(`no order ${event.data.externalId} from ${event.source}`, [
              { path: 'data.externalId', message: 'no such order from this source' },
            ]);
          }
          throw error;
        }
      }
    }
  }

  return {
    name: FUNCTION.ingest,
    parse: (message) => parseInbound(message.json),
    handle: async (event, context) => {
      const outcome = await ingest(event, context);
      context.logger.debug({ outcome, type: event.type, externalId: event.data.externalId }, 'ingested');
    },
  };
}

/** A repeat of a placement is fine; another order under the same external id is refused. */
function samePlacement(state: OrderState, request: OrderPlaceRequest): IngestOutcome {
  const same =
    state.channel === 'inbound' &&
    state.customerId === request.customerId &&
    state.currency === request.currency &&
    JSON.stringify(state.lines.map(({ sku, quantity }) => ({ sku, quantity }))) ===
      JSON.stringify(request.lines.map(({ sku, quantity }) => ({ sku, quantity })));
  if (!same) {
    throw new ValidationError(`external id ${request.externalId} was used for another order`, [
      { path: 'data.externalId', message: 'already used for an order with other content' },
    ]);
  }
  return 'already-placed';
}

export function createIngestHandler(deps: IngestDeps & { push: PushPlumbing }) {
  return createPushHandler(createIngestConsumer(deps), deps.push);
}
