/**
 * A sandbox shipping provider. A shipment is accepted at once (pending); after the webhook delay
 * it is dispatched (or fails) and after another it is delivered, each reported by a signed
 * webhook. A shipment can be cancelled until it is dispatched.
 *
 *   POST /v1/shipments {orderId, lines: [{sku, quantity}], address}  Idempotency-Key required
 *        → 201 {shipmentId, status: 'pending', carrier}; the same call again → 200, same answer
 *        later: shipment.dispatched {carrier, trackingNumber, dispatchedAt} then
 *               shipment.delivered {deliveredAt}; or shipment.failed {reason}
 *   POST /v1/shipments/{id}/cancel  Idempotency-Key optional
 *        → 200 {shipmentId, status: 'cancelled'}; 409 already_dispatched | already_failed
 *   GET  /v1/shipments/{id}, GET /v1/ledger
 */
import { z } from 'zod';
import {
  ledgerWebhooks,
  startSandbox,
  type LedgerWebhooks,
  type Sandbox,
  type SandboxOptions,
} from './common.ts';
import { changeRoute, problem, type Route } from './server.ts';

export const SANDBOX_CARRIER = 'sandbox-post';

export interface Shipment {
  shipmentId: string;
  orderId: string;
  lines: { sku: string; quantity: number }[];
  status: 'pending' | 'dispatched' | 'delivered' | 'failed' | 'cancelled';
  carrier: string;
  trackingNumber?: string;
  idempotencyKey: string;
}

export interface ShippingLedger {
  orders: Record<
    string,
    {
      /** Shipments that left the warehouse (dispatched or delivered). */
      shipped: number;
      delivered: number;
      cancelled: number;
      failed: number;
      shipments: Shipment[];
    }
  >;
  totals: { shipments: number; shipped: number; delivered: number; cancelled: number; failed: number };
  webhooks: LedgerWebhooks;
}

const ShipmentSchema = z.object({
  orderId: z.string().min(1).max(200),
  lines: z
    .array(z.object({ sku: z.string().min(1).max(64), quantity: z.number().int().min(1).max(10_000) }))
    .min(1)
    .max(100),
  address: z.looseObject({
    name: z.string().min(1),
    line1: z.string().min(1),
    city: z.string().min(1),
    postalCode: z.string().min(1),
    country: z.string().regex(/^[A-Z]{2}$/),
  }),
});

export type ShippingSandbox = Sandbox<ShippingLedger>;

export function startShippingSandbox(options: SandboxOptions = {}): Promise<ShippingSandbox> {
  return startSandbox('shipping', options, ({ faults, timers, webhooks, newId, newEvent }) => {
    const shipments = new Map<string, Shipment>();

    /** Dispatch (or fail), then deliver; a cancellation in between stops it. */
    function runLifecycle(shipment: Shipment, traceparent: string | undefined): void {
      const fails = faults.chance(faults.faults.shipmentFailureRate);
      const reorder = faults.chance(faults.faults.reorderRate);
      const { webhookDelayMs } = faults.faults;
      const event = (type: string, data: Record<string, unknown>) =>
        newEvent(type, { shipmentId: shipment.shipmentId, orderId: shipment.orderId, ...data });
      const sent = webhooks.hold();
      timers.after(webhookDelayMs, () => {
        if (shipment.status !== 'pending') return sent(); // cancelled in time
        if (fails) {
          shipment.status = 'failed';
          void webhooks.send(
            event('shipment.failed', { reason: 'the address could not be found' }),
            0,
            traceparent,
          );
          return sent();
        }
        shipment.status = 'dispatched';
        shipment.trackingNumber = `TRK${shipment.shipmentId.slice(-10).toUpperCase()}`;
        const tracking = { carrier: shipment.carrier, trackingNumber: shipment.trackingNumber };
        const dispatched = event('shipment.dispatched', {
          ...tracking,
          dispatchedAt: new Date().toISOString(),
        });
        if (!reorder) void webhooks.send(dispatched, 0, traceparent);
        timers.after(webhookDelayMs, () => {
          shipment.status = 'delivered';
          const delivered = event('shipment.delivered', {
            ...tracking,
            deliveredAt: new Date().toISOString(),
          });
          const deliveredTried = webhooks.send(delivered, 0, traceparent);
          // Out of order: the dispatch goes out only once the delivery has been tried.
          if (!reorder) return sent();
          void deliveredTried.then(() => {
            void webhooks.send(dispatched, 0, traceparent);
            sent();
          });
        });
      });
    }

    const routes: Route[] = [
      changeRoute(
        /^\/v1\/shipments$/,
        { schema: ShipmentSchema, idempotencyKey: 'required' },
        ({ body, idempotencyKey, traceparent }) => {
          const shipment: Shipment = {
            shipmentId: newId('shp'),
            orderId: body.orderId,
            lines: body.lines,
            status: 'pending',
            carrier: SANDBOX_CARRIER,
            idempotencyKey: idempotencyKey!,
          };
          shipments.set(shipment.shipmentId, shipment);
          runLifecycle(shipment, traceparent);
          return { status: 201, body: view(shipment) };
        },
      ),
      changeRoute(
        /^\/v1\/shipments\/([^/]+)\/cancel$/,
        { schema: z.looseObject({}), idempotencyKey: 'optional' },
        ({ params }) => {
          const shipment = shipments.get(params[0]!);
          if (!shipment) return problem(404, 'shipment_not_found', `no shipment ${params[0]}`);
          switch (shipment.status) {
            case 'pending':
            case 'cancelled':
              shipment.status = 'cancelled';
              return { status: 200, body: view(shipment) };
            case 'dispatched':
            case 'delivered':
              return problem(
                409,
                'already_dispatched',
                `shipment ${shipment.shipmentId} is ${shipment.status}`,
              );
            case 'failed':
              return problem(409, 'already_failed', `shipment ${shipment.shipmentId} failed`);
          }
        },
      ),
      {
        method: 'GET',
        path: /^\/v1\/shipments\/([^/]+)$/,
        handle({ params }) {
          const shipment = shipments.get(params[0]!);
          return shipment
            ? { status: 200, body: view(shipment) }
            : problem(404, 'shipment_not_found', 'no such shipment');
        },
      },
    ];

    function ledger(): ShippingLedger {
      const orders: ShippingLedger['orders'] = {};
      for (const shipment of shipments.values()) {
        const order = (orders[shipment.orderId] ??= {
          shipped: 0,
          delivered: 0,
          cancelled: 0,
          failed: 0,
          shipments: [],
        });
        order.shipments.push({ ...shipment, lines: shipment.lines.map((line) => ({ ...line })) });
        if (shipment.status === 'dispatched' || shipment.status === 'delivered') order.shipped++;
        if (shipment.status === 'delivered') order.delivered++;
        if (shipment.status === 'cancelled') order.cancelled++;
        if (shipment.status === 'failed') order.failed++;
      }
      const sum = (key: 'shipped' | 'delivered' | 'cancelled' | 'failed') =>
        Object.values(orders).reduce((total, order) => total + order[key], 0);
      return {
        orders,
        totals: {
          shipments: shipments.size,
          shipped: sum('shipped'),
          delivered: sum('delivered'),
          cancelled: sum('cancelled'),
          failed: sum('failed'),
        },
        webhooks: ledgerWebhooks(webhooks),
      };
    }

    return { routes, ledger };
  });
}

function view(shipment: Shipment) {
  const { shipmentId, orderId, status, carrier, trackingNumber } = shipment;
  return { shipmentId, status, orderId, carrier, ...(trackingNumber ? { trackingNumber } : {}) };
}
