/**
 * The emulator's state: topics, subscriptions and snapshots, publishing, seeking, dead-lettering,
 * and the periodic upkeep (retention, snapshot expiry, subscription expiration).
 *
 * Memory: a message is stored once (its encoded bytes) and referenced by each subscription that
 * has not acked it. A topic additionally keeps a log of published messages only while something
 * needs it: the topic's own message_retention_duration, a subscription with
 * retain_acked_messages, or a snapshot. Everything else is freed as soon as it is acked.
 */
import type { status } from '@grpc/grpc-js';
import { Code, alreadyExists, failedPrecondition, invalidArgument, notFound } from './errors.ts';
import {
  createStoredMessage,
  messageData,
  messageSize,
  nextMessageSeq,
  type StoredMessage,
} from './message.ts';
import { DELETED_TOPIC, parseName, parseProject } from './names.ts';
import type { BrokerJournal, PersistedState } from './persistence.ts';
import {
  deliverySettings,
  durationToMs,
  expirationTtlMs,
  msToDuration,
  normalizeSubscription,
  normalizeTopic,
  updateSubscriptionProto,
  updateTopic,
} from './resources.ts';
import { SubscriptionEngine, type MessageRecord } from './subscription.ts';
import type {
  FieldMask,
  PubsubMessageProto,
  PushConfigProto,
  SnapshotProto,
  SubscriptionProto,
  TopicProto,
} from './types.ts';

const DAY = 24 * 60 * 60 * 1000;
const SNAPSHOT_LIFETIME_MS = 7 * DAY;

export const PublishLimits = {
  messagesPerRequest: 1000,
  requestBytes: 10_000_000,
  attributes: 100,
  attributeKeyBytes: 256,
  attributeValueBytes: 1024,
  orderingKeyBytes: 1024,
} as const;

export class Topic {
  readonly name: string;
  proto: TopicProto;
  readonly subscriptions = new Set<Subscription>();
  /** Published messages kept for seek (see the module comment); oldest first. */
  log: StoredMessage[] = [];
  private logHead = 0;

  constructor(proto: TopicProto) {
    this.name = proto.name!;
    this.proto = proto;
  }

  get retentionMs(): number {
    return durationToMs(this.proto.message_retention_duration);
  }

  get retainedCount(): number {
    return this.log.length - this.logHead;
  }

  retained(): StoredMessage[] {
    return this.log.slice(this.logHead);
  }

  append(message: StoredMessage): void {
    this.log.push(message);
  }

  prune(keep: (message: StoredMessage) => boolean): void {
    while (this.logHead < this.log.length && !keep(this.log[this.logHead]!)) this.logHead++;
    if (this.logHead > 0 && (this.logHead === this.log.length || this.logHead > 1024)) {
      this.log = this.log.slice(this.logHead);
      this.logHead = 0;
    }
  }
}

/** Starts and stops push delivery for a subscription; provided by the push module. */
export interface PushController {
  update(subscription: Subscription): void;
  stop(): void;
}

export class Subscription {
  readonly name: string;
  readonly project: string;
  readonly id: string;
  proto: SubscriptionProto;
  topic: Topic | null;
  readonly engine: SubscriptionEngine;
  /** Sequence number of the first message this subscription could receive. */
  readonly firstSeq: number;
  push: PushController | null = null;

  constructor(proto: SubscriptionProto, topic: Topic | null, engine: SubscriptionEngine, firstSeq: number) {
    const parsed = parseName('subscriptions', proto.name);
    this.name = parsed.name;
    this.project = parsed.project;
    this.id = parsed.id;
    this.proto = proto;
    this.topic = topic;
    this.engine = engine;
    this.firstSeq = firstSeq;
  }

  get detached(): boolean {
    return Boolean(this.proto.detached);
  }

  get pushConfig(): PushConfigProto {
    return this.proto.push_config ?? {};
  }

  get retainAcked(): boolean {
    return Boolean(this.proto.retain_acked_messages);
  }

  get retentionMs(): number {
    return this.engine.settings.retentionMs;
  }
}

export interface Snapshot {
  name: string;
  project: string;
  topic: Topic | null;
  topicName: string;
  /** Unacked messages of the source subscription when the snapshot was taken. */
  messages: StoredMessage[];
  /** Messages published from this sequence number on are part of the snapshot too. */
  fromSeq: number;
  expireMs: number;
  labels: Record<string, string>;
}

export interface BrokerOptions {
  /** Creates the push worker of a push subscription. */
  createPush?: (subscription: Subscription) => PushController;
  /** Logs things worth knowing that are not errors of a request (dead letters lost, ...). */
  log?: (line: string) => void;
}

