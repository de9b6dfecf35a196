/**
 * The HTTP plumbing both sandboxes share: JSON in and out, a small route table, Idempotency-Key
 * handling as real providers do it (same key and body → the stored answer; same key, other body
 * → 422; same key while the first call runs → 409), injected faults around each call that
 * changes something, and a stop that leaves no timer, socket or delivery behind.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import type { CallFault, FaultInjector } from './faults.ts';

export interface Answer {
  status: number;
  body: unknown;
}

export interface CallContext<Body> {
  body: Body;
  params: string[];
  idempotencyKey: string | undefined;
  /**
   * The caller's W3C `traceparent`, when it sent a well-formed one. The webhooks a call leads to
   * carry it back, as a provider that propagates trace context would, so the caller's trace
   * continues through them.
   */
  traceparent: string | undefined;
}

const TRACEPARENT = /^00-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** The request's traceparent header if it is well-formed W3C trace context. */
function traceparentOf(request: IncomingMessage): string | undefined {
  const header = request.headers.traceparent;
  const value = typeof header === 'string' ? header.trim().toLowerCase() : undefined;
  return value && TRACEPARENT.test(value) ? value : undefined;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Matched against the path; capture groups become `params`. */
  path: RegExp;
  /** For calls that change something: its body schema and whether an Idempotency-Key is required. */
  change?: { schema: z.ZodType; idempotencyKey: 'required' | 'optional' };
  handle(context: CallContext<never>): Answer | Promise<Answer>;
}

/** A POST that changes something, its handler typed by the body schema (no annotation to keep in step). */
export function changeRoute<Schema extends z.ZodType>(
  path: RegExp,
  change: { schema: Schema; idempotencyKey: 'required' | 'optional' },
  handle: (context: CallContext<z.infer<Schema>>) => Answer | Promise<Answer>,
): Route {
  return { method: 'POST', path, change, handle };
}

/** Timers that all go away on stop. */
export class Timers {
  readonly #pending = new Set<NodeJS.Timeout>();
  #stopped = false;

  after(ms: number, run: () => void): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      run();
    }, ms);
    this.#pending.add(timer);
  }

  /** Resolves after `ms`; never, once stopped (whoever waits is being torn down). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }
}

export function problem(status: number, code: string, message: string): Answer {
  return { status, body: { code, message } };
}

interface StoredCall {
  fingerprint: string;
  answer?: Answer;
}

const MAX_BODY_BYTES = 1 << 20;

export interface JsonServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startJsonServer(options: {
  host: string;
  port: number;
  routes: readonly Route[];
  faults: FaultInjector;
  timers: Timers;
}): Promise<JsonServer> {
  const { routes, faults, timers } = options;
  const calls = new Map<string, StoredCall>();

  /** Runs a change once per key; repeats get the stored answer. Validation failures are not stored. */
  async function once(
    key: string,
    fingerprint: string,
    run: () => Answer | Promise<Answer>,
  ): Promise<Answer> {
    const stored = calls.get(key);
    if (stored && stored.fingerprint !== fingerprint) {
      return problem(422, 'idempotency_key_reused', 'this Idempotency-Key was used with another request');
    }
    if (stored && !stored.answer) {
      return problem(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is in progress');
    }
    if (stored?.answer) {
      const { status, body } = stored.answer;
      return { status: status === 201 ? 200 : status, body };
    }
    calls.set(key, { fingerprint });
    try {
      const answer = await run();
      calls.set(key, { fingerprint, answer });
      return answer;
    } catch (error) {
      calls.delete(key);
      throw error;
    }
  }

  async function dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const route = routes.find((r) => r.method === request.method && r.path.test(url.pathname));
    if (!route) {
      const known = routes.some((r) => r.path.test(url.pathname));
      return send(response, known ? problem(405, 'method_not_allowed', 'method not allowed') : notFound());
    }
    const params = route.path.exec(url.pathname)!.slice(1).map(decodeURIComponent);
    const raw = await readBody(request);
    if (raw === undefined) return send(response, problem(413, 'body_too_large', 'the body is too large'));
    if (!route.change)
      return send(
        response,
        await route.handle({
          body: undefined as never,
          params,
          idempotencyKey: undefined,
          traceparent: traceparentOf(request),
        }),
      );

    let json: unknown;
    try {
      json = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      return send(response, problem(400, 'invalid_json', 'the body is not JSON'));
    }
    const parsed = route.change.schema.safeParse(json);
    if (!parsed.success) {
      const message = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ');
      return send(response, problem(400, 'invalid_request', message));
    }
    const header = request.headers['idempotency-key'];
    const idempotencyKey = typeof header === 'string' && header.length > 0 ? header : undefined;
    if (route.change.idempotencyKey === 'required' && !idempotencyKey) {
      return send(response, problem(400, 'idempotency_key_required', 'send an Idempotency-Key header'));
    }
    if (idempotencyKey && idempotencyKey.length > 255) {
      return send(response, problem(400, 'invalid_request', 'the Idempotency-Key is longer than 255'));
    }

    const { latencyMs } = faults.faults;
    if (latencyMs > 0) await timers.sleep(latencyMs);
    const fault = faults.drawCallFault();
    if (fault && !fault.afterEffect) return injure(request, response, fault);

    const context = {
      body: parsed.data as never,
      params,
      idempotencyKey,
      traceparent: traceparentOf(request),
    };
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${url.pathname} ${canonical(parsed.data)}`)
      .digest('hex');
    const answer = idempotencyKey
      ? await once(idempotencyKey, fingerprint, () => route.handle(context))
      : await route.handle(context);
    if (fault) return injure(request, response, fault);
    send(response, answer);
  }

  /** A fault: an error status, or no answer at all until the connection is dropped. */
  function injure(request: IncomingMessage, response: ServerResponse, fault: CallFault): void {
    if (fault.kind === 'error') {
      send(response, problem(fault.status, 'sandbox_fault', `injected ${fault.status}`));
      return;
    }
    timers.after(faults.faults.hangMs, () => request.socket.destroy());
  }

  const server = createServer((request, response) => {
    dispatch(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, problem(500, 'internal', String(error)));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function notFound(): Answer {
  return problem(404, 'not_found', 'no such resource');
}

function send(response: ServerResponse, answer: Answer): void {
  const text = JSON.stringify(answer.body);
  response.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** JSON with sorted keys: the same request written in another key order is the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
