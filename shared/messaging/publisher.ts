/**
 * The Pub/Sub publisher port and two adapters over the real @google-cloud/pubsub library. Pub/Sub
 * takes one ordering key per Publish request ("All PubsubMessages published in a given
 * PublishRequest must specify the same ordering_key value"), so both send one request per key
 * (with all of that key's messages), the keys of a batch concurrently:
 *
 * - createPubSubPublisher (the default): the library's generated PublisherClient, one request per
 *   key (and one for all unkeyed messages), without the high-level client's per-key queues and
 *   timers, which the relay does not need: it never has two calls in flight for one key.
 * - createOrderedTopicPublisher: the high-level Topic with messageOrdering, one batch in flight per
 *   key, paused keys resumed with topic.resumePublishing(key).
 *
 * Both keep the order of a key's messages within a call; the caller (the outbox relay) never has
 * two calls in flight for one key, which keeps the order across calls.
 */
import { PubSub, v1, type ClientConfig, type Topic } from '@google-cloud/pubsub';

export interface PublishableMessage {
  data: Buffer;
  attributes: Record<string, string>;
  /** Messages with one key are delivered in publish order where the subscription asks for it. */
  orderingKey?: string | undefined;
}

/** What became of one message: its message id, or why it was not published. */
export type PublishOutcome =
  { messageId: string; error?: undefined } | { messageId?: undefined; error: Error };

export interface Publisher {
  /**
   * Publishes `messages` to `topic`, each key's messages in the given order. Resolves with one
   * outcome per message, in order. When a message of a key fails, every later message of that key
   * in the call fails too (none overtakes it), and the key is ready to be retried from the failed
   * message once the call has returned.
   */
  publish(topic: string, messages: readonly PublishableMessage[]): Promise<PublishOutcome[]>;
  /** Waits for what is in flight and releases the client's connections. */
  close(): Promise<void>;
}

export interface PubSubPublisherOptions {
  projectId: string;
  /**
   * host:port of a Pub/Sub emulator, given per client (rather than through the process-wide
   * PUBSUB_EMULATOR_HOST) so that tests can talk to several emulators at once.
   */
  emulatorHost?: string | undefined;
  /** One publish request gives up after this long, retries included (the caller backs off); default 5 s. */
  publishTimeoutMs?: number;
}

/** Pub/Sub's limits on one Publish request, with room for the request's own framing. */
const MAX_MESSAGES_PER_REQUEST = 1_000;
const MAX_BYTES_PER_REQUEST = 9 * 1024 * 1024;

function clientConfig(options: PubSubPublisherOptions): ClientConfig {
  return {
    projectId: options.projectId,
    // universeDomain given: the auth library then does not probe the GCE metadata server for it.
    ...(options.emulatorHost
      ? { apiEndpoint: options.emulatorHost, emulatorMode: true, universeDomain: 'googleapis.com' }
      : {}),
    // gRPC waits up to 120 s between reconnection attempts by default; an outage of Pub/Sub (or an
    // emulator restart) should be noticed within a second or two of its end. google-gax passes
    // options named grpc.* to the channel.
    ...({ 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2_000 } as object),
  };
}

/** Requests started before the publisher yields to the event loop. */
const DISPATCH_GROUP = 16;

/** A key's requests go one after another; after a failure the rest of the key fails too. */
async function publishKey(
  publisherClient: v1.PublisherClient,
  callOptions: { timeout: number; isBundling: boolean },
  topic: string,
  key: string,
  indices: readonly number[],
  messages: readonly PublishableMessage[],
  outcomes: PublishOutcome[],
): Promise<void> {
  let failure: Error | undefined;
  for (const chunk of chunks(indices, messages)) {
    if (failure) {
      for (const index of chunk) outcomes[index] = { error: failure };
      continue;
    }
    try {
      const [response] = await publisherClient.publish(
        {
          topic,
          messages: chunk.map((index) => {
            const message = messages[index]!;
            return {
              data: message.data,
              attributes: message.attributes,
              ...(key ? { orderingKey: key } : {}),
            };
          }),
        },
        callOptions,
      );
      const ids = response.messageIds ?? [];
      chunk.forEach((index, position) => {
        const messageId = ids[position];
        outcomes[index] = messageId
          ? { messageId }
          : { error: new Error('Pub/Sub returned no message id for this message') };
      });
    } catch (cause) {
      failure = cause instanceof Error ? cause : new Error(String(cause));
      for (const index of chunk) outcomes[index] = { error: failure };
      // Unkeyed messages are independent: only keys stop at their first failure.
      if (!key) failure = undefined;
    }
  }
}

