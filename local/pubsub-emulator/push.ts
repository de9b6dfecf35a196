/**
 * Push delivery (https://cloud.google.com/pubsub/docs/push): one HTTP POST per message.
 *
 * - Body: the wrapped JSON production sends
 *   `{"message":{"attributes":{…},"data":"<base64>","messageId":"…","message_id":"…","orderingKey":"…",
 *   "publishTime":"…","publish_time":"…"},"subscription":"projects/…","deliveryAttempt":N}` with
 *   `Content-Type: application/json` (empty attributes and data omitted, orderingKey only when set,
 *   deliveryAttempt only with a dead-letter policy); or, with no_wrapper, the raw data, plus the
 *   metadata in `x-goog-pubsub-*` headers and attributes as headers when write_metadata is set.
 * - `Authorization: Bearer <JWT>` when oidc_token is set (see oidc.ts); audience defaults to the URL.
 * - 102, 200, 201, 202 and 204 ack; any other status, a connection error or no answer within the
 *   ack deadline (the request timeout) is a nack, subject to the retry policy and dead-lettering.
 * - Push backoff: each failure pauses the subscription's pushes, 100 ms doubling up to 60 s; a
 *   success resets it. Concurrency is a window that grows by one per success and halves on
 *   failure (slow start), capped, so a slow or failing endpoint is not flooded.
 * - Ordering keys: one message per key in flight.
 */
import http from 'node:http';
import https from 'node:https';
import type { Subscription, PushController } from './broker.ts';
import { messageData } from './message.ts';
import type { OidcSigner } from './oidc.ts';
import type { Consumer, MessageRecord } from './subscription.ts';

