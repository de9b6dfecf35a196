/** What both sandboxes take and give: start options, the running handle, ids. */
import { randomBytes } from 'node:crypto';
import { FaultInjector, type Faults } from './faults.ts';
import { startJsonServer, Timers, type Route } from './server.ts';
import {
  DEFAULT_WEBHOOK_RETRY,
  WebhookSender,
  type WebhookEvent,
  type WebhookRetry,
  type WebhookStats,
} from './webhooks.ts';

export interface SandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Where outcomes are POSTed as signed webhooks; without it they are only counted. */
  webhookUrl?: string;
  /** The signing secret; several sign with each (a rotation). Required with a webhook URL. */
  webhookSecret?: string | readonly string[];
  faults?: Partial<Faults>;
  webhookRetry?: Partial<WebhookRetry>;
}

export interface Sandbox<Ledger> {
  url: string;
  port: number;
  /** What the provider did, per order, for invariant checks. */
  ledger(): Ledger;
  /** Changes the faults in force from now on (a new seed restarts the random sequence). */
  configure(faults: Partial<Faults>): void;
  /** Resolves when no webhook delivery is pending (delivered, or given up). */
  webhooksIdle(): Promise<void>;
  /** Stops listening, drops open connections, cancels timers and pending deliveries. */
  stop(): Promise<void>;
}

export interface SandboxParts {
  faults: FaultInjector;
  timers: Timers;
  webhooks: WebhookSender;
  /** A new id with a prefix, unique across sandbox instances (`pay_3f9a0c1d000001`). */
  newId: (prefix: string) => string;
  /** A webhook event with a new provider event id (`evt_…`), created now. */
  newEvent: (type: string, data: Record<string, unknown>) => WebhookEvent;
}

export interface LedgerWebhooks extends WebhookStats {
  failures: ReturnType<WebhookSender['failures']>;
}

/** Starts a sandbox whose routes are built from its parts, and wraps it in the common handle. */
export async function startSandbox<Ledger>(
  name: string,
  options: SandboxOptions,
  build: (parts: SandboxParts) => { routes: Route[]; ledger: () => Ledger },
): Promise<Sandbox<Ledger>> {
  const secrets =
    typeof options.webhookSecret === 'string' ? [options.webhookSecret] : (options.webhookSecret ?? []);
  if (options.webhookUrl && secrets.length === 0) {
    throw new Error(`${name} sandbox: a webhook URL needs a webhook secret to sign with`);
  }
  const faults = new FaultInjector(options.faults);
  const timers = new Timers();
  const webhooks = new WebhookSender({
    url: options.webhookUrl,
    secrets,
    retry: { ...DEFAULT_WEBHOOK_RETRY, ...options.webhookRetry },
    faults,
    timers,
    userAgent: `conveyor-sandbox-${name}`,
  });
  const instance = randomBytes(4).toString('hex');
  let sequence = 0;
  const newId = (prefix: string) => `${prefix}_${instance}${(++sequence).toString().padStart(6, '0')}`;
  const newEvent = (type: string, data: Record<string, unknown>): WebhookEvent => ({
    id: newId('evt'),
    type,
    created: Math.floor(Date.now() / 1000),
    data,
  });
  const { routes, ledger } = build({ faults, timers, webhooks, newId, newEvent });
  const server = await startJsonServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    routes: [
      ...routes,
      { method: 'GET', path: /^\/healthz$/, handle: () => ({ status: 200, body: { status: 'ok' } }) },
      { method: 'GET', path: /^\/v1\/ledger$/, handle: () => ({ status: 200, body: ledger() }) },
    ],
    faults,
    timers,
  });
  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    ledger,
    configure: (changes) => faults.configure(changes),
    webhooksIdle: () => webhooks.idle(),
    stop: () =>
      (stopping ??= (async () => {
        timers.stop();
        webhooks.stop();
        await server.close();
      })()),
  };
}

export function ledgerWebhooks(webhooks: WebhookSender): LedgerWebhooks {
  return { ...webhooks.stats(), failures: webhooks.failures() };
}
