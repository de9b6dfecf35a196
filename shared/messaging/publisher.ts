/**
 * The Pub/Sub publisher port and its adapter over the real @google-cloud/pubsub client, with
 * message ordering enabled: messages with one ordering key are sent in the order `publish` was
 * called, one batch in flight per key.
 */
import { PubSub, type Topic } from '@google-cloud/pubsub';

export interface PublishableMessage {
  data: Buffer;
  attributes: Record<string, string>;
  /** Messages with one key are delivered in publish order where the subscription asks for it. */
  orderingKey?: string | undefined;
}

export interface Publisher {
  /** Publishes one message; resolves with the message id Pub/Sub assigned. */
  publish(topic: string, message: PublishableMessage): Promise<string>;
  /**
   * After a failed publish the client pauses the key (later messages for it fail at once, so none
   * overtakes the failed one); the caller resumes it when it is ready to retry from that message.
   */
  resume(topic: string, orderingKey: string): void;
  /** Sends what is batched, waits for it, and releases the client's connections. */
  close(): Promise<void>;
}

export interface PubSubPublisherOptions {
  projectId: string;
  /**
   * host:port of a Pub/Sub emulator, given per client (rather than through the process-wide
   * PUBSUB_EMULATOR_HOST) so that tests can talk to several emulators at once.
   */
  emulatorHost?: string | undefined;
  /** One publish gives up after this long (the caller retries with backoff); default 5 s. */
  publishTimeoutMs?: number;
  /** How long a batch may wait for more messages of its key; default 0 (send at once). */
  maxBatchDelayMs?: number;
}

/** A Publisher on the real client: Google's endpoint, or an emulator when `emulatorHost` is set. */
export function createPubSubPublisher(options: PubSubPublisherOptions): Publisher {
  const pubsub = new PubSub({
    projectId: options.projectId,
    // universeDomain given: the auth library then does not probe the GCE metadata server for it.
    ...(options.emulatorHost
      ? { apiEndpoint: options.emulatorHost, emulatorMode: true, universeDomain: 'googleapis.com' }
      : {}),
    // gRPC waits up to 120 s between reconnection attempts by default; an outage of Pub/Sub (or an
    // emulator restart) should be noticed within a second or two of its end. google-gax passes
    // options named grpc.* to the channel.
    ...({ 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2_000 } as object),
  });
  const timeout = options.publishTimeoutMs ?? 5_000;
  const topics = new Map<string, Topic>();
  const topicOf = (name: string) => {
    let topic = topics.get(name);
    if (!topic) {
      topic = pubsub.topic(name, {
        messageOrdering: true,
        batching: { maxMessages: 1_000, maxMilliseconds: options.maxBatchDelayMs ?? 0 },
        gaxOpts: { timeout },
      });
      topics.set(name, topic);
    }
    return topic;
  };

  return {
    publish(topic, message) {
      return topicOf(topic).publishMessage({
        data: message.data,
        attributes: message.attributes,
        ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
      });
    },
    resume(topic, orderingKey) {
      topics.get(topic)?.resumePublishing(orderingKey);
    },
    async close() {
      await Promise.allSettled([...topics.values()].map((topic) => topic.flush()));
      await pubsub.close();
    },
  };
}