export class Broker {
  readonly topics = new Map<string, Topic>();
  readonly subscriptions = new Map<string, Subscription>();
  readonly snapshots = new Map<string, Snapshot>();
  /** Where publishes, acks and configuration changes are recorded (--data-dir); none by default. */
  journal: BrokerJournal | undefined;
  private readonly options: BrokerOptions;
  private readonly upkeep: NodeJS.Timeout;
  private closed = false;

  constructor(options: BrokerOptions = {}) {
    this.options = options;
    this.upkeep = setInterval(() => this.maintain(), 1000);
    this.upkeep.unref();
  }

  // Topics

  createTopic(input: TopicProto): TopicProto {
    const proto = normalizeTopic(input);
    if (this.topics.has(proto.name!)) throw alreadyExists(`Topic already exists: ${proto.name}`);
    const topic = new Topic(proto);
    this.topics.set(topic.name, topic);
    this.journal?.changed();
    return topic.proto;
  }

  topic(name: unknown): Topic {
    const parsed = parseName('topics', name);
    const topic = this.topics.get(parsed.name);
    if (!topic) throw notFound(`Topic not found: ${parsed.name}`);
    return topic;
  }

  updateTopic(patch: TopicProto | undefined, mask: FieldMask | undefined): TopicProto {
    const topic = this.topic(patch?.name);
    topic.proto = updateTopic(topic.proto, patch, mask);
    this.journal?.changed();
    return topic.proto;
  }

  deleteTopic(name: unknown): void {
    const topic = this.topic(name);
    this.topics.delete(topic.name);
    // Subscriptions stay, with their backlog; their topic becomes "_deleted-topic_".
    for (const sub of topic.subscriptions) {
      sub.topic = null;
      sub.proto = { ...sub.proto, topic: DELETED_TOPIC };
    }
    topic.subscriptions.clear();
    for (const snapshot of this.snapshots.values()) if (snapshot.topic === topic) snapshot.topic = null;
    topic.log = [];
    this.journal?.changed();
  }

