/**
 * An HTTP endpoint that records what is POSTed to it (notification subscribers in tests), and can
 * be told to fail: each request is answered by `answer` (200 by default).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as sent (what a signature covers). */
  raw: string;
  /** The status it was answered with. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  readonly received: ReceivedRequest[];
  /** Decides the status of each request; default 200. */
  answer: (request: Omit<ReceivedRequest, 'status'>) => number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received,
    answer: () => 200,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        path: request.url ?? '/',
        headers: request.headers,
        raw: Buffer.concat(chunks).toString('utf8'),
      };
      const status = receiver.answer(entry);
      received.push({ ...entry, status });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
