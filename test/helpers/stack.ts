/**
 * Conveyor in one test process, wired as in production: a test database; our Pub/Sub emulator
 * with the catalogue's topics and subscriptions (ensureTopology, local backoff, OIDC-signed push);
 * the consuming functions served by functions-framework, each on its own port, reached only by
 * push; the API (buildApp, listening on 127.0.0.1:0) with its outbox relay; the sandbox payment and
 * shipping providers sending signed webhooks to the API. Faults can be injected at every edge.
 *
 *   let stack: Stack;
 *   before(async () => (stack = await startStack({ functions: ['saga', 'dead-letter'] })));
 *   after(() => stack.stop());
 *   const orderId = await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }]);
 *   await stack.waitForOrder(orderId, 'completed');
 *
 * functions-framework keeps registered functions in a process-wide registry, so each function is
 * registered once per process with a router, and every stack's push endpoint carries the stack's
 * id in its path (http://127.0.0.1:<port>/<stack id>): several stacks can run in one test file.
 *
 * With `telemetry: true` it is traced and measured as the local stack is: the API keeps spans and
 * serves /metrics (the local collector; gauges over Postgres and the emulator), each function has
 * its own telemetry (its own service name) exporting spans and metrics to the API over OTLP/HTTP,
 * and the providers are called with a traced fetch. `console` serves the operations console.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { PubSub } from '@google-cloud/pubsub';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { createDeadLetterHandler, createParkingSink } from '../../functions/dead-letter/handler.ts';
import { createIngestHandler } from '../../functions/ingest/handler.ts';
import {
  createNotifierHandler,
  DEFAULT_NOTIFIED_EVENTS,
  type Subscriber,
} from '../../functions/notifier/handler.ts';
import {
  createSagaHandler,
  SAGA_PROVIDER_RETRY,
  SAGA_PROVIDER_TIMEOUT_MS,
} from '../../functions/saga/handler.ts';
import { createTimeoutsHandler, TICK_ATTRIBUTE } from '../../functions/timeouts/handler.ts';
import { ensureTopology } from '../../local/launcher/topology.ts';
import type { PubSubEmulator } from '../../local/pubsub-emulator/index.ts';
import {
  startPaymentSandbox,
  startShippingSandbox,
  type Faults,
  type PaymentSandbox,
  type ShippingSandbox,
  type WebhookRetry,
} from '../../local/sandbox-providers/index.ts';
import { FUNCTION, TOPIC, type FunctionName } from '#shared/contracts/catalogue.ts';
import type { InboundEvent } from '#shared/contracts/inbound.ts';
import type { Address, RequestedLine } from '#shared/contracts/values.ts';
import { ORDER_STATUS, type OrderState, type OrderStatus } from '#shared/domain/order/index.ts';
import { createSagaConfig, type SagaConfig } from '#shared/domain/saga/index.ts';
import { createFailureLog, type PushPlumbing } from '#shared/functions/runtime.ts';
import { createLogger, type Logger } from '#shared/logging/index.ts';
import type { PushRequest, PushResponse } from '#shared/messaging/consumer.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createPushAuthenticator } from '#shared/messaging/push-auth.ts';
import { createOutboxRelay, type OutboxRelay } from '#shared/messaging/relay.ts';
import {
  createHttpPaymentProvider,
  createHttpShippingProvider,
  ProviderError,
  type HttpPaymentProvider,
  type HttpShippingProvider,
  type PaymentProvider,
  type ShippingProvider,
} from '#shared/providers/index.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { getInventory, putCatalogueItem, setInventory, type InventoryItem } from '#shared/store/catalogue.ts';
import { loadOrderState } from '#shared/store/orders.ts';
import type { Pool } from '#shared/store/pool.ts';
import {
  createLocalCollector,
  createPostgresGaugeSource,
  createSubscriptionLagSource,
  createTracedFetch,
  instrumentConsumer,
  outsideTrace,
  instrumentPublisher,
  parseTelemetryConfig,
  startTelemetry,
  type LocalCollector,
  type Telemetry,
} from '#shared/telemetry/index.ts';
import { createWebhookSigner } from '#shared/webhooks/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from './pubsub.ts';
import { waitUntil } from './wait.ts';

/** The functions this harness can run. */
export type StackFunction = Extract<
  FunctionName,
  'saga' | 'dead-letter' | 'ingest' | 'timeouts' | 'notifier'
