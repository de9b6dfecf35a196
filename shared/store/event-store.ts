/**
 * The event store. `appendEvents` turns an order's decisions into enveloped events and writes, in
 * ONE SQL statement: the events (unique order id + sequence is the optimistic concurrency check),
 * the orders / order_lines projection (queryable columns plus the full state JSON) and one outbox
 * row per event (topic order-events, ordering key = order id, payload = the envelope, attributes =
 * ce-*). One statement is atomic on its own, so it needs no BEGIN/COMMIT on a bare pool, and it
 * joins the caller's transaction when given a transaction's client (the saga reserves inventory and
 * appends in one transaction).
 *
 * Per-key publish order relies on this: the projection row is written (locked) before the outbox
 * rows are inserted, so two appends to one order serialise on that row and their outbox ids follow
 * their commit order.
 */
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { envelop, parseEvent, type DomainEvent } from '#shared/contracts/events/index.ts';
import { evolve, type Decision, type OrderState } from '#shared/domain/order/index.ts';
import { ConcurrencyError } from '#shared/errors.ts';
import { eventAttributes } from '#shared/messaging/codec.ts';
import type { IdempotencyRecord, StoredResponse } from './idempotency.ts';
import { loadOrderState } from './orders.ts';
import type { Queryable } from './pool.ts';
import { SQLSTATE, sqlState } from './transaction.ts';

/** The LISTEN/NOTIFY channel on which an append can wake outbox relays in other processes. */
export const OUTBOX_CHANNEL = 'conveyor_outbox';

/** What the writer knows besides the decisions: ids, time and tracing, all injected. */
export interface EventMeta {
  /** When the events happened (ISO 8601), from the caller's clock. */
  time: string;
  /** A new event id (UUIDv7) per call. */
  newId: () => string;
  /** CloudEvents source of the deployable, e.g. //conveyor/api. */
  source: string;
  correlationId: string;
  causationId?: string;
  traceparent?: string;
}

export interface AppendOptions {
  /** The state at `expectedVersion`, when the caller has it; saves a read. */
  current?: OrderState | undefined;
  /**
   * NOTIFY relays listening on OUTBOX_CHANNEL when the transaction commits. For writers that do
   * not run a relay themselves; NOTIFY serialises committing transactions, so the API (which
   * relays in-process) leaves it off.
   */
  notify?: boolean;
}

export interface Appended {
  /** The new events, enveloped, in sequence order. */
  events: DomainEvent[];
  /** The state after them, as written to the projection. */
  state: OrderState;
}

/** The order moved on (or already exists) since the caller read it; re-read and decide again. */
export class AppendConflictError extends ConcurrencyError {
  readonly orderId: string;
  readonly expectedVersion: number;

  constructor(orderId: string, expectedVersion: number, options: { cause?: unknown } = {}) {
    super(
      expectedVersion === 0
        ? `order ${orderId} already exists`
        : `order ${orderId} is no longer at version ${expectedVersion}`,
      options,
    );
    this.orderId = orderId;
    this.expectedVersion = expectedVersion;
  }
}

/**
 * Appends `decisions` to order `orderId`, which must be at `expectedVersion` (0: must not exist).
 * Throws AppendConflictError when it is not; ValidationError when an event fails its schema.
 */
export async function appendEvents(
  client: Queryable,
  orderId: string,
  expectedVersion: number,
  decisions: readonly Decision[],
  meta: EventMeta,
  options: AppendOptions = {},
): Promise<Appended> {
  const current = await currentState(client, orderId, expectedVersion, options);
  const prepared = prepareAppend(orderId, expectedVersion, decisions, meta, current);
  const statement = expectedVersion === 0 ? CREATE : UPDATE;
  const values =
    expectedVersion === 0
      ? createValues(prepared, options)
      : updateValues(prepared, expectedVersion, options);
  const written = await run(client, statement, values, orderId, expectedVersion);
  if (written === 0) throw new AppendConflictError(orderId, expectedVersion);
  return prepared.appended;
}

/**
 * Creates an order once per idempotency key: the key's record (holding `respond`'s response) and
 * the order commit together or not at all. Returns undefined, writing nothing, when the key is
 * already taken (unexpired); a concurrent request with the same key waits for this one to commit.
 */
