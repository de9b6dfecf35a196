/**
 * Load → decide → append for one order, the way every writer runs an order command: the API
 * (place, cancel, approve), provider webhooks, the timeouts function and the ingest function.
 */
import type { DomainEvent } from '#shared/contracts/events/index.ts';
import type { Address, RequestedLine } from '#shared/contracts/values.ts';
import { decide, type OrderCommand, type OrderState } from '#shared/domain/order/index.ts';
import { NotFoundError } from '#shared/errors.ts';
import {
  AppendConflictError,
  appendEvents,
  appendEventsOnce,
  type Appended,
  type EventMeta,
} from '#shared/store/event-store.ts';
import type { IdempotencyRecord, StoredResponse } from '#shared/store/idempotency.ts';
import { loadOrderState } from '#shared/store/orders.ts';
import type { Queryable } from '#shared/store/pool.ts';
import { currentTraceparent } from '#shared/telemetry/context.ts';
import { VersionMismatchError } from './errors.ts';
import { priceLines } from './pricing.ts';

export interface OrderCommandDeps {
  /**
   * A pool (each attempt is a single atomic statement), or a transaction's client to append
   * within the caller's transaction; then set maxAttempts to 1, since a failed statement aborts
   * the transaction.
   */
  db: Queryable;
  clock: () => Date;
  /** Event ids: UUIDv7. */
  newId: () => string;
  /** CloudEvents source of the deployable, e.g. //conveyor/api. */
  source: string;
  /** Runs after the events are committed (or appended, inside a caller's transaction). */
  onAppended?: ((events: readonly DomainEvent[]) => void) | undefined;
  /** Attempts when another writer appended first; default 3. */
  maxAttempts?: number;
  /** NOTIFY relays in other processes (for writers without a relay of their own). */
  notify?: boolean;
}

export interface CommandMeta {
  /** Ties every event of one order flow together; default: the order id. */
  correlationId?: string | undefined;
  /** The event or request that caused this command. */
  causationId?: string | undefined;
  /** W3C trace context to carry on the events; default the active span's (a request, a delivery). */
  traceparent?: string | undefined;
  /** Act only while the order is at one of these versions (HTTP If-Match). Not retried. */
  expectedVersions?: readonly number[] | undefined;
}

export interface CommandOutcome {
  state: OrderState;
  /** What was appended; empty when the command was already satisfied. */
  events: DomainEvent[];
}

/**
 * Loads the order, decides, and appends the decisions with the version it loaded. When another
 * writer appended first it re-reads and decides again (decide is pure, so that is safe), up to
 * `maxAttempts` times. Throws NotFoundError for an unknown order, VersionMismatchError when
 * `expectedVersions` does not hold, and whatever decide throws.
 */
export async function executeOrderCommand(
  deps: OrderCommandDeps,
  orderId: string,
  command: OrderCommand,
  meta: CommandMeta = {},
): Promise<CommandOutcome> {
  const maxAttempts = meta.expectedVersions ? 1 : (deps.maxAttempts ?? 3);
  for (let attempt = 1; ; attempt++) {
    const state = await loadOrderState(deps.db, orderId);
    if (!state && command.type !== 'PlaceOrder') throw new NotFoundError('order', orderId);
    if (meta.expectedVersions && !meta.expectedVersions.includes(state?.version ?? 0)) {
      throw new VersionMismatchError(orderId, meta.expectedVersions, state?.version);
    }
    const decisions = decide(state, command);
    if (decisions.length === 0) return { state: state!, events: [] };
    try {
      const appended = await appendEvents(
        deps.db,
        orderId,
        state?.version ?? 0,
        decisions,
        eventMeta(deps, orderId, meta),
        { current: state, notify: deps.notify === true },
      );
      deps.onAppended?.(appended.events);
      return appended;
    } catch (error) {
      if (!(error instanceof AppendConflictError)) throw error;
      if (meta.expectedVersions) {
        throw new VersionMismatchError(orderId, meta.expectedVersions, undefined);
      }
      if (attempt >= maxAttempts) throw error;
    }
  }
}

export interface PlaceOrderInput {
  customerId: string;
  currency: string;
  lines: readonly RequestedLine[];
  shippingAddress: Address;
  channel: 'api' | 'inbound';
}

export type PlaceOrderOutcome = ({ outcome: 'created' } & Appended) | { outcome: 'duplicate' };

/**
 * Prices the lines from the catalogue and places order `orderId`. With `idempotency`, the key's
 * record and the order commit together: 'duplicate' means the key was already used (the caller
 * replays the stored response or refuses a different request).
 */
export async function placeOrder(
  deps: OrderCommandDeps,
  orderId: string,
  input: PlaceOrderInput,
  meta: CommandMeta = {},
  idempotency?: { record: IdempotencyRecord; respond: (appended: Appended) => StoredResponse },
): Promise<PlaceOrderOutcome> {
  const lines = await priceLines(deps.db, input.currency, input.lines);
  const command: OrderCommand = {
    type: 'PlaceOrder',
    customerId: input.customerId,
    currency: input.currency,
    lines,
    shippingAddress: input.shippingAddress,
    channel: input.channel,
  };
  const decisions = decide(undefined, command);
  const eventMetadata = eventMeta(deps, orderId, meta);
  const notify = deps.notify === true;
  const appended = idempotency
    ? await appendEventsOnce(
        deps.db,
        idempotency.record,
        orderId,
        decisions,
        eventMetadata,
        idempotency.respond,
        {
          notify,
        },
      )
    : await appendEvents(deps.db, orderId, 0, decisions, eventMetadata, { notify });
  if (!appended) return { outcome: 'duplicate' };
  deps.onAppended?.(appended.events);
  return { outcome: 'created', ...appended };
}

/**
 * The envelope metadata of a command: time from the clock, ids from the generator, correlation
 * defaulting to the order id, trace context defaulting to the active span's.
 */
export function eventMeta(deps: OrderCommandDeps, orderId: string, meta: CommandMeta): EventMeta {
  const traceparent = meta.traceparent ?? currentTraceparent();
  return {
    time: deps.clock().toISOString(),
    newId: deps.newId,
    source: deps.source,
    correlationId: meta.correlationId ?? orderId,
    ...(meta.causationId ? { causationId: meta.causationId } : {}),
    ...(traceparent ? { traceparent } : {}),
  };
}
