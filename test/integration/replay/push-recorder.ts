/**
 * Stand-ins for the consuming functions in replay tests: one HTTP server with an endpoint per
 * function that acknowledges every Pub/Sub push (204) and records it with the subscription that
 * sent it, so a test can see which subscriptions a message reached.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { decodePush, subscriptionName } from '#shared/messaging/codec.ts';

export interface RecordedPush {
  /** Short subscription name (saga, analytics-replay, …). */
  subscription: string;
  eventId: string;
  orderingKey: string | undefined;
  attributes: Record<string, string>;
  data: unknown;
}

export interface PushRecorder {
  readonly received: RecordedPush[];
  endpoint(name: string): string;
  /** Resolves once no push has arrived for `quietMs` (what was in flight has landed). */
  settle(quietMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPushRecorder(): Promise<PushRecorder> {
  const received: RecordedPush[] = [];
  let last = Date.now();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const message = decodePush(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        received.push({
          subscription: subscriptionName(message.subscription),
          eventId: message.attributes[ATTRIBUTE.id] ?? '',
          orderingKey: message.orderingKey,
          attributes: message.attributes,
          data: message.json,
        });
        last = Date.now();
        response.writeHead(204).end();
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    endpoint: (name) => `http://127.0.0.1:${port}/${name}`,
    async settle(quietMs = 500) {
      while (Date.now() - last < quietMs) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