export const ACK_STATUS_CODES: ReadonlySet<number> = new Set([102, 200, 201, 202, 204]);
export const USER_AGENT = 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)';
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 60_000;
/** Extra lease time beyond the request timeout, so the request's own timeout decides. */
const LEASE_GRACE_MS = 5_000;
const RESERVED_HEADERS = new Set([
  'content-length',
  'content-type',
  'host',
  'connection',
  'transfer-encoding',
  'authorization',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);

export interface PushOptions {
  signer: () => Promise<OidcSigner>;
  /** Most requests in flight per subscription. */
  maxOutstanding: number;
  /** Window a subscription starts with (slow start). */
  initialWindow: number;
  log: (line: string) => void;
}

export function createPushController(sub: Subscription, options: PushOptions): PushController {
  return new PushWorker(sub, options);
}

class PushWorker implements PushController, Consumer {
  private sub: Subscription;
  private readonly options: PushOptions;
  private window: number;
  private inflight = 0;
  private backoffMs = 0;
  private pausedUntil = 0;
  private epoch = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly requests = new Set<http.ClientRequest>();
  private httpAgent: http.Agent;
  private httpsAgent: https.Agent;

  constructor(sub: Subscription, options: PushOptions) {
    this.sub = sub;
    this.options = options;
    this.window = Math.max(1, Math.min(options.initialWindow, options.maxOutstanding));
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: options.maxOutstanding });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: options.maxOutstanding });
  }

  update(sub: Subscription): void {
    this.sub = sub;
    sub.engine.consumers.add(this);
    sub.engine.schedulePump();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sub.engine.consumers.delete(this);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    for (const request of this.requests) request.destroy();
    this.requests.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  end(): void {
    this.stop();
  }

  release(): void {}

  fill(): boolean {
    if (this.stopped) return false;
    const now = Date.now();
    if (now < this.pausedUntil) {
      this.resumeLater(this.pausedUntil - now);
      return false;
    }
    const room = this.window - this.inflight;
    if (room <= 0) return false;
    const engine = this.sub.engine;
    const deadlineMs = engine.settings.ackDeadlineSeconds * 1000;
    const records = engine.take(room, Infinity, deadlineMs + LEASE_GRACE_MS, this, 1);
    for (const record of records) this.send(record, deadlineMs);
    return records.length > 0;
  }

  private resumeLater(ms: number): void {
    if (this.resumeTimer) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.sub.engine.schedulePump();
    }, ms);
    this.resumeTimer.unref();
  }

  private send(record: MessageRecord, timeoutMs: number): void {
    const gen = record.gen;
    const epoch = this.epoch;
    const sub = this.sub;
    const config = sub.pushConfig;
    const endpoint = config.push_endpoint ?? '';
    this.inflight++;
    let settled = false;
    const settle = (acked: boolean) => {
      if (settled) return;
      settled = true;
      this.inflight--;
      if (this.stopped) return;
      this.adjust(acked, epoch);
      sub.engine.settlePush(record, gen, acked);
      sub.engine.schedulePump();
    };

    void (async () => {
      try {
        const { body, headers } = this.build(record);
        if (config.oidc_token) {
          const signer = await this.options.signer();
          const audience = config.oidc_token.audience || endpoint;
          headers.authorization = `Bearer ${await signer.token(config.oidc_token.service_account_email!, audience)}`;
        }
        if (settled || this.stopped) return settle(false);
        const url = new URL(endpoint);
        const secure = url.protocol === 'https:';
        headers['content-length'] = String(body.length);
        const outgoing = (secure ? https : http).request(url, {
          method: 'POST',
          headers,
          agent: secure ? this.httpsAgent : this.httpAgent,
        });
        this.requests.add(outgoing);
        // The ack deadline is the request timeout. A request acked early with 102 Processing is
        // still given at most that long to finish before its connection is dropped.
        const timer = setTimeout(() => {
          settle(false);
          outgoing.destroy();
        }, timeoutMs);
        outgoing.on('information', (info) => {
          if (info.statusCode === 102) settle(true);
        });
        outgoing.on('response', (response) => {
          response.on('error', () => {});
          response.resume();
          settle(ACK_STATUS_CODES.has(response.statusCode ?? 0));
        });
        outgoing.on('error', () => settle(false));
        outgoing.on('close', () => {
          clearTimeout(timer);
          this.requests.delete(outgoing);
          settle(false);
        });
        outgoing.end(body);
      } catch (error) {
        this.options.log(`push to ${endpoint} failed before sending: ${String(error)}`);
        settle(false);
      }
    })();
  }

  /** Slow start and push backoff. Only one doubling per failure wave (requests sent in one epoch). */
  private adjust(acked: boolean, epoch: number): void {
    if (acked) {
      this.backoffMs = 0;
      this.window = Math.min(this.options.maxOutstanding, this.window + 1);
      return;
    }
    if (epoch !== this.epoch) return;
    this.epoch++;
    this.backoffMs = this.backoffMs === 0 ? MIN_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    this.pausedUntil = Date.now() + this.backoffMs;
    this.window = Math.max(1, Math.floor(this.window / 2));
  }

  private build(record: MessageRecord): { body: Buffer; headers: http.OutgoingHttpHeaders } {
    const sub = this.sub;
    const message = record.message;
    const config = sub.pushConfig;
    const publishTime = new Date(message.publishMs).toISOString();
    const headers: http.OutgoingHttpHeaders = { 'user-agent': USER_AGENT };
    if (config.no_wrapper) {
      headers['content-type'] = 'application/octet-stream';
      if (config.no_wrapper.write_metadata) {
        for (const [key, value] of Object.entries(message.attributes)) {
          if (RESERVED_HEADERS.has(key.toLowerCase()) || key.toLowerCase().startsWith('x-goog-pubsub-'))
            continue;
          try {
            http.validateHeaderName(key);
            headers[key] = headerValue(value);
          } catch {
            // not representable as an HTTP header: left out
          }
        }
        headers['x-goog-pubsub-subscription-name'] = sub.name;
        headers['x-goog-pubsub-message-id'] = message.id;
        headers['x-goog-pubsub-publish-time'] = publishTime;
        if (message.orderingKey) headers['x-goog-pubsub-ordering-key'] = headerValue(message.orderingKey);
      }
      return { body: messageData(message), headers };
    }
    headers['content-type'] = 'application/json';
    const wrapped: Record<string, unknown> = {};
    if (Object.keys(message.attributes).length > 0) wrapped.attributes = message.attributes;
    if (message.dataLength > 0) wrapped.data = messageData(message).toString('base64');
    wrapped.messageId = message.id;
    wrapped.message_id = message.id;
    if (message.orderingKey) wrapped.orderingKey = message.orderingKey;
    wrapped.publishTime = publishTime;
    wrapped.publish_time = publishTime;
    const body: Record<string, unknown> = { message: wrapped, subscription: sub.name };
    if (sub.engine.settings.deadLetter) body.deliveryAttempt = 1 + record.failures;
    return { body: Buffer.from(JSON.stringify(body)), headers };
  }
}

/** The value as is when HTTP can carry it, else percent-encoded. */
function headerValue(value: string): string {
  try {
    http.validateHeaderValue('x', value);
    return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
  } catch {
    return encodeURIComponent(value);
  }
}
