/**
 * Order placement with group commit. Concurrent requests to place orders are written together:
 * one catalogue read and one statement (createOrdersOnce) for a whole batch, instead of two round
 * trips and a commit per order. Idle, a request is written at once on its own; under load, the
 * requests that arrive while earlier batches are being written form the next batch. Each order
 * keeps its own outcome: a pricing or domain error fails only that order, a taken idempotency key
 * makes only that order a duplicate.
 */
import { decide, type OrderCommand } from '#shared/domain/order/index.ts';
import { pricesFor } from '#shared/store/catalogue.ts';
import {
  createOrdersOnce,
  prepareAppend,
  type Appended,
  type NewOrderOnce,
} from '#shared/store/event-store.ts';
import type { IdempotencyRecord, StoredResponse } from '#shared/store/idempotency.ts';
import { eventMeta, type CommandMeta, type OrderCommandDeps, type PlaceOrderInput } from './execute.ts';
import { priceLinesFrom } from './pricing.ts';

export interface PlaceRequest {
  orderId: string;
  input: PlaceOrderInput;
  meta: CommandMeta;
  record: IdempotencyRecord;
  /** The response to store with the key, built from the new order. */
  respond: (appended: Appended) => StoredResponse;
}

export type PlaceResult =
  | { outcome: 'created'; appended: Appended; response: StoredResponse }
  /** The key was taken (by an earlier or concurrent request): look its record up. */
  | { outcome: 'duplicate' };

export interface OrderPlacer {
  /** Places one order with its idempotency record; rejects with the pricing or domain error. */
  place(request: PlaceRequest): Promise<PlaceResult>;
}

export interface OrderPlacerOptions {
  /** Batches being written at the same time; default 4. */
  maxConcurrentBatches?: number;
  /** Orders in one statement at most; default 100. */
  maxBatchSize?: number;
}

interface Pending extends PlaceRequest {
  resolve: (result: PlaceResult) => void;
  reject: (error: unknown) => void;
}

export function createOrderPlacer(deps: OrderCommandDeps, options: OrderPlacerOptions = {}): OrderPlacer {
  const maxConcurrent = options.maxConcurrentBatches ?? 4;
  const maxBatchSize = options.maxBatchSize ?? 100;
  const queue: Pending[] = [];
  let inFlight = 0;

  function pump(): void {
    while (inFlight < maxConcurrent && queue.length > 0) {
      const batch = queue.splice(0, maxBatchSize);
      inFlight++;
      void write(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  async function write(batch: Pending[]): Promise<void> {
    let prices;
    try {
      prices = await pricesFor(deps.db, [
        ...new Set(batch.flatMap((item) => item.input.lines.map((line) => line.sku))),
      ]);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    const ready: { item: Pending; order: NewOrderOnce }[] = [];
    const duplicates: Pending[] = [];
    const keys = new Set<string>();
    for (const item of batch) {
      try {
        const command: OrderCommand = {
          type: 'PlaceOrder',
          customerId: item.input.customerId,
          currency: item.input.currency,
          lines: priceLinesFrom(prices, item.input.currency, item.input.lines),
          shippingAddress: item.input.shippingAddress,
          channel: item.input.channel,
        };
        const prepared = prepareAppend(
          item.orderId,
          0,
          decide(undefined, command),
          eventMeta(deps, item.orderId, item.meta),
          undefined,
        );
        // One statement cannot claim a key twice: the second waits for the first's outcome.
        const key = `${item.record.clientId}\n${item.record.key}`;
        if (keys.has(key)) {
          duplicates.push(item);
          continue;
        }
        keys.add(key);
        ready.push({
          item,
          order: { record: item.record, prepared, response: item.respond(prepared.appended) },
        });
      } catch (error) {
        item.reject(error);
      }
    }
    let written: Set<string>;
    try {
      written = await createOrdersOnce(
        deps.db,
        ready.map(({ order }) => order),
        { notify: deps.notify === true },
      );
    } catch (error) {
      for (const { item } of ready) item.reject(error);
      for (const item of duplicates) item.reject(error);
      return;
    }
    const events = [];
    for (const { item, order } of ready) {
      if (written.has(item.orderId)) {
        events.push(...order.prepared.appended.events);
        item.resolve({ outcome: 'created', appended: order.prepared.appended, response: order.response });
      } else {
        item.resolve({ outcome: 'duplicate' });
      }
    }
    for (const item of duplicates) item.resolve({ outcome: 'duplicate' });
    if (events.length > 0) deps.onAppended?.(events);
  }

  return {
    place(request) {
      return new Promise<PlaceResult>((resolve, reject) => {
        queue.push({ ...request, resolve, reject });
        pump();
      });
    },
  };
}
