/**
 * Stock held by orders: all-or-nothing reservation, release, and shipment (reserved → shipped).
 * Each order has one inventory_reservations row, so every move happens once per order; call these
 * inside the transaction that records the matching event, so the stock and the history commit
 * together. Units only move between columns: available + reserved + shipped stays what operators
 * set (setInventory changes `available` only).
 */
import type { RequestedLine } from '#shared/contracts/values.ts';
import type { Queryable } from './pool.ts';

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export type ReservationOutcome =
  | { status: 'reserved' }
  | { status: 'unavailable'; reason: 'out_of_stock' | 'unknown_sku'; shortages: Shortage[] };

export type ReservationStatus = 'reserved' | 'shipped' | 'released';

/**
 * Reserves every line for `orderId`, or none. The SKUs' rows are locked in SKU order (so two
 * orders never wait on each other in opposite orders) before they are checked, so concurrent
 * orders for the last units are served one after the other and never oversold. An order that
 * already holds a reservation gets 'reserved' again without moving anything.
 */
export async function reserveStock(
  client: Queryable,
  orderId: string,
  lines: readonly RequestedLine[],
): Promise<ReservationOutcome> {
  const held = await reservationOf(client, orderId);
  if (held) return { status: 'reserved' };
  const wanted = mergeLines(lines);
  const skus = wanted.map((line) => line.sku);
  const { rows } = await client.query<{ sku: string; available: number }>({
    name: 'conveyor.reservations.lock',
    text: 'SELECT sku, available FROM inventory WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE',
    values: [skus],
  });
  const stock = new Map(rows.map((row) => [row.sku, row.available]));
  const unknown = wanted.filter((line) => !stock.has(line.sku));
  if (unknown.length > 0) {
    return {
      status: 'unavailable',
      reason: 'unknown_sku',
      shortages: unknown.map((line) => ({ sku: line.sku, requested: line.quantity, available: 0 })),
    };
  }
  const short = wanted.filter((line) => stock.get(line.sku)! < line.quantity);
  if (short.length > 0) {
    return {
      status: 'unavailable',
      reason: 'out_of_stock',
      shortages: short.map((line) => ({
        sku: line.sku,
        requested: line.quantity,
        available: stock.get(line.sku)!,
      })),
    };
  }
  await client.query({
    name: 'conveyor.reservations.reserve',
    text: `WITH l AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS l(sku text, quantity int)),
           moved AS (
             UPDATE inventory i SET available = i.available - l.quantity, reserved = i.reserved + l.quantity,
                                    updated_at = now()
               FROM l WHERE i.sku = l.sku
             RETURNING 1
           )
           INSERT INTO inventory_reservations (order_id, lines, status)
           SELECT $1::uuid, $2::jsonb, 'reserved' WHERE (SELECT count(*) FROM moved) = $3`,
    values: [orderId, JSON.stringify(wanted), wanted.length],
  });
  return { status: 'reserved' };
}

/**
 * Gives the order's units back to `available`: reserved ones, and shipped ones too (a shipment that
 * failed after dispatch comes back to the warehouse). Returns what the reservation was before;
 * undefined when the order held nothing to give back.
 */
export async function releaseStock(
  client: Queryable,
  orderId: string,
): Promise<ReservationStatus | undefined> {
  const held = await lockReservation(client, orderId, ['reserved', 'shipped']);
  if (!held) return undefined;
  await lockStock(client, held.lines);
  await client.query({
    name: 'conveyor.reservations.release',
    text: `WITH l AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS l(sku text, quantity int)),
           moved AS (
             UPDATE inventory i
                SET available = i.available + l.quantity,
                    reserved = i.reserved - CASE WHEN $3 = 'reserved' THEN l.quantity ELSE 0 END,
                    shipped = i.shipped - CASE WHEN $3 = 'shipped' THEN l.quantity ELSE 0 END,
                    updated_at = now()
               FROM l WHERE i.sku = l.sku
             RETURNING 1
           )
           UPDATE inventory_reservations SET status = 'released', updated_at = now() WHERE order_id = $1`,
    values: [orderId, JSON.stringify(held.lines), held.status],
  });
  return held.status;
}

/** Moves the order's reserved units to shipped (the parcel left the warehouse); once. */
export async function shipStock(client: Queryable, orderId: string): Promise<boolean> {
  const held = await lockReservation(client, orderId, ['reserved']);
  if (!held) return false;
  await lockStock(client, held.lines);
  await client.query({
    name: 'conveyor.reservations.ship',
    text: `WITH l AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS l(sku text, quantity int)),
           moved AS (
             UPDATE inventory i SET reserved = i.reserved - l.quantity, shipped = i.shipped + l.quantity,
                                    updated_at = now()
               FROM l WHERE i.sku = l.sku
             RETURNING 1
           )
           UPDATE inventory_reservations SET status = 'shipped', updated_at = now() WHERE order_id = $1`,
    values: [orderId, JSON.stringify(held.lines)],
  });
  return true;
}

/** The order's reservation if it is in one of `statuses`, locked for this transaction. */
async function lockReservation(
  client: Queryable,
  orderId: string,
  statuses: readonly ReservationStatus[],
): Promise<{ status: ReservationStatus; lines: RequestedLine[] } | undefined> {
  const { rows } = await client.query<{ status: ReservationStatus; lines: RequestedLine[] }>({
    name: 'conveyor.reservations.lock-one',
    text: `SELECT status, lines FROM inventory_reservations
            WHERE order_id = $1 AND status = ANY($2::text[]) FOR UPDATE`,
    values: [orderId, statuses],
  });
  return rows[0];
}

/**
 * Locks the stock rows of `lines` in SKU order. Every change of stock takes its rows this way
 * first, so two transactions never hold one SKU each while waiting for the other's (a deadlock).
 */
async function lockStock(client: Queryable, lines: readonly RequestedLine[]): Promise<void> {
  await client.query({
    name: 'conveyor.reservations.lock-stock',
    text: 'SELECT 1 FROM inventory WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE',
    values: [lines.map((line) => line.sku)],
  });
}

export async function reservationOf(
  client: Queryable,
  orderId: string,
): Promise<{ status: ReservationStatus; lines: RequestedLine[] } | undefined> {
  const { rows } = await client.query<{ status: ReservationStatus; lines: RequestedLine[] }>({
    name: 'conveyor.reservations.get',
    text: 'SELECT status, lines FROM inventory_reservations WHERE order_id = $1',
    values: [orderId],
  });
  return rows[0];
}

/** One line per SKU (an order's lines have distinct SKUs; a merge keeps this correct regardless). */
function mergeLines(lines: readonly RequestedLine[]): RequestedLine[] {
  const merged = new Map<string, number>();
  for (const line of lines) merged.set(line.sku, (merged.get(line.sku) ?? 0) + line.quantity);
  return [...merged]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, quantity]) => ({ sku, quantity }));
}