/** One Publish request per ordering key (split only at Pub/Sub's request limits), via the generated client. */
export function createPubSubPublisher(options: PubSubPublisherOptions): Publisher {
  // The high-level client works out endpoint, credentials and project; the generated client is
  // built from the same configuration, exactly as the high-level client builds its own.
  const pubsub = new PubSub(clientConfig(options));
  let client: Promise<v1.PublisherClient> | undefined;
  const clientOf = () =>
    (client ??= pubsub
      .getClientConfig()
      .then(
        (config) => new v1.PublisherClient(config as ConstructorParameters<typeof v1.PublisherClient>[0]),
      ));
  const callOptions = { timeout: options.publishTimeoutMs ?? 5_000, isBundling: false };
  const inFlight = new Set<Promise<unknown>>();

  async function publish(topic: string, messages: readonly PublishableMessage[]): Promise<PublishOutcome[]> {
    const outcomes: PublishOutcome[] = new Array<PublishOutcome>(messages.length);
    const name = `projects/${options.projectId}/topics/${topic}`;
    const byKey = new Map<string, number[]>();
    messages.forEach((message, index) => {
      const key = message.orderingKey ?? '';
      const indices = byKey.get(key);
      if (indices) indices.push(index);
      else byKey.set(key, [index]);
    });
    const publisherClient = await clientOf();
    const sends: Promise<void>[] = [];
    let dispatched = 0;
    for (const [key, indices] of byKey) {
      // Starting a request costs CPU on this thread; yield now and then so that a large batch does
      // not hold up request handling while its requests are being started.
      if (++dispatched % DISPATCH_GROUP === 0) await new Promise((resolve) => setImmediate(resolve));
      sends.push(publishKey(publisherClient, callOptions, name, key, indices, messages, outcomes));
    }
    await Promise.all(sends);
    return outcomes;
  }

  return {
    publish(topic, messages) {
      const call = publish(topic, messages);
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
      return call;
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      if (client) await (await client).close();
      await pubsub.close();
    },
  };
}

/** `indices` of `messages` split into requests within Pub/Sub's limits, in order. */
function chunks(indices: readonly number[], messages: readonly PublishableMessage[]): number[][] {
  const result: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const index of indices) {
    const message = messages[index]!;
    let size = message.data.length + (message.orderingKey?.length ?? 0) + 16;
    for (const [key, value] of Object.entries(message.attributes)) size += key.length + value.length + 8;
    if (
      current.length > 0 &&
      (current.length >= MAX_MESSAGES_PER_REQUEST || bytes + size > MAX_BYTES_PER_REQUEST)
    ) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** The high-level Topic client with message ordering: per-key batches, paused keys resumed after a failure. */
export function createOrderedTopicPublisher(options: PubSubPublisherOptions): Publisher {
  const pubsub = new PubSub(clientConfig(options));
  const timeout = options.publishTimeoutMs ?? 5_000;
  const topics = new Map<string, Topic>();
  const topicOf = (name: string) => {
    let topic = topics.get(name);
    if (!topic) {
      topic = pubsub.topic(name, {
        messageOrdering: true,
        batching: { maxMessages: MAX_MESSAGES_PER_REQUEST, maxMilliseconds: 0 },
        gaxOpts: { timeout },
      });
      topics.set(name, topic);
    }
    return topic;
  };

  return {
    async publish(topicName, messages) {
      const topic = topicOf(topicName);
      // All enqueued before any is awaited: the client sends each key's messages in this order.
      const settled = await Promise.allSettled(
        messages.map((message) => {
          try {
            return topic.publishMessage({
              data: message.data,
              attributes: message.attributes,
              ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
            });
          } catch (error) {
            return Promise.reject(error instanceof Error ? error : new Error(String(error)));
          }
        }),
      );
      const failedKeys = new Set<string>();
      const outcomes = settled.map((outcome, index): PublishOutcome => {
        const key = messages[index]!.orderingKey;
        if (outcome.status === 'fulfilled' && !(key && failedKeys.has(key)))
          return { messageId: outcome.value };
        if (key) failedKeys.add(key);
        const reason =
          outcome.status === 'rejected'
            ? (outcome.reason as unknown)
            : 'an earlier message of its key failed';
        return { error: reason instanceof Error ? reason : new Error(String(reason)) };
      });
      // The client paused these keys; the caller retries them from the failed message later.
      for (const key of failedKeys) topic.resumePublishing(key);
      return outcomes;
    },
    async close() {
      await Promise.allSettled([...topics.values()].map((topic) => topic.flush()));
      await pubsub.close();
    },
  };
}