export async function appendEventsOnce(
  client: Queryable,
  record: IdempotencyRecord,
  orderId: string,
  decisions: readonly Decision[],
  meta: EventMeta,
  respond: (appended: Appended) => StoredResponse,
  options: Pick<AppendOptions, 'notify'> = {},
): Promise<Appended | undefined> {
  const prepared = prepareAppend(orderId, 0, decisions, meta, undefined);
  const written = await createOrdersOnce(
    client,
    [{ record, prepared, response: respond(prepared.appended) }],
    options,
  );
  return written.has(orderId) ? prepared.appended : undefined;
}

/** A new order ready to be written with its idempotency record. */
export interface NewOrderOnce {
  record: IdempotencyRecord;
  /** From prepareAppend(orderId, 0, ...). */
  prepared: PreparedAppend;
  response: StoredResponse;
}

/**
 * Creates several new orders in one statement (group commit: one round trip, one commit), each
 * with its idempotency record, each written only if its key is free (unexpired records block).
 * Returns the ids of the orders written. Keys must be distinct within a call. Records are claimed
 * in key order, so concurrent calls wait on each other's keys without deadlocking.
 */
export async function createOrdersOnce(
  client: Queryable,
  orders: readonly NewOrderOnce[],
  options: Pick<AppendOptions, 'notify'> = {},
): Promise<Set<string>> {
  if (orders.length === 0) return new Set();
  const input = orders.map(({ record, prepared, response }, n) => {
    const state = prepared.appended.state;
    const first = prepared.appended.events[0]!;
    return {
      n,
      client_id: record.clientId,
      key: record.key,
      method: record.method,
      path: record.path,
      hash: record.requestHash,
      ttl: record.ttlSeconds,
      status_code: response.status,
      headers: response.headers,
      body: response.body,
      order_id: prepared.orderId,
      customer_id: state.customerId,
      status: state.status,
      currency: state.currency,
      total: state.totalMinor,
      address: state.shippingAddress,
      state,
      version: state.version,
      created_at: state.createdAt,
      updated_at: state.updatedAt,
      correlation_id: first.correlationid,
      causation_id: first.causationid ?? null,
      lines: linesOf(state),
      events: prepared.eventRows,
    };
  });
  try {
    const { rows } = await client.query<{ written: string[] }>({
      ...CREATE_ONCE,
      values: [JSON.stringify(input), TOPIC.orderEvents, options.notify === true],
    });
    return new Set(rows[0]?.written ?? []);
  } catch (error) {
    if (sqlState(error) === SQLSTATE.uniqueViolation && isConcurrencyConstraint(error)) {
      throw new AppendConflictError(orders[0]!.prepared.orderId, 0, { cause: error });
    }
    throw error;
  }
}

/** Envelopes and events of one append, ready to be written (see prepareAppend). */
export interface PreparedAppend {
  appended: Appended;
  orderId: string;
  /** One row per event with its outbox attributes, for jsonb_to_recordset. */
  eventRows: readonly EventRow[];
}

interface EventRow {
  n: number;
  id: string;
  sequence: number;
  type: string;
  time: string;
  envelope: DomainEvent;
  attributes: Record<string, string>;
}

/** Envelopes, validates and folds the decisions. Pure apart from the ids and time in `meta`. */
export function prepareAppend(
  orderId: string,
  expectedVersion: number,
  decisions: readonly Decision[],
  meta: EventMeta,
  current: OrderState | undefined,
): PreparedAppend {
  if (decisions.length === 0) throw new RangeError('appendEvents needs at least one decision');
  let state = current;
  const events: DomainEvent[] = [];
  const rows: EventRow[] = [];
  decisions.forEach((decision, index) => {
    const envelope = envelop(orderId, decision.type, decision.data as never, {
      id: meta.newId(),
      time: meta.time,
      sequence: expectedVersion + index + 1,
      source: meta.source,
      correlationId: meta.correlationId,
      ...(meta.causationId ? { causationId: meta.causationId } : {}),
      ...(meta.traceparent ? { traceparent: meta.traceparent } : {}),
    });
    // Nothing enters the store that its consumers could not parse.
    const event = parseEvent(envelope);
    state = evolve(state, event);
    events.push(event);
    rows.push({
      n: index,
      id: event.id,
      sequence: event.sequence,
      type: event.type,
      time: event.time,
      envelope: event,
      attributes: eventAttributes(event),
    });
  });
  return { appended: { events, state: state! }, orderId, eventRows: rows };
}

