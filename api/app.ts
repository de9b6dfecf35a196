/**
 * The Conveyor API as a Fastify plugin, built from injected dependencies (a pg pool, the outbox
 * relay handle, clock and id generator, settings, telemetry). Layers, in order: compilers and
 * services, telemetry and request context, the one error handler, OpenAPI, authentication and rate
 * limits, then the routes.
 * api/server.ts composes it with real dependencies; tests build it the same way with buildApp().
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '#shared/logging/index.ts';
import type { Publisher } from '#shared/messaging/publisher.ts';
import { createUuidV7 } from '#shared/orders/ids.ts';
import type { Pool } from '#shared/store/pool.ts';
import {
  disabledTelemetry,
  httpTelemetry,
  telemetryRoutes,
  type LocalCollector,
  type Telemetry,
} from '#shared/telemetry/index.ts';
import { auth } from './plugins/auth.ts';
import { consoleRoutes, type ConsoleOptions } from './plugins/console.ts';
import { errors, sendProblem } from './plugins/errors.ts';
import { openApi } from './plugins/openapi.ts';
import { requestContext } from './plugins/request-context.ts';
import {
  DEFAULT_SETTINGS,
  decorateServices,
  type AppSettings,
  type RelayHandle,
} from './plugins/services.ts';
import { catalogueRoutes } from './routes/catalogue/index.ts';
import { deadLetterRoutes } from './routes/dead-letters/index.ts';
import { healthRoutes } from './routes/health/index.ts';
import { inventoryRoutes } from './routes/inventory/index.ts';
import { operationsRoutes } from './routes/operations/index.ts';
import { ordersRoutes } from './routes/orders/index.ts';
import { replayRoutes } from './routes/replays/index.ts';
import { webhookRoutes, type WebhookSecrets } from './routes/webhooks/index.ts';

export type { AppSettings, RelayHandle } from './plugins/services.ts';

export interface AppDeps {
  pool: Pool;
  relay: RelayHandle;
  clock?: () => Date;
  /** Order ids and event ids: UUIDv7. */
  newId?: () => string;
  settings?: Partial<AppSettings>;
  /** Signing secrets of the provider webhooks; without them the webhook routes answer 503. */
  webhookSecrets?: Partial<WebhookSecrets> | undefined;
  /** Publishes dead-letter redrives (the relay's publisher); without it redrive answers 503. */
  publisher?: Publisher | undefined;
  /** Server spans, the HTTP metric and GET /metrics; default: none recorded. */
  telemetry?: Telemetry | undefined;
  /**
   * The local stack's collector: the other processes' spans and metrics arrive at POST /v1/traces
   * and /v1/metrics, and /metrics is public. Without it (production) /metrics needs the admin scope.
   */
  collector?: LocalCollector | undefined;
  /** Serve the operations console at /console from this directory (see plugins/console.ts). */
  console?: ConsoleOptions | undefined;
}

const conveyorApi: FastifyPluginAsync<AppDeps> = async (app, deps) => {
  const settings = { ...DEFAULT_SETTINGS, ...deps.settings };
  const clock = deps.clock ?? (() => new Date());
  const telemetry = deps.telemetry ?? disabledTelemetry('api', settings.projectId);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  decorateServices(app, {
    pool: deps.pool,
    relay: deps.relay,
    clock,
    newId: deps.newId ?? createUuidV7(),
    settings,
  });
  // Before the request context, whose trace (and log fields) is the server span this starts.
  httpTelemetry(app, { telemetry });
  requestContext(app, settings.projectId);
  errors(app);
  await openApi(app);
  await auth(app, {
    pool: deps.pool,
    cacheTtlMs: settings.apiKeyCacheTtlMs,
    rateLimitPerMinute: settings.rateLimitPerMinute,
    clock,
  });
  drainOnClose(app);
  const local = deps.collector !== undefined;
  telemetryRoutes(app, {
    telemetry,
    collector: deps.collector,
    metricsConfig: local ? { public: true } : { scope: 'admin' },
    otlpConfig: { public: true },
  });
  await app.register(healthRoutes);
  await app.register(ordersRoutes);
  await app.register(catalogueRoutes);
  await app.register(inventoryRoutes);
  await app.register(webhookRoutes, { secrets: deps.webhookSecrets });
  await app.register(deadLetterRoutes, { publisher: deps.publisher });
  await app.register(replayRoutes, { publisher: deps.publisher });
  await app.register(operationsRoutes, { telemetry });
  if (deps.console) await consoleRoutes(app, deps.console);
};

/**
 * On close, Fastify closes idle keep-alive connections once; a request still in flight then would
 * leave its connection open after answering and close() would wait for the client to hang up.
 * Answers sent while closing say `Connection: close`, so each connection ends with its last answer.
 */
function drainOnClose(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}

// Not encapsulated (what fastify-plugin does): the error handler, hooks and decorators belong to
// the instance the app is registered on, so they also cover unknown routes.
Object.assign(conveyorApi, { [Symbol.for('skip-override')]: true });
export default conveyorApi;

/** A Fastify instance with the API registered; not yet listening. */
export async function buildApp(deps: AppDeps & { logger: Logger }): Promise<FastifyInstance> {
  const newId = deps.newId ?? createUuidV7();
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: deps.settings?.bodyLimitBytes ?? DEFAULT_SETTINGS.bodyLimitBytes,
    // One line per response comes from plugins/request-context.ts, in Cloud Logging's shape.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: () => newId(),
    // Cloud Run's front end terminates TLS and appends the client's address to X-Forwarded-For:
    // trust that one hop (req.ip, used to rate-limit requests without a key), not what clients send.
    trustProxy: (_address: string, hop: number) => hop < 1,
    return503OnClosing: true,
    // Errors before routing (a URL that is not valid percent-encoding) bypass the error handler.
    frameworkErrors: (error, request, reply) => void sendProblem(request, reply, error),
  });
  await app.register(conveyorApi, { ...deps, newId });
  return app;
}