>;
export const STACK_FUNCTIONS: readonly StackFunction[] = [
  FUNCTION.saga,
  FUNCTION.deadLetter,
  FUNCTION.ingest,
  FUNCTION.timeouts,
  FUNCTION.notifier,
];

/** A functions-framework HTTP handler, as each function's handler.ts builds it. */
export interface PushHttpHandler {
  http(request: PushRequest, response: PushResponse): Promise<void>;
}

export interface StackOptions {
  /** Functions to run; their push subscriptions are created, the others' are not. Default: all five. */
  functions?: readonly StackFunction[];
  /** Other functions (analytics…): each built by the caller from the stack's plumbing. */
  extraHandlers?: Partial<Record<FunctionName, (plumbing: StackPlumbing) => PushHttpHandler>>;
  /** Faults of the sandbox providers from the start (change them later with payment/shipping.configure). */
  faults?: { payment?: Partial<Faults>; shipping?: Partial<Faults> };
  /** How the sandboxes retry webhooks. Default 30 attempts, 50 ms doubling to 2 s. */
  webhookRetry?: Partial<WebhookRetry>;
  /** The saga's policy. Default: approval above 100 000 (1 000.00), escalate after 1 h, cancel after 24 h. */
  saga?: Partial<SagaConfig>;
  /** Saga steps in flight at once. Default 8. */
  sagaConcurrency?: number;
  notifier?: { subscribers: Subscriber[]; events?: readonly string[] };
  /** Share of order events the relay publishes a second time (duplicate publishes). Default 0. */
  duplicatePublishRate?: number;
  /** Randomness of injected duplicates. */
  random?: () => number;
  /** Push carries an OIDC token that every function verifies, as in production. Default true. */
  pushAuth?: boolean;
  /** Stock of the catalogue's SKUs. Default 1 000 each. */
  stock?: number;
  /**
   * Trace and measure everything (see the module comment). `metricIntervalMs`: how often the
   * functions export their metrics to the API (default 1 000 ms; flushTelemetry() exports at once).
   */
  telemetry?: boolean | { metricIntervalMs?: number };
  /** Serve the operations console at /console (built first if stale; implies telemetry). */
  console?: boolean;
}

/** The stack's telemetry: the API's (with the collector the functions report to) and each function's. */
export interface StackTelemetry {
  api: Telemetry;
  collector: LocalCollector;
  functions: ReadonlyMap<string, Telemetry>;
  /** Exports every process's buffered spans and metrics now (to the API's store and /metrics). */
  flush(): Promise<void>;
}

