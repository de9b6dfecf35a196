/**
 * Pub/Sub for tests: the project's emulator (local/pubsub-emulator) in-process, topics and
 * subscriptions made with the real client, a collector of received messages, and a TCP proxy that
 * can make Pub/Sub unavailable (refuse connections) and available again on the same port without
 * the emulator losing its topics and undelivered messages.
 */
import net from 'node:net';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { startPubSubEmulator, type PubSubEmulator } from '../../local/pubsub-emulator/index.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';

export const PROJECT_ID = 'conveyor-test';

export async function startEmulator(): Promise<PubSubEmulator> {
  return startPubSubEmulator({ host: '127.0.0.1', port: 0, log: () => {} });
}

/** A real client for `address` (host:port), configured per instance (no process env). */
export function pubsubClient(address: string): PubSub {
  return new PubSub({
    projectId: PROJECT_ID,
    apiEndpoint: address,
    emulatorMode: true,
    universeDomain: 'googleapis.com',
  });
}

export interface ReceivedEvent {
  messageId: string;
  orderingKey: string;
  attributes: Record<string, string>;
  eventId: string;
  subject: string;
  sequence: number;
  data: unknown;
}

export interface Collector {
  readonly received: ReceivedEvent[];
  /** Resolves once `predicate` holds for what was received; rejects after `timeoutMs`. */
  waitFor(predicate: (received: readonly ReceivedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Creates `topic` (if missing) and an ordered subscription on it, and collects what arrives (acked). */
export async function collect(pubsub: PubSub, topic: string, subscription: string): Promise<Collector> {
  const [exists] = await pubsub.topic(topic).exists();
  if (!exists) await pubsub.createTopic(topic);
  const [sub] = await pubsub.topic(topic).createSubscription(subscription, {
    enableMessageOrdering: true,
    ackDeadlineSeconds: 60,
  });
  return collectFrom(sub);
}

export function collectFrom(sub: Subscription): Collector {
  const received: ReceivedEvent[] = [];
  const waiters = new Set<() => void>();
  sub.on('message', (message: Message) => {
    received.push({
      messageId: message.id,
      orderingKey: message.orderingKey ?? '',
      attributes: message.attributes,
      eventId: message.attributes[ATTRIBUTE.id] ?? '',
      subject: message.attributes[ATTRIBUTE.subject] ?? '',
      sequence: Number(message.attributes[ATTRIBUTE.sequence]),
      data: JSON.parse(message.data.toString('utf8')),
    });
    message.ack();
    for (const waiter of waiters) waiter();
  });
  sub.on('error', () => {});
  return {
    received,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms with ${received.length} message(s) received`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      waiters.clear();
      sub.removeAllListeners('message');
      await sub.close();
    },
  };
}

/**
 * Per ordering key, what a consumer would see: the problems found (a sequence before its
 * predecessor, a gap) and the number of publish duplicates (one event id under two message ids).
 */
export function checkOrdering(received: readonly ReceivedEvent[]): {
  problems: string[];
  duplicates: number;
} {
  const problems: string[] = [];
  const firstSeen = new Map<string, number[]>();
  const messageIds = new Map<string, Set<string>>();
  for (const event of received) {
    const ids = messageIds.get(event.eventId);
    if (ids) {
      ids.add(event.messageId); // a redelivery (same id) or a duplicate publish (another id)
      continue;
    }
    messageIds.set(event.eventId, new Set([event.messageId]));
    const sequences = firstSeen.get(event.orderingKey) ?? [];
    if (event.sequence !== sequences.length + 1) {
      problems.push(`${event.orderingKey}: got sequence ${event.sequence} after [${sequences.join(',')}]`);
    }
    if (event.orderingKey !== event.subject)
      problems.push(`${event.eventId}: ordering key is not the order id`);
    sequences.push(event.sequence);
    firstSeen.set(event.orderingKey, sequences);
  }
  let duplicates = 0;
  for (const ids of messageIds.values()) duplicates += ids.size - 1;
  return { problems, duplicates };
}

export interface TcpProxy {
  readonly port: number;
  readonly address: string;
  /** Drops every connection and refuses new ones, like a stopped server. */
  pause(): Promise<void>;
  /** Accepts connections again, on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:<port> to `target` (host:port). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = net.createServer((client) => {
        const upstream = net.connect(Number(targetPort), targetHost);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        port = (next.address() as net.AddressInfo).port;
        server = next;
        resolve();
      });
    });
  const stop = async () => {
    const current = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    get address() {
      return `127.0.0.1:${port}`;
    },
    pause: stop,
    resume: listen,
    close: stop,
  };
}
