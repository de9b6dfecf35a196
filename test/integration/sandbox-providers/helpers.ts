/**
 * For tests of the sandbox providers and the provider adapters: a local HTTP server standing in
 * for the API's webhook routes (verifying each delivery with shared/webhooks), a server whose
 * answers a test scripts, and waiting on a condition with a deadline.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebhookVerifier, SIGNATURE_HEADER } from '#shared/webhooks/index.ts';

/** Polls `condition` until it returns something truthy; fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(
  what: string,
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** performance.now() when it arrived. */
  at: number;
}

export interface Delivery extends RecordedRequest {
  /** The parsed body (a webhook event). */
  event: { id: string; type: string; created: number; data: Record<string, unknown> };
  /** Whether the signature verified against the receiver's secrets. */
  verified: boolean;
  verifyError?: string;
  /** The status the receiver answered. */
  answered: number;
}

async function listen(
  handler: (request: RecordedRequest, response: ServerResponse) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () =>
      handler(
        {
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          rawBody: Buffer.concat(chunks).toString('utf8'),
          at: performance.now(),
        },
        response,
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Receives webhooks like the API will: verifies the signature over the raw body and answers 204,
 * or what `answer` says for that delivery (its index counts every delivery received so far).
 */
export async function startWebhookReceiver(options: {
  secrets: readonly string[];
  answer?: (delivery: Delivery, index: number) => number;
}) {
  const verifier = createWebhookVerifier({ secrets: options.secrets });
  const deliveries: Delivery[] = [];
  const server = await listen((request, response) => {
    let verified = true;
    let verifyError: string | undefined;
    try {
      verifier.verify(request.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined, request.rawBody);
    } catch (error) {
      verified = false;
      verifyError = String(error);
    }
    const delivery: Delivery = {
      ...request,
      event: JSON.parse(request.rawBody) as Delivery['event'],
      verified,
      ...(verifyError ? { verifyError } : {}),
      answered: 204,
    };
    delivery.answered = verified ? (options.answer?.(delivery, deliveries.length) ?? 204) : 401;
    deliveries.push(delivery);
    response.writeHead(delivery.answered).end();
  });
  return {
    url: `${server.url}/v1/webhooks`,
    deliveries,
    /** Deliveries accepted (2xx), in arrival order. */
    accepted: () => deliveries.filter((d) => d.answered < 300),
    close: () => server.close(),
  };
}

export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer only after this long (longer than the client's timeout: a hang). */
  delayMs?: number;
}

/** A server answering request n with `script(request, n)`; records every request. */
export async function startScriptedServer(
  script: (request: RecordedRequest, index: number) => ScriptedAnswer,
) {
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = await listen((request, response) => {
    const answer = script(request, requests.length);
    requests.push(request);
    const respond = () => {
      if (response.destroyed) return;
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    };
    if (!answer.delayMs) return respond();
    const timer = setTimeout(() => {
      timers.delete(timer);
      respond();
    }, answer.delayMs);
    timers.add(timer);
  });
  return {
    url: server.url,
    requests,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await server.close();
    },
  };
}