/** What a function needs besides its own dependencies; for callers adding functions. */
export interface StackPlumbing {
  pool: Pool;
  publisher: Publisher;
  logger: Logger;
  /** The push consumer's plumbing for the function `name` (dead letters, failures, OIDC). */
  push: (name: FunctionName) => PushPlumbing;
  /** Wakes the relay after a function committed events. */
  onAppended: (count: number) => void;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface StackFaults {
  /** Provider calls of this order (all, or one step) fail permanently, until cured. */
  poison(orderId: string, step?: ProviderStep): void;
  /** Poisons `step` of the next order that reaches it; resolves with that order's id. */
  poisonNext(step: ProviderStep): Promise<string>;
  cure(orderId: string): void;
  /**
   * The next charge of this order takes effect at the provider, then the saga fails as if it
   * crashed before committing (nothing recorded, the message comes back).
   */
  crashAfterCharge(orderId: string): void;
  /** The same after the shipment of this order was accepted by the carrier. */
  crashAfterShipment(orderId: string): void;
  /** The provider refuses this order's refund (a failed compensation). */
  refuseRefund(orderId: string): void;
  /** Share of order events the relay publishes twice, from now on. */
  duplicatePublishRate: number;
  /** Order events published a second time so far. */
  duplicatesPublished: number;
}

export type ProviderStep = 'charge' | 'refund' | 'shipment' | 'cancel-shipment';

export interface Stack {
  readonly id: string;
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly emulator: PubSubEmulator;
  /** A client for the emulator. */
  readonly pubsub: PubSub;
  /** The publisher the relay and the functions use. */
  readonly publisher: Publisher;
  readonly relay: OutboxRelay;
  readonly api: {
    app: FastifyInstance;
    url: string;
    keys: { admin: string; writer: string };
    request(
      method: string,
      path: string,
      options?: { key?: string | null; body?: unknown; headers?: Record<string, string> },
    ): Promise<ApiAnswer>;
  };
  readonly webhookSecrets: { payment: string; shipping: string; notifier: string };
  readonly payment: PaymentSandbox;
  readonly shipping: ShippingSandbox;
  /** Push endpoint of each function running. */
  readonly endpoints: Partial<Record<FunctionName, string>>;
  readonly faults: StackFaults;
  /** Present with `telemetry`. */
  readonly telemetry: StackTelemetry | undefined;
  /** Adds a product of its own to the catalogue (a run-scoped SKU), with `stock` units; returns its SKU. */
  addProduct(options?: { unitPriceMinor?: number; stock?: number }): Promise<string>;
  setStock(sku: string, available: number): Promise<void>;
  stockOf(sku: string): Promise<InventoryItem>;
  /** Places an order through the API; returns its id. */
  placeOrder(lines: RequestedLine[], options?: { customerId?: string; currency?: string }): Promise<string>;
  cancelOrder(orderId: string, reason?: string): Promise<ApiAnswer>;
  decideApproval(orderId: string, decision: 'approve' | 'reject', reason?: string): Promise<ApiAnswer>;
  order(orderId: string): Promise<OrderState | undefined>;
  /** Waits until the order has one of `statuses` (or `predicate` holds). */
  waitForOrder(
    orderId: string,
    until: OrderStatus | readonly OrderStatus[] | ((state: OrderState) => boolean),
    options?: { timeoutMs?: number },
  ): Promise<OrderState>;
  /** Publishes a tick, as Cloud Scheduler does. */
  tick(): Promise<void>;
  /** Publishes to inbound-events, as an outside producer does. */
  publishInbound(event: InboundEvent | string, orderingKey?: string): Promise<void>;
  stop(): Promise<void>;
}

/** What every stack's catalogue sells (EUR). */
export const STACK_CATALOGUE = [
  { sku: 'BOOK-1', name: 'A book', unitPriceMinor: 1_250, currency: 'EUR' },
  { sku: 'PEN-1', name: 'A pen', unitPriceMinor: 199, currency: 'EUR' },
  { sku: 'LAMP-1', name: 'A lamp', unitPriceMinor: 4_500, currency: 'EUR' },
  { sku: 'CHAIR-1', name: 'A chair', unitPriceMinor: 12_900, currency: 'EUR' },
  { sku: 'PIANO-1', name: 'A piano', unitPriceMinor: 450_000, currency: 'EUR' },
] as const;

export const STACK_ADDRESS: Address = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
};

export const PUSH_INVOKER = 'push-invoker@conveyor-test.iam.gserviceaccount.com';

const routes = new Map<string, Map<string, PushHttpHandler>>();

/** The console's build output, built first when its sources changed. */
async function builtConsole(): Promise<string> {
  const { CONSOLE_OUTPUT, ensureConsoleBuilt } = await import('../../api/console/build.ts');
  await ensureConsoleBuilt();
  return CONSOLE_OUTPUT;
}