async function currentState(
  client: Queryable,
  orderId: string,
  expectedVersion: number,
  options: AppendOptions,
): Promise<OrderState | undefined> {
  if (expectedVersion === 0) return undefined;
  const current = options.current ?? (await loadOrderState(client, orderId));
  if (!current || current.version !== expectedVersion)
    throw new AppendConflictError(orderId, expectedVersion);
  return current;
}

async function run(
  client: Queryable,
  statement: { name: string; text: string },
  values: unknown[],
  orderId: string,
  expectedVersion: number,
): Promise<number> {
  try {
    const result = await client.query<{ written: number }>({ ...statement, values });
    return result.rows[0]?.written ?? 0;
  } catch (error) {
    // Another writer inserted the order or the same sequence first.
    if (sqlState(error) === SQLSTATE.uniqueViolation && isConcurrencyConstraint(error)) {
      throw new AppendConflictError(orderId, expectedVersion, { cause: error });
    }
    throw error;
  }
}

function isConcurrencyConstraint(error: unknown): boolean {
  const constraint = (error as { constraint?: unknown }).constraint;
  return constraint === 'orders_pkey' || constraint === 'events_order_sequence_key';
}

const COMMON = (state: PreparedAppend, options: Pick<AppendOptions, 'notify'>) => {
  const event = state.appended.events[0]!;
  return [
    state.orderId, // $1
    JSON.stringify(state.eventRows), // $2
    event.correlationid, // $3
    event.causationid ?? null, // $4
    TOPIC.orderEvents, // $5
    options.notify === true, // $6
    state.appended.state.status, // $7
    JSON.stringify(state.appended.state), // $8
    state.appended.state.version, // $9
    state.appended.state.updatedAt, // $10
  ];
};

function createValues(state: PreparedAppend, options: Pick<AppendOptions, 'notify'>): unknown[] {
  const order = state.appended.state;
  return [
    ...COMMON(state, options),
    order.customerId, // $11
    order.currency, // $12
    order.totalMinor, // $13
    JSON.stringify(order.shippingAddress), // $14
    order.createdAt, // $15
    JSON.stringify(linesOf(order)), // $16
  ];
}

function updateValues(state: PreparedAppend, expectedVersion: number, options: AppendOptions): unknown[] {
  return [...COMMON(state, options), expectedVersion]; // $11
}

function linesOf(order: OrderState) {
  return order.lines.map((line, index) => ({
    n: index + 1,
    sku: line.sku,
    quantity: line.quantity,
    unit_price_minor: line.unitPriceMinor,
  }));
}

// `o` yields the order row only when this writer may append; everything else hangs off it, so a
// conflict writes nothing. Ordering keys are the order id as the API spells it (lowercase UUID).
const EVENTS_AND_OUTBOX = `
  x AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($2::jsonb)
      AS x(n int, id uuid, sequence int, type text, time timestamptz, envelope jsonb, attributes jsonb)
  ),
  e AS (
    INSERT INTO events (id, order_id, sequence, type, occurred_at, correlation_id, causation_id, envelope)
    SELECT x.id, o.id, x.sequence, x.type, x.time, $3, $4, x.envelope FROM o, x ORDER BY x.n
    RETURNING 1
  ),
  b AS (
    INSERT INTO outbox (event_id, topic, ordering_key, payload, attributes)
    SELECT x.id, $5, $1, x.envelope, x.attributes FROM o, x ORDER BY x.n
    RETURNING 1
  )
SELECT (SELECT count(*) FROM o)::int AS written,
       (SELECT count(*) FROM e)::int AS events,
       (SELECT count(*) FROM b)::int AS outboxed,
       (SELECT count(*) FROM o, LATERAL (SELECT pg_notify('${OUTBOX_CHANNEL}', $5)) n WHERE $6::boolean)::int
         AS notified`;

const LINES = `
  l AS (
    INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor)
    SELECT o.id, y.n, y.sku, y.quantity, y.unit_price_minor
      FROM o, jsonb_to_recordset($16::jsonb) AS y(n int, sku text, quantity int, unit_price_minor bigint)
    RETURNING 1
  ),`;

const INSERT_ORDER = (source: string) => `
  o AS (
    INSERT INTO orders (id, customer_id, status, currency, total_minor, shipping_address, state, version,
                        created_at, updated_at)
    SELECT $1::uuid, $11, $7, $12, $13, $14::jsonb, $8::jsonb, $9, $15::timestamptz, $10::timestamptz
    ${source}
    RETURNING id
  ),`;