  /** Publishes validated messages; returns their ids in request order. */
  publish(topicName: unknown, messages: PubsubMessageProto[] | undefined): string[] {
    const topic = this.topic(topicName);
    if (!Array.isArray(messages) || messages.length === 0) throw invalidArgument('No messages to publish.');
    if (messages.length > PublishLimits.messagesPerRequest) {
      throw invalidArgument(`Too many messages: at most ${PublishLimits.messagesPerRequest} per request.`);
    }
    const orderingKey = messages[0]?.ordering_key ?? '';
    let total = 0;
    const sizes: number[] = [];
    for (const message of messages) {
      const data = message.data ?? Buffer.alloc(0);
      const attributes = message.attributes ?? {};
      const key = message.ordering_key ?? '';
      if (key !== orderingKey) {
        throw invalidArgument('All messages in a PublishRequest must have the same ordering_key.');
      }
      if (Buffer.byteLength(key) > PublishLimits.orderingKeyBytes) {
        throw invalidArgument(`An ordering_key is larger than ${PublishLimits.orderingKeyBytes} bytes.`);
      }
      const attributeKeys = Object.keys(attributes);
      if (data.length === 0 && attributeKeys.length === 0) {
        throw invalidArgument('A message must have non-empty data or at least one attribute.');
      }
      if (attributeKeys.length > PublishLimits.attributes) {
        throw invalidArgument(`A message has more than ${PublishLimits.attributes} attributes.`);
      }
      for (const attributeKey of attributeKeys) {
        if (attributeKey.length === 0) throw invalidArgument('An attribute key is empty.');
        if (Buffer.byteLength(attributeKey) > PublishLimits.attributeKeyBytes) {
          throw invalidArgument(`An attribute key is larger than ${PublishLimits.attributeKeyBytes} bytes.`);
        }
        if (Buffer.byteLength(attributes[attributeKey]!) > PublishLimits.attributeValueBytes) {
          throw invalidArgument(
            `The value of attribute "${attributeKey}" is larger than ${PublishLimits.attributeValueBytes} bytes.`,
          );
        }
      }
      const size = messageSize(data, attributes, key);
      sizes.push(size);
      total += size;
    }
    if (total > PublishLimits.requestBytes) {
      throw invalidArgument(`The request is larger than ${PublishLimits.requestBytes} bytes.`);
    }

    const now = Date.now();
    const keepLog = this.needsLog(topic);
    const ids: string[] = new Array<string>(messages.length);
    const published: StoredMessage[] = new Array<StoredMessage>(messages.length);
    const subscriptions = [...topic.subscriptions];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      const stored = createStoredMessage(
        message.data ?? Buffer.alloc(0),
        message.attributes ?? {},
        orderingKey,
        now,
        sizes[i]!,
      );
      ids[i] = stored.id;
      published[i] = stored;
      if (keepLog) topic.append(stored);
      for (const sub of subscriptions) sub.engine.enqueue(stored);
    }
    // Recorded before the publisher gets the ids: a message it was told about survives a crash.
    this.journal?.published(topic.name, published);
    return ids;
  }

  // Subscriptions

  createSubscription(input: SubscriptionProto): SubscriptionProto {
    const proto = normalizeSubscription({ ...input, detached: false });
    if (this.subscriptions.has(proto.name!))
      throw alreadyExists(`Subscription already exists: ${proto.name}`);
    const topic = this.topics.get(proto.topic!);
    if (!topic) throw notFound(`Topic not found: ${proto.topic}`);
    this.checkDeadLetterTopic(proto);
    const sub = this.addSubscription(proto, topic, nextMessageSeq());
    this.refreshPush(sub);
    this.journal?.changed();
    return this.subscriptionProto(sub);
  }

  private addSubscription(proto: SubscriptionProto, topic: Topic | null, firstSeq: number): Subscription {
    const engine = new SubscriptionEngine(proto.name!, deliverySettings(proto), {
      deadLetter: (source, record) => this.deadLetter(source, record),
      resolved: (source, record) => this.journal?.resolved(source.name, record.message),
    });
    const sub = new Subscription(proto, topic, engine, firstSeq);
    this.subscriptions.set(sub.name, sub);
    topic?.subscriptions.add(sub);
    return sub;
  }

  subscription(name: unknown): Subscription {
    const parsed = parseName('subscriptions', name);
    const sub = this.subscriptions.get(parsed.name);
    if (!sub) throw notFound(`Subscription does not exist: ${parsed.name}`);
    return sub;
  }

  /** A subscription that can deliver: exists and is not detached. */
  activeSubscription(name: unknown): Subscription {
    const sub = this.subscription(name);
    if (sub.detached) throw failedPrecondition(`Subscription is detached: ${sub.name}`);
    return sub;
  }

  subscriptionProto(sub: Subscription): SubscriptionProto {
    const proto: SubscriptionProto = { ...sub.proto };
    const retention = sub.topic?.retentionMs ?? 0;
    if (retention > 0) proto.topic_message_retention_duration = msToDuration(retention);
    return proto;
  }

  updateSubscription(patch: SubscriptionProto | undefined, mask: FieldMask | undefined): SubscriptionProto {
    const sub = this.subscription(patch?.name);
    const merged = updateSubscriptionProto(sub.proto, patch, mask);
    const proto = normalizeSubscription(merged);
    this.checkDeadLetterTopic(proto);
    this.applySubscription(sub, proto);
    this.journal?.changed();
    return this.subscriptionProto(sub);
  }

  modifyPushConfig(name: unknown, pushConfig: PushConfigProto | undefined): void {
    const sub = this.subscription(name);
    this.applySubscription(sub, normalizeSubscription({ ...sub.proto, push_config: pushConfig ?? {} }));
    this.journal?.changed();
  }

  private applySubscription(sub: Subscription, proto: SubscriptionProto): void {
    sub.proto = proto;
    sub.engine.settings = deliverySettings(proto);
    sub.engine.schedulePump();
    this.refreshPush(sub);
  }

  private refreshPush(sub: Subscription): void {
    const wantsPush = Boolean(sub.pushConfig.push_endpoint) && !sub.detached && !sub.engine.isClosed;
    if (wantsPush) {
      if (!sub.push && this.options.createPush) sub.push = this.options.createPush(sub);
      sub.push?.update(sub);
    } else if (sub.push) {
      sub.push.stop();
      sub.push = null;
    }
  }

  private checkDeadLetterTopic(proto: SubscriptionProto): void {
    const topic = proto.dead_letter_policy?.dead_letter_topic;
    if (topic && !this.topics.has(topic)) throw notFound(`Dead letter topic not found: ${topic}`);
  }

  deleteSubscription(name: unknown): void {
    const sub = this.subscription(name);
    this.subscriptions.delete(sub.name);
    sub.topic?.subscriptions.delete(sub);
    sub.push?.stop();
    sub.push = null;
    sub.engine.close(Code.NOT_FOUND, `Subscription does not exist: ${sub.name}`);
    this.journal?.changed();
  }

  detachSubscription(name: unknown): void {
    const sub = this.subscription(name);
    if (sub.detached) return;
    sub.proto = { ...sub.proto, detached: true };
    sub.topic?.subscriptions.delete(sub);
    sub.push?.stop();
    sub.push = null;
    sub.engine.close(Code.FAILED_PRECONDITION, `Subscription is detached: ${sub.name}`);
    this.journal?.changed();
  }

  /** Publishes the dead-letter copy of `record` (pubsub.proto DeadLetterPolicy; handling-failures doc). */
  private deadLetter(source: SubscriptionEngine, record: MessageRecord): void {
    const sub = this.subscriptions.get(source.name);
    const topicName = source.settings.deadLetter?.topic;
    const topic = topicName ? this.topics.get(topicName) : undefined;
    if (!sub || !topic) {
      this.options.log?.(`dead-letter topic ${topicName} of ${source.name} is missing: message dropped`);
      return;
    }
    const original = record.message;
    const attributes: Record<string, string> = {
      ...original.attributes,
      CloudPubSubDeadLetterSourceDeliveryCount: String(record.failures),
      CloudPubSubDeadLetterSourceSubscription: sub.id,
      CloudPubSubDeadLetterSourceSubscriptionProject: sub.project,
      CloudPubSubDeadLetterSourceTopicPublishTime: new Date(original.publishMs).toISOString(),
    };
    const data = messageData(original);
    const size = messageSize(data, attributes, original.orderingKey);
    const copy = createStoredMessage(Buffer.from(data), attributes, original.orderingKey, Date.now(), size);
    if (this.needsLog(topic)) topic.append(copy);
    for (const target of topic.subscriptions) target.engine.enqueue(copy);
    this.journal?.published(topic.name, [copy]);
  }

  // Snapshots and seek

  createSnapshot(
    name: unknown,
    subscriptionName: unknown,
    labels: Record<string, string> = {},
  ): SnapshotProto {
    const parsed = parseName('snapshots', name);
    if (this.snapshots.has(parsed.name)) throw alreadyExists(`Snapshot already exists: ${parsed.name}`);
    const sub = this.subscription(subscriptionName);
    if (!sub.topic) throw failedPrecondition(`The topic of ${sub.name} was deleted.`);
    const messages = sub.engine.unackedMessages();
    const now = Date.now();
    const oldest = messages[0]?.publishMs ?? now;
    const expireMs = oldest + SNAPSHOT_LIFETIME_MS;
    if (expireMs < now + 60 * 60 * 1000) {
      throw failedPrecondition('The backlog is too old: the snapshot would expire in less than 1 hour.');
    }
    const snapshot: Snapshot = {
      name: parsed.name,
      project: parsed.project,
      topic: sub.topic,
      topicName: sub.topic.name,
      messages,
      fromSeq: nextMessageSeq(),
      expireMs,
      labels,
    };
    this.snapshots.set(snapshot.name, snapshot);
    return this.snapshotProto(snapshot);
  }

  snapshot(name: unknown): Snapshot {
    const parsed = parseName('snapshots', name);
    const snapshot = this.snapshots.get(parsed.name);
    if (!snapshot) throw notFound(`Snapshot does not exist: ${parsed.name}`);
    return snapshot;
  }

  snapshotProto(snapshot: Snapshot): SnapshotProto {
    const seconds = Math.floor(snapshot.expireMs / 1000);
    return {
      name: snapshot.name,
      topic: snapshot.topic ? snapshot.topicName : DELETED_TOPIC,
      expire_time: { seconds, nanos: (snapshot.expireMs - seconds * 1000) * 1e6 },
      labels: snapshot.labels,
    };
  }

  deleteSnapshot(name: unknown): void {
    const snapshot = this.snapshot(name);
    this.snapshots.delete(snapshot.name);
  }

  /** Seek to a time: retained messages published before it are acked, the rest unacked. */
  seekToTime(subscriptionName: unknown, timeMs: number): void {
    const sub = this.activeSubscription(subscriptionName);
    const now = Date.now();
    const chosen = new Map<number, StoredMessage>();
    for (const message of sub.engine.unackedMessages()) {
      if (message.publishMs >= timeMs) chosen.set(message.seq, message);
    }
    const topic = sub.topic;
    if (topic) {
      const topicRetention = topic.retentionMs;
      for (const message of topic.retained()) {
        if (message.publishMs < timeMs || chosen.has(message.seq)) continue;
        const byTopic = topicRetention > 0 && message.publishMs >= now - topicRetention;
        const bySubscription =
          sub.retainAcked && message.seq >= sub.firstSeq && message.publishMs >= now - sub.retentionMs;
        if (byTopic || bySubscription) chosen.set(message.seq, message);
      }
    }
    sub.engine.reset([...chosen.values()]);
    this.journal?.changed();
  }

  /** Seek to a snapshot: its unacked messages plus everything published since it was taken. */
  seekToSnapshot(subscriptionName: unknown, snapshotName: unknown): void {
    const sub = this.activeSubscription(subscriptionName);
    const snapshot = this.snapshot(snapshotName);
    if (!sub.topic || snapshot.topic !== sub.topic) {
      throw failedPrecondition(`Snapshot ${snapshot.name} is not on the topic of ${sub.name}.`);
    }
    const chosen = new Map<number, StoredMessage>();
    for (const message of snapshot.messages) chosen.set(message.seq, message);
    for (const message of sub.topic.retained())
      if (message.seq >= snapshot.fromSeq) chosen.set(message.seq, message);
    sub.engine.reset([...chosen.values()]);
    this.journal?.changed();
  }

  // Persistence (persistence.ts)

  /** What a checkpoint keeps: configurations and every subscription's backlog. */
  persistedState(): PersistedState {
    return {
      topics: [...this.topics.values()].map((topic) => topic.proto),
      subscriptions: [...this.subscriptions.values()].map((sub) => ({
        proto: sub.proto,
        firstSeq: sub.firstSeq,
        backlog: sub.engine.persistedBacklog(),
      })),
    };
  }

  /** Rebuilds topics and subscriptions with their backlogs from a data directory (before serving). */
  restore(state: PersistedState): void {
    for (const proto of state.topics) {
      const topic = new Topic(proto);
      this.topics.set(topic.name, topic);
    }
    for (const saved of state.subscriptions) {
      const topic = this.topics.get(saved.proto.topic!) ?? null;
      const sub = this.addSubscription(saved.proto, topic, saved.firstSeq);
      if (sub.detached) {
        topic?.subscriptions.delete(sub);
        sub.engine.close(Code.FAILED_PRECONDITION, `Subscription is detached: ${sub.name}`);
        continue;
      }
      for (const { message, failures } of saved.backlog) sub.engine.enqueue(message, failures);
      this.refreshPush(sub);
    }
  }

  // Upkeep

  private needsLog(topic: Topic): boolean {
    if (topic.retentionMs > 0) return true;
    for (const sub of topic.subscriptions) if (sub.retainAcked) return true;
    for (const snapshot of this.snapshots.values()) if (snapshot.topic === topic) return true;
    return false;
  }

  /** Retention, snapshot expiry, subscription expiration; runs every second. */
  maintain(now = Date.now()): void {
    if (this.closed) return;
    try {
      for (const [name, snapshot] of this.snapshots)
        if (snapshot.expireMs <= now) this.snapshots.delete(name);
      for (const topic of this.topics.values()) {
        const retention = topic.retentionMs;
        const retaining = [...topic.subscriptions].filter((sub) => sub.retainAcked);
        const snapshots = [...this.snapshots.values()].filter((snapshot) => snapshot.topic === topic);
        topic.prune(
          (message) =>
            (retention > 0 && message.publishMs >= now - retention) ||
            retaining.some(
              (sub) => message.seq >= sub.firstSeq && message.publishMs >= now - sub.retentionMs,
            ) ||
            snapshots.some((snapshot) => message.seq >= snapshot.fromSeq),
        );
      }
      for (const sub of [...this.subscriptions.values()]) {
        sub.engine.expireOlderThan(now - sub.retentionMs);
        const ttl = expirationTtlMs(sub.proto);
        if (ttl !== null && sub.engine.consumers.size === 0 && now - sub.engine.lastActivity > ttl) {
          this.options.log?.(`subscription ${sub.name} expired (no activity for its expiration_policy ttl)`);
          this.deleteSubscription(sub.name);
        }
      }
    } catch (error) {
      this.options.log?.(`upkeep failed: ${String(error)}`);
    }
  }

  // Lists

  listTopics(project: unknown): Topic[] {
    const id = parseProject(project);
    return sorted([...this.topics.values()].filter((topic) => topic.name.startsWith(`projects/${id}/`)));
  }

  listSubscriptions(project: unknown): Subscription[] {
    const id = parseProject(project);
    return sorted([...this.subscriptions.values()].filter((sub) => sub.project === id));
  }

  listSnapshots(project: unknown): Snapshot[] {
    const id = parseProject(project);
    return sorted([...this.snapshots.values()].filter((snapshot) => snapshot.project === id));
  }

  close(code: status, details: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.upkeep);
    for (const sub of this.subscriptions.values()) {
      sub.push?.stop();
      sub.push = null;
      sub.engine.close(code, details);
    }
  }
}

function sorted<T extends { name: string }>(items: T[]): T[] {
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
