/**
 * Test support for the conformance suite: waiting on conditions with deadlines, collecting what a
 * streaming subscriber receives, and a real local HTTP endpoint for push.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { Message, Subscription, SubscriberOptions, Topic } from '@google-cloud/pubsub';
import type { Conformance } from './conformance.ts';

/** Resolves once `condition()` is truthy; fails with `what` after `timeoutMs`. */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Lets `ms` pass: only to observe that something does NOT happen within a time. */
export function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The gRPC status code of a rejected call. */
export async function codeOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

export async function assertCode(promise: Promise<unknown>, code: number, what: string): Promise<void> {
  assert.equal(await codeOf(promise), code, `${what}: expected gRPC code ${code}`);
}

export interface Received {
  message: Message;
  at: number;
}

export interface Collector {
  readonly received: Received[];
  /** Waits until at least `count` messages (deliveries, duplicates included) arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * Subscribes with the high-level client and records every delivery. `onMessage` decides what to
 * do with each (default: ack). The subscription is closed at the end of the test.
 */
export function collect(
  t: TestContext,
  subscription: Subscription,
  onMessage: (message: Message, received: Received[]) => void = (message) => message.ack(),
  options?: SubscriberOptions,
): Collector {
  if (options) subscription.setOptions(options);
  const received: Received[] = [];
  const errors: Error[] = [];
  subscription.on('message', (message: Message) => {
    received.push({ message, at: Date.now() });
    onMessage(message, received);
  });
  subscription.on('error', (error: Error) => errors.push(error));
  const close = async () => {
    subscription.removeAllListeners('message');
    await subscription.close().catch(() => {});
  };
  t.after(close);
  return {
    received,
    async waitFor(count, timeoutMs = 15_000) {
      await waitUntil(() => received.length >= count || errors.length > 0, `${count} deliveries`, timeoutMs);
      if (errors.length > 0 && received.length < count) throw errors[0]!;
      return received;
    },
    close,
  };
}

/** Creates a topic and a subscription on it (closed and deleted with the emulator). */
export async function topicAndSubscription(
  ctx: Conformance,
  label: string,
  subscriptionOptions: Record<string, unknown> = {},
  topicOptions: { messageOrdering?: boolean } = {},
): Promise<{ topic: Topic; subscription: Subscription; topicId: string; subscriptionId: string }> {
  const topicId = ctx.id(`${label}-t`);
  const subscriptionId = ctx.id(`${label}-s`);
  await ctx.pubsub.createTopic(topicId);
  await ctx.pubsub.topic(topicId).createSubscription(subscriptionId, subscriptionOptions);
  return {
    topic: ctx.pubsub.topic(topicId, topicOptions),
    subscription: ctx.pubsub.subscription(subscriptionId),
    topicId,
    subscriptionId,
  };
}

export interface PushRequest {
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface PushEndpoint {
  readonly url: string;
  readonly requests: PushRequest[];
  waitFor(count: number, timeoutMs?: number): Promise<PushRequest[]>;
}

/**
 * A real HTTP server on 127.0.0.1 (port 0) that records each request; `respond` sets the answer
 * (default 204). Closed at the end of the test.
 */
export async function pushEndpoint(
  t: TestContext,
  respond: (request: PushRequest, response: http.ServerResponse) => void = (_, response) =>
    response.writeHead(204).end(),
  path = '/push',
): Promise<PushEndpoint> {
  const requests: PushRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded: PushRequest = {
        at: Date.now(),
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      try {
        respond(recorded, response);
      } catch {
        // A request the test did not expect (say, an unparsable body): answered, not thrown.
        if (!response.headersSent) response.writeHead(400);
        response.end();
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    async waitFor(count, timeoutMs = 15_000) {
      await waitUntil(() => requests.length >= count, `${count} push requests`, timeoutMs);
      return requests;
    },
  };
}

/** Gaps in seconds between consecutive times. */
export function gaps(times: number[]): number[] {
  return times.slice(1).map((time, i) => (time - times[i]!) / 1000);
}

/** A decoded StreamingPullResponse (camelCase, as the generated client decodes it). */
export interface StreamResponse {
  receivedMessages?: {
    ackId: string;
    message: { messageId: string; data: Buffer };
    deliveryAttempt?: number;
  }[];
  subscriptionProperties?: { exactlyOnceDeliveryEnabled?: boolean; messageOrderingEnabled?: boolean };
  acknowledgeConfirmation?: { ackIds?: string[]; invalidAckIds?: string[] };
}

export interface RawStream {
  readonly responses: StreamResponse[];
  /** Every received message so far, in order. */
  received(): NonNullable<StreamResponse['receivedMessages']>;
  write(request: Record<string, unknown>): void;
  /** The status the stream ended with (waits up to `timeoutMs`; undefined if still open). */
  status(timeoutMs?: number): Promise<{ code: number; details: string } | undefined>;
}

interface GrpcDuplex {
  write(request: unknown): boolean;
  on(event: string, listener: (value: never) => void): GrpcDuplex;
  cancel(): void;
  end(): void;
}

/**
 * A StreamingPull stream opened on the generated client's gRPC stub, bypassing the high-level
 * subscriber, to send exactly the requests a test wants. Cancelled at the end of the test.
 */
export async function openRawStream(
  t: TestContext,
  ctx: Conformance,
  first?: Record<string, unknown>,
): Promise<RawStream> {
  const subscriber = await ctx.subscriberClient();
  await subscriber.initialize();
  const stub = (await subscriber.subscriberStub) as unknown as { streamingPull(): GrpcDuplex };
  const stream = stub.streamingPull();
  const responses: StreamResponse[] = [];
  let ended: { code: number; details: string } | undefined;
  stream.on('data', (response: StreamResponse) => responses.push(response));
  stream.on('status', (status: { code: number; details: string }) => (ended ??= status));
  stream.on('error', (error: { code: number; details: string }) => (ended ??= error));
  t.after(() => {
    if (!ended) stream.cancel();
  });
  if (first) stream.write(first);
  return {
    responses,
    received: () => responses.flatMap((response) => response.receivedMessages ?? []),
    write: (request) => stream.write(request),
    async status(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return ended;
    },
  };
}