const CREATE = {
  name: 'conveyor.append.create',
  text: `WITH ${INSERT_ORDER('')} ${LINES} ${EVENTS_AND_OUTBOX}`,
};

const UPDATE = {
  name: 'conveyor.append.update',
  text: `WITH
  o AS (
    UPDATE orders SET status = $7, state = $8::jsonb, version = $9, updated_at = $10::timestamptz
     WHERE id = $1::uuid AND version = $11
    RETURNING id
  ), ${EVENTS_AND_OUTBOX}`,
};

// The claim inserts each key's record, already completed with its response, or takes over an
// expired one; a live record (or one a concurrent transaction is inserting: the unique index makes
// us wait for it) yields no row, so nothing else is written for that order. Keys are claimed in
// key order so that two statements never wait on each other's keys in opposite orders.
const CREATE_ONCE = {
  name: 'conveyor.append.create-once',
  text: `WITH
  input AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
      n int, client_id text, key text, method text, path text, hash text, ttl float8, status_code int,
      headers jsonb, body text, order_id uuid, customer_id text, status text, currency text, total bigint,
      address jsonb, state jsonb, version int, created_at timestamptz, updated_at timestamptz,
      correlation_id text, causation_id text, lines jsonb, events jsonb)
  ),
  claim AS (
    INSERT INTO idempotency_keys AS k (client_id, key, request_method, request_path, request_hash, status,
                                       response_status, response_headers, response_body, completed_at,
                                       expires_at)
    SELECT client_id, key, method, path, hash, 'completed', status_code, headers, body, now(),
           now() + make_interval(secs => ttl)
      FROM input ORDER BY client_id, key
    ON CONFLICT (client_id, key) DO UPDATE
       SET request_method = excluded.request_method, request_path = excluded.request_path,
           request_hash = excluded.request_hash, status = excluded.status,
           response_status = excluded.response_status, response_headers = excluded.response_headers,
           response_body = excluded.response_body, created_at = now(), completed_at = now(),
           expires_at = excluded.expires_at
     WHERE k.expires_at <= now()
    RETURNING client_id, key
  ),
  o AS (
    INSERT INTO orders (id, customer_id, status, currency, total_minor, shipping_address, state, version,
                        created_at, updated_at)
    SELECT i.order_id, i.customer_id, i.status, i.currency, i.total, i.address, i.state, i.version,
           i.created_at, i.updated_at
      FROM input i JOIN claim c ON c.client_id = i.client_id AND c.key = i.key
     ORDER BY i.n
    RETURNING id
  ),
  ev AS MATERIALIZED (
    SELECT i.n AS order_n, i.order_id, i.correlation_id, i.causation_id, e.*
      FROM input i JOIN o ON o.id = i.order_id
     CROSS JOIN LATERAL jsonb_to_recordset(i.events)
        AS e(n int, id uuid, sequence int, type text, time timestamptz, envelope jsonb, attributes jsonb)
  ),
  l AS (
    INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor)
    SELECT i.order_id, y.n, y.sku, y.quantity, y.unit_price_minor
      FROM input i JOIN o ON o.id = i.order_id
     CROSS JOIN LATERAL jsonb_to_recordset(i.lines) AS y(n int, sku text, quantity int, unit_price_minor bigint)
    RETURNING 1
  ),
  e AS (
    INSERT INTO events (id, order_id, sequence, type, occurred_at, correlation_id, causation_id, envelope)
    SELECT id, order_id, sequence, type, time, correlation_id, causation_id, envelope
      FROM ev ORDER BY order_n, n
    RETURNING 1
  ),
  b AS (
    INSERT INTO outbox (event_id, topic, ordering_key, payload, attributes)
    SELECT id, $2, order_id::text, envelope, attributes FROM ev ORDER BY order_n, n
    RETURNING 1
  )
SELECT coalesce((SELECT array_agg(id::text) FROM o), '{}') AS written,
       (SELECT count(*) FROM e)::int AS events,
       (SELECT count(*) FROM b)::int AS outboxed,
       (SELECT count(*) FROM (SELECT 1 FROM o LIMIT 1) w, LATERAL (SELECT pg_notify('${OUTBOX_CHANNEL}', $2)) n
         WHERE $3::boolean)::int AS notified`,
};