/** Registers `name` with functions-framework once per process, routing by stack id. */
function registerFunction(name: string): void {
  if (routes.has(name)) return;
  routes.set(name, new Map());
  http(name, async (request, response) => {
    const stackId = (request.url ?? '/').split(/[/?]/)[1] ?? '';
    const handler = routes.get(name)?.get(stackId);
    if (!handler) {
      response.status(404).send(`no stack ${stackId}`);
      return;
    }
    await handler.http(request, response);
  });
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const id = randomBytes(4).toString('hex');
  const logger = createLogger({ service: `stack-${id}`, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const random = options.random ?? Math.random;
  const running = new Set(options.functions ?? STACK_FUNCTIONS);
  const cleanups: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => logger.warn({ error }, 'stack cleanup failed'));
    }
    cleanups.length = 0;
  };

  try {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const pool = db.pool;

    const emulator = await startEmulator();
    cleanups.push(() => emulator.stop());
    const pubsub = pubsubClient(emulator.address);
    cleanups.push(() => pubsub.close());
    const basePublisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    cleanups.push(() => basePublisher.close());

    const faults = createFaults();
    const publisher: Publisher = {
      async publish(topic, messages) {
        const outcomes = await basePublisher.publish(topic, messages);
        const doubled =
          topic === TOPIC.orderEvents
            ? messages.filter(
                (_, index) => outcomes[index]?.messageId && random() < faults.duplicatePublishRate,
              )
            : [];
        if (doubled.length > 0) {
          const again = await basePublisher.publish(topic, doubled);
          faults.duplicatesPublished += again.filter((outcome) => outcome.messageId).length;
        }
        return outcomes;
      },
      close: () => basePublisher.close(),
    };
    faults.duplicatePublishRate = options.duplicatePublishRate ?? 0;

    let telemetry: StackTelemetry | undefined;
    const functionTelemetry = new Map<string, Telemetry>();
    let apiTelemetry: Telemetry | undefined;
    let collector: LocalCollector | undefined;
    if (options.telemetry || options.console) {
      collector = createLocalCollector({ maxSpans: 100_000 });
      apiTelemetry = await startTelemetry({
        service: 'api',
        projectId: PROJECT_ID,
        config: parseTelemetryConfig({
          CONVEYOR_TRACE_EXPORTER: 'local',
          CONVEYOR_METRICS_EXPORTER: 'local',
        }),
        collector,
        gauges: [
          createPostgresGaugeSource(pool),
          createSubscriptionLagSource(() => emulator.oldestUnackedAges()),
        ],
        logger,
      });
      const started = apiTelemetry;
      cleanups.push(() => started.shutdown());
    }
    const relayPublisher = apiTelemetry ? instrumentPublisher(publisher, apiTelemetry) : publisher;

    const relay = createOutboxRelay({ pool, publisher: relayPublisher, logger, sweepIntervalMs: 250 });
    cleanups.push(() => relay.stop({ flushTimeoutMs: 500 }));
    relay.start();

    // API keys, catalogue and stock.
    const keys = {
      admin: (await createApiKey(pool, { name: 'ops', scopes: ['admin'] })).key,
      writer: (await createApiKey(pool, { name: 'shop', scopes: ['orders:write', 'orders:read'] })).key,
    };
    for (const item of STACK_CATALOGUE) {
      await putCatalogueItem(pool, item, 'stack');
      await setInventory(pool, { sku: item.sku, available: options.stock ?? 1_000 }, 'stack');
    }

    const webhookSecrets = {
      payment: `whsec_payment_${randomBytes(16).toString('hex')}`,
      shipping: `whsec_shipping_${randomBytes(16).toString('hex')}`,
      notifier: `whsec_notifier_${randomBytes(16).toString('hex')}`,
    };
    const app = await buildApp({
      pool,
      relay,
      logger,
      publisher: relayPublisher,
      telemetry: apiTelemetry,
      collector,
      ...(options.console ? { console: { dir: await builtConsole() } } : {}),
      webhookSecrets: { payment: [webhookSecrets.payment], shipping: [webhookSecrets.shipping] },
      settings: { projectId: PROJECT_ID, rateLimitPerMinute: 10_000_000 },
    });
    cleanups.push(() => app.close());
    const apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });

    // Each function reports to the API as under the launcher: OTLP/HTTP to its collector.
    if (apiTelemetry && collector) {
      const interval =
        typeof options.telemetry === 'object' ? (options.telemetry.metricIntervalMs ?? 1_000) : 1_000;
      const config = parseTelemetryConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: apiUrl,
        OTEL_METRIC_EXPORT_INTERVAL: String(interval),
      });
      for (const name of [...running, ...Object.keys(options.extraHandlers ?? {})]) {
        const own = await startTelemetry({
          service: name,
          projectId: PROJECT_ID,
          config,
          registerGlobals: false,
          logger,
        });
        functionTelemetry.set(name, own);
        // Pushed after app.close: cleanups run in reverse, so these flush while the API listens.
        cleanups.push(() => own.shutdown());
      }
      const everyone = [...functionTelemetry.values(), apiTelemetry];
      telemetry = {
        api: apiTelemetry,
        collector,
        functions: functionTelemetry,
        async flush() {
          await Promise.all(everyone.map((one) => one.flush()));
        },
      };
    }
    const sagaTelemetry = functionTelemetry.get(FUNCTION.saga);

    const webhookRetry = { attempts: 30, baseDelayMs: 50, maxDelayMs: 2_000, ...options.webhookRetry };
    const payment = await startPaymentSandbox({
      webhookUrl: `${apiUrl}/v1/webhooks/payments`,
      webhookSecret: webhookSecrets.payment,
      faults: options.faults?.payment ?? {},
      webhookRetry,
    });
    cleanups.push(() => payment.stop());
    const shipping = await startShippingSandbox({
      webhookUrl: `${apiUrl}/v1/webhooks/shipping`,
      webhookSecret: webhookSecrets.shipping,
      faults: options.faults?.shipping ?? {},
      webhookRetry,
    });
    cleanups.push(() => shipping.stop());

    const providerOptions = (provider: 'payment' | 'shipping') => ({
      timeoutMs: SAGA_PROVIDER_TIMEOUT_MS,
      retry: SAGA_PROVIDER_RETRY,
      // The saga's and the timeouts' calls share these clients here; their spans are the saga's.
      ...(sagaTelemetry
        ? {
            fetch: createTracedFetch(sagaTelemetry.tracer, { peerService: provider }),
            onBreakerStateChange: (state: 'closed' | 'open' | 'half-open') =>
              sagaTelemetry.metrics.breakerState(provider, state),
          }
        : {}),
    });
    sagaTelemetry?.metrics.breakerState('payment', 'closed');
    sagaTelemetry?.metrics.breakerState('shipping', 'closed');
    const httpPayment = createHttpPaymentProvider({ baseUrl: payment.url, ...providerOptions('payment') });
    const httpShipping = createHttpShippingProvider({
      baseUrl: shipping.url,
      ...providerOptions('shipping'),
    });
    cleanups.push(() => {
      httpPayment.close();
      httpShipping.close();
      return Promise.resolve();
    });
    const paymentProvider = faultyPayment(httpPayment, faults);
    const shippingProvider = faultyShipping(httpShipping, faults);

    // Function servers first (their URLs are the push endpoints and the OIDC audiences).
    const endpoints: Partial<Record<FunctionName, string>> = {};
    const servers = new Map<FunctionName, Server>();
    const extra = Object.keys(options.extraHandlers ?? {}) as FunctionName[];
    for (const name of [...running, ...extra]) {
      registerFunction(name);
      const server = getTestServer(name);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.set(name, server);
      endpoints[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${id}`;
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            routes.get(name)?.delete(id);
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      );
    }

    const pushAuth = options.pushAuth ?? true;
    const deadLetterSink = createDeadLetterSink(relayPublisher);
    const failures = createFailureLog(pool);
    const plumbing: StackPlumbing = {
      pool,
      publisher: relayPublisher,
      logger,
      push: (name) => ({
        logger,
        deadLetters: name === FUNCTION.deadLetter ? createParkingSink(relayPublisher) : deadLetterSink,
        failures,
        authenticate: pushAuth
          ? createPushAuthenticator({
              jwks: emulator.jwks,
              audience: endpoints[name]!,
              serviceAccountEmail: PUSH_INVOKER,
            })
          : undefined,
        projectId: PROJECT_ID,
        ...(functionTelemetry.has(name)
          ? { instrument: (consumer) => instrumentConsumer(consumer, functionTelemetry.get(name)!) }
          : {}),
      }),
      onAppended: (count: number) => outsideTrace(() => relay.trigger(count)),
    };
    const onAppended = plumbing.onAppended;

    const tickRelay = createOutboxRelay({ pool, publisher: relayPublisher, logger, sweepIntervalMs: 0 });
    cleanups.push(() => tickRelay.stop({ flushTimeoutMs: 100 }));
    const sagaConfig = createSagaConfig({
      approvalThresholdMinor: 100_000,
      approvalEscalateAfterMs: 60 * 60_000,
      approvalExpireAfterMs: 24 * 60 * 60_000,
      ...options.saga,
    });
    const handlers: Partial<Record<FunctionName, PushHttpHandler>> = {
      ...(running.has(FUNCTION.saga)
        ? {
            [FUNCTION.saga]: createSagaHandler({
              pool,
              payment: paymentProvider,
              shipping: shippingProvider,
              config: sagaConfig,
              concurrency: options.sagaConcurrency ?? 8,
              onAppended,
              ...(sagaTelemetry ? { telemetry: sagaTelemetry } : {}),
              push: plumbing.push(FUNCTION.saga),
            }),
          }
        : {}),
      ...(running.has(FUNCTION.deadLetter)
        ? {
            [FUNCTION.deadLetter]: createDeadLetterHandler({
              pool,
              push: plumbing.push(FUNCTION.deadLetter),
            }),
          }
        : {}),
      ...(running.has(FUNCTION.ingest)
        ? {
            [FUNCTION.ingest]: createIngestHandler({
              pool,
              onAppended,
              push: plumbing.push(FUNCTION.ingest),
            }),
          }
        : {}),
      ...(running.has(FUNCTION.timeouts)
        ? {
            [FUNCTION.timeouts]: createTimeoutsHandler({
              pool,
              payment: paymentProvider,
              shipping: shippingProvider,
              // Its own relay, as deployed: the tick's sweep works with no API running.
              sweepOutbox: () => tickRelay.sweep(),
              publisher: relayPublisher,
              onAppended,
              push: plumbing.push(FUNCTION.timeouts),
            }),
          }
        : {}),
      ...(running.has(FUNCTION.notifier)
        ? {
            [FUNCTION.notifier]: createNotifierHandler({
              pool,
              subscribers: options.notifier?.subscribers ?? [],
              events: options.notifier?.events ?? DEFAULT_NOTIFIED_EVENTS,
              signer: createWebhookSigner({ secrets: [webhookSecrets.notifier] }),
              timeoutMs: 5_000,
              push: plumbing.push(FUNCTION.notifier),
            }),
          }
        : {}),
    };
    for (const [name, build] of Object.entries(options.extraHandlers ?? {})) {
      handlers[name as FunctionName] = build(plumbing);
    }
    for (const [name, handler] of Object.entries(handlers)) routes.get(name)?.set(id, handler);

    await ensureTopology({
      pubsub,
      endpoints,
      ...(pushAuth ? { pushServiceAccount: PUSH_INVOKER } : {}),
    });

    const request: Stack['api']['request'] = async (method, path, requestOptions = {}) => {
      const key = requestOptions.key === undefined ? keys.admin : requestOptions.key;
      const response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(requestOptions.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...requestOptions.headers,
        },
        ...(requestOptions.body === undefined ? {} : { body: JSON.stringify(requestOptions.body) }),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, body };
    };

    let stopping: Promise<void> | undefined;
    const stack: Stack = {
      id,
      db,
      pool,
      emulator,
      pubsub,
      publisher,
      relay,
      api: { app, url: apiUrl, keys, request },
      webhookSecrets,
      payment,
      shipping,
      endpoints,
      faults,
      telemetry,
      async addProduct(product = {}) {
        const sku = `SKU-${randomBytes(5).toString('hex')}`;
        await putCatalogueItem(
          pool,
          { sku, name: sku, unitPriceMinor: product.unitPriceMinor ?? 1_000, currency: 'EUR' },
          'stack',
        );
        await setInventory(pool, { sku, available: product.stock ?? 100 }, 'stack');
        return sku;
      },
      async setStock(sku, available) {
        await setInventory(pool, { sku, available }, 'stack');
      },
      async stockOf(sku) {
        const item = await getInventory(pool, sku);
        if (!item) throw new Error(`no stock record for ${sku}`);
        return item;
      },
      async placeOrder(lines, orderOptions = {}) {
        const answer = await request('POST', '/v1/orders', {
          key: keys.writer,
          headers: { 'idempotency-key': randomUUID() },
          body: {
            customerId: orderOptions.customerId ?? 'customer-1',
            currency: orderOptions.currency ?? 'EUR',
            lines,
            shippingAddress: STACK_ADDRESS,
          },
        });
        if (answer.status !== 202)
          throw new Error(`placing an order: ${answer.status} ${JSON.stringify(answer.body)}`);
        return (answer.body as { id: string }).id;
      },
      cancelOrder: (orderId, reason = 'changed my mind') =>
        request('POST', `/v1/orders/${orderId}/cancel`, { key: keys.writer, body: { reason } }),
      decideApproval: (orderId, decision, reason) =>
        request('POST', `/v1/orders/${orderId}/approval`, {
          body: { decision, ...(reason ? { reason } : {}) },
        }),
      order: (orderId) => loadOrderState(pool, orderId),
      async waitForOrder(orderId, until, waitOptions = {}) {
        const holds =
          typeof until === 'function'
            ? until
            : (state: OrderState) => (typeof until === 'string' ? [until] : until).includes(state.status);
        let last: OrderState | undefined;
        try {
          return await waitUntil(
            async () => {
              last = await loadOrderState(pool, orderId);
              return last && holds(last) ? last : undefined;
            },
            {
              timeoutMs: waitOptions.timeoutMs ?? 30_000,
              intervalMs: 50,
              what: `order ${orderId} to reach ${typeof until === 'function' ? 'the condition' : String(until)}`,
            },
          );
        } catch (error) {
          throw new Error(
            `${(error as Error).message}; it is ${last?.status ?? 'missing'} (version ${last?.version})`,
            { cause: error },
          );
        }
      },
      async tick() {
        const [outcome] = await publisher.publish(TOPIC.ticks, [
          {
            data: Buffer.from(JSON.stringify({ tick: 'every-minute' })),
            attributes: { [TICK_ATTRIBUTE]: 'every-minute' },
          },
        ]);
        if (!outcome?.messageId) throw outcome?.error ?? new Error('tick not published');
      },
      async publishInbound(event, orderingKey) {
        const data = Buffer.from(typeof event === 'string' ? event : JSON.stringify(event));
        const key = orderingKey ?? (typeof event === 'string' ? undefined : event.data.externalId);
        const [outcome] = await publisher.publish(TOPIC.inboundEvents, [
          { data, attributes: {}, ...(key ? { orderingKey: key } : {}) },
        ]);
        if (!outcome?.messageId) throw outcome?.error ?? new Error('inbound event not published');
      },
      stop: () => (stopping ??= stopAll()),
    };
    // On stop: relays flush while Pub/Sub is still there; then pushing stops before the function
    // servers close, and those before the database goes.
    cleanups.push(async () => {
      await relay.stop({ flushTimeoutMs: 500 });
      await tickRelay.stop({ flushTimeoutMs: 100 });
      await emulator.stop();
    });
    return stack;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function createFaults(): StackFaults & {
  check(orderId: string, step: ProviderStep): void;
  crashes: Set<string>;
  shipmentCrashes: Set<string>;
  refusals: Set<string>;
} {
  const poisoned = new Map<string, ProviderStep | 'all'>();
  const crashes = new Set<string>();
  const shipmentCrashes = new Set<string>();
  const refusals = new Set<string>();
  const next = new Map<ProviderStep, (orderId: string) => void>();
  return {
    duplicatePublishRate: 0,
    duplicatesPublished: 0,
    crashes,
    shipmentCrashes,
    refusals,
    poison(orderId, step) {
      poisoned.set(orderId, step ?? 'all');
    },
    cure(orderId) {
      poisoned.delete(orderId);
    },
    poisonNext(step) {
      return new Promise((resolve) => next.set(step, resolve));
    },
    refuseRefund(orderId) {
      refusals.add(orderId);
    },
    crashAfterShipment(orderId) {
      shipmentCrashes.add(orderId);
    },
    crashAfterCharge(orderId) {
      crashes.add(orderId);
    },
    check(orderId, step) {
      const claim = next.get(step);
      if (claim) {
        next.delete(step);
        poisoned.set(orderId, step);
        claim(orderId);
      }
      const poison = poisoned.get(orderId);
      if (poison === 'all' || poison === step) {
        throw new ProviderError(
          step === 'charge' || step === 'refund' ? 'payment' : 'shipping',
          `injected permanent failure of ${step} for order ${orderId}`,
          {
            retryable: false,
            status: 400,
          },
        );
      }
    },
  };
}

/** The order id of a saga idempotency key (`<order id>:<step>`). */
const orderOfKey = (key: string) => key.slice(0, key.indexOf(':'));

function faultyPayment(inner: HttpPaymentProvider, faults: ReturnType<typeof createFaults>): PaymentProvider {
  return {
    async charge(request) {
      faults.check(request.orderId, 'charge');
      const outcome = await inner.charge(request);
      if (faults.crashes.delete(request.orderId)) {
        throw new Error(`injected crash after the charge of order ${request.orderId} was accepted`);
      }
      return outcome;
    },
    refund(request) {
      const orderId = orderOfKey(request.idempotencyKey);
      faults.check(orderId, 'refund');
      if (faults.refusals.has(orderId)) {
        return Promise.resolve({ status: 'refused', reason: 'charge_not_refundable: injected refusal' });
      }
      return inner.refund(request);
    },
  };
}

function faultyShipping(
  inner: HttpShippingProvider,
  faults: ReturnType<typeof createFaults>,
): ShippingProvider {
  return {
    async createShipment(request) {
      faults.check(request.orderId, 'shipment');
      const outcome = await inner.createShipment(request);
      if (faults.shipmentCrashes.delete(request.orderId)) {
        throw new Error(`injected crash after the shipment of order ${request.orderId} was accepted`);
      }
      return outcome;
    },
    cancelShipment(request) {
      faults.check(orderOfKey(request.idempotencyKey), 'cancel-shipment');
      return inner.cancelShipment(request);
    },
  };
}

/** Statuses after which nothing more happens to an order. */
export const FINAL_STATUSES: readonly OrderStatus[] = [ORDER_STATUS.completed, ORDER_STATUS.cancelled];
