/**
 * One subscription's backlog and its delivery rules: leases and ack deadlines, nacks, retry
 * backoff, dead-lettering, ordering keys, exactly-once ack ids, filters and retention.
 *
 * Every message a subscription holds is a {@link MessageRecord}. A record is available, delayed
 * (waiting out a retry backoff), outstanding (leased to a consumer until its deadline), acked
 * (only inside an ordering key's delivered window, where a later nack can bring it back) or gone.
 * Acked records are dropped at once, so an acking consumer keeps memory flat; what stays is the
 * unacked backlog, bounded by message_retention_duration.
 *
 * Ordering keys: each key is a queue with a cursor. The key delivers one batch at a time (the
 * messages from the cursor up to the consumer's room) and delivers nothing more until every
 * message of that batch is resolved. A nack or an expiry of a message moves the cursor back to it,
 * so it and every later message of the key are delivered again, including ones already acked
 * (https://cloud.google.com/pubsub/docs/ordering). A message that exhausts its delivery attempts
 * is dead-lettered and the key moves on.
 */
import type { status } from '@grpc/grpc-js';
import { Deque, TimerIndex, type Timed } from './collections.ts';
import { AckFailure, invalidArgument, RpcError } from './errors.ts';
import type { Filter } from './filter.ts';
import type { StoredMessage } from './message.ts';
import type { Delivery } from './wire.ts';

export const RecordState = { available: 0, delayed: 1, outstanding: 2, acked: 3, gone: 4 } as const;
export type RecordState = (typeof RecordState)[keyof typeof RecordState];

/** Something messages are leased to: a StreamingPull stream, a unary Pull, a push worker. */
export interface Consumer {
  /** Takes and sends what it has room for; true if it took anything. Called by the pump. */
  fill(): boolean;
  /** One of its messages stopped being outstanding (acked, nacked, expired or revoked). */
  release(record: MessageRecord): void;
  /** The subscription is deleted, detached or the server stops: end with this status. */
  end(code: status, details: string): void;
}

export class MessageRecord implements Timed {
  slot = -1;
  state: RecordState = RecordState.available;
  /** Bumped on every delivery and every revocation; part of the ack id, so old ack ids go stale. */
  gen = 0;
  /** Nacks plus deadline expiries. delivery_attempt = 1 + failures. */
  failures = 0;
  deadline = 0;
  /** In the subscription's ready queue (unkeyed records only). */
  queued = false;
  consumer: Consumer | null = null;
  readonly id: number;
  readonly message: StoredMessage;
  readonly key: KeyQueue | null;

  constructor(id: number, message: StoredMessage, key: KeyQueue | null) {
    this.id = id;
    this.message = message;
    this.key = key;
  }
}

/** The records of one ordering key in publish order; [head, cursor) is the delivered window. */
class KeyQueue {
  items: (MessageRecord | undefined)[] = [];
  head = 0;
  cursor = 0;
  outstanding = 0;
  queued = false;
  removed = false;
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }
}

export interface DeadLetterSettings {
  topic: string;
  maxDeliveryAttempts: number;
}

export interface RetrySettings {
  minimumMs: number;
  maximumMs: number;
}

/** The delivery-relevant part of a subscription's configuration. */
export interface DeliverySettings {
  ackDeadlineSeconds: number;
  retentionMs: number;
  ordering: boolean;
  exactlyOnce: boolean;
  filter: Filter;
  deadLetter: DeadLetterSettings | null;
  retry: RetrySettings | null;
}

export interface SubscriptionHooks {
  /** Publishes the dead-letter copy of a record whose attempts are exhausted. */
  deadLetter(subscription: SubscriptionEngine, record: MessageRecord): void;
  /** The subscription is done with a message for good: acked, dead-lettered or expired. */
  resolved?(subscription: SubscriptionEngine, record: MessageRecord): void;
}

interface PullWaiter {
  maxMessages: number;
  resolve(records: MessageRecord[]): void;
  reject(error: RpcError): void;
  timer: NodeJS.Timeout;
}

const ACK_ID = /^([0-9a-z]{1,12})-([0-9a-z]{1,12})-([0-9a-z]{1,12})$/;
const MAX_BATCH = 1000;
let nextIncarnation = 1;

/** A consumer for unary Pull: nothing to release, nothing to fill. */
const unaryPull: Consumer = { fill: () => false, release: () => {}, end: () => {} };

export class SubscriptionEngine {
  readonly name: string;
  settings: DeliverySettings;
  readonly consumers = new Set<Consumer>();
  /** Last time a consumer did something with the subscription (expiration policy). */
  lastActivity = Date.now();

  private readonly incarnation = (nextIncarnation++).toString(36);
  private readonly hooks: SubscriptionHooks;
  private readonly records = new Map<number, MessageRecord>();
  private readonly ready = new Deque<MessageRecord>();
  private readonly keys = new Map<string, KeyQueue>();
  private readonly readyKeys = new Deque<KeyQueue>();
  private readonly timers = new TimerIndex<MessageRecord>();
  private readonly waiters = new Set<PullWaiter>();
  private nextRecordId = 1;
  private leasedCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private pumpScheduled = false;
  private closed = false;
  private rotation = 0;

  constructor(name: string, settings: DeliverySettings, hooks: SubscriptionHooks) {
    this.name = name;
    this.settings = settings;
    this.hooks = hooks;
  }

  /** Messages leased to consumers right now. */
  get leased(): number {
    return this.leasedCount;
  }

  /** Messages held (unacked, or acked but still inside an ordering key's window). */
  get backlog(): number {
    return this.records.size;
  }

  /**
   * Adds a newly published message, unless the filter drops it (dropped messages count as acked).
   * `failures` is for a message restored from a data directory with its failed attempts.
   */
  enqueue(message: StoredMessage, failures = 0): void {
    if (this.closed || !this.settings.filter(message.attributes)) return;
    if (this.settings.ordering && message.orderingKey !== '') {
      let key = this.keys.get(message.orderingKey);
      if (!key) {
        key = new KeyQueue(message.orderingKey);
        this.keys.set(message.orderingKey, key);
      }
      const record = new MessageRecord(this.nextRecordId++, message, key);
      record.failures = failures;
      this.records.set(record.id, record);
      key.items.push(record);
      this.maybeReady(key);
    } else {
      const record = new MessageRecord(this.nextRecordId++, message, null);
      record.failures = failures;
      this.records.set(record.id, record);
      record.queued = true;
      this.ready.push(record);
    }
    this.schedulePump();
  }

  ackId(record: MessageRecord): string {
    return `${this.incarnation}-${record.id.toString(36)}-${record.gen.toString(36)}`;
  }

  toDelivery(record: MessageRecord): Delivery {
    return {
      ackId: this.ackId(record),
      message: record.message.bytes,
      deliveryAttempt: this.settings.deadLetter ? 1 + record.failures : 0,
    };
  }

  /**
   * Leases up to `maxMessages` / `maxBytes` (at least one message when any is available) to
   * `consumer` for `deadlineMs`. Ordering keys go first, one batch (of at most `perKeyLimit`)
   * per key.
   */
  take(
    maxMessages: number,
    maxBytes: number,
    deadlineMs: number,
    consumer: Consumer,
    perKeyLimit = Infinity,
  ): MessageRecord[] {
    const taken: MessageRecord[] = [];
    if (this.closed) return taken;
    const now = Date.now();
    const limit = Math.min(maxMessages, MAX_BATCH);
    let bytes = 0;
    const fits = (record: MessageRecord) =>
      taken.length < limit && (taken.length === 0 || bytes + record.message.size <= maxBytes);

    let keysLeft = this.readyKeys.length;
    while (keysLeft-- > 0 && taken.length < limit && bytes < maxBytes) {
      const key = this.readyKeys.shift()!;
      key.queued = false;
      if (key.removed || key.outstanding > 0) continue;
      let took = 0;
      while (key.cursor < key.items.length && took < perKeyLimit) {
        const record = key.items[key.cursor]!;
        if (record.state === RecordState.gone) {
          key.cursor++;
          continue;
        }
        if (record.state !== RecordState.available || !fits(record)) break;
        this.lease(record, now, deadlineMs, consumer);
        key.outstanding++;
        key.cursor++;
        taken.push(record);
        bytes += record.message.size;
        took++;
      }
      this.compact(key);
      if (took === 0) this.maybeReady(key);
    }

    while (taken.length < limit && bytes < maxBytes) {
      const record = this.ready.shift();
      if (!record) break;
      record.queued = false;
      if (record.state !== RecordState.available) continue;
      if (!fits(record)) {
        record.queued = true;
        this.ready.push(record);
        break;
      }
      this.lease(record, now, deadlineMs, consumer);
      taken.push(record);
      bytes += record.message.size;
    }
    if (taken.length > 0) {
      this.lastActivity = now;
      this.armTimer();
    }
    return taken;
  }

  /**
   * Acknowledges. Returns the ack ids that failed (exactly-once only: stale, expired or unknown
   * ids); on other subscriptions those are ignored. A malformed id is INVALID_ARGUMENT.
   */
  acknowledge(ackIds: readonly string[]): Map<string, string> {
    const failures = new Map<string, string>();
    const exactlyOnce = this.settings.exactlyOnce;
    const parsed = this.parseAckIds(ackIds, failures);
    for (const [ackId, record, gen] of parsed) {
      const current = record !== undefined && record.gen === gen;
      if (current && record.state === RecordState.outstanding) {
        this.ack(record);
      } else if (
        current &&
        !exactlyOnce &&
        record.key === null &&
        (record.state === RecordState.available || record.state === RecordState.delayed)
      ) {
        // Acked after its deadline but before being redelivered: the ack still counts.
        this.ack(record);
      } else if (exactlyOnce) {
        failures.set(ackId, AckFailure.invalid);
      }
    }
    this.lastActivity = Date.now();
    this.schedulePump();
    return failures;
  }

  /** ModifyAckDeadline; `seconds` is 0..600 (validated by the caller), 0 being a nack. */
  modifyAckDeadline(ackIds: readonly string[], seconds: number): Map<string, string> {
    const failures = new Map<string, string>();
    const now = Date.now();
    const parsed = this.parseAckIds(ackIds, failures);
    for (const [ackId, record, gen] of parsed) {
      if (record === undefined || record.gen !== gen || record.state !== RecordState.outstanding) {
        if (this.settings.exactlyOnce) failures.set(ackId, AckFailure.invalid);
        continue;
      }
      if (seconds === 0) {
        this.fail(record, now);
      } else {
        record.deadline = now + seconds * 1000;
        this.timers.schedule(record, record.deadline);
      }
    }
    this.lastActivity = now;
    this.armTimer();
    this.schedulePump();
    return failures;
  }

  /** The outcome of a push request for the delivery `gen` of `record`. */
  settlePush(record: MessageRecord, gen: number, acked: boolean): void {
    if (record.gen !== gen || record.state !== RecordState.outstanding) return;
    if (acked) this.ack(record);
    else this.fail(record, Date.now());
    this.armTimer();
    this.schedulePump();
  }

  /** Unary Pull: what is available now, else waits up to `waitMs` for something to arrive. */
  pull(
    maxMessages: number,
    returnImmediately: boolean,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<MessageRecord[]> {
    const deadlineMs = this.settings.ackDeadlineSeconds * 1000;
    const records = this.take(maxMessages, Infinity, deadlineMs, unaryPull);
    this.lastActivity = Date.now();
    if (records.length > 0 || returnImmediately || waitMs <= 0 || signal?.aborted) {
      return Promise.resolve(records);
    }
    return new Promise((resolve, reject) => {
      const finish = () => {
        this.waiters.delete(waiter);
        clearTimeout(waiter.timer);
        resolve([]);
      };
      const waiter: PullWaiter = {
        maxMessages,
        resolve: (taken) => {
          signal?.removeEventListener('abort', finish);
          resolve(taken);
        },
        reject,
        timer: setTimeout(finish, waitMs),
      };
      // A caller that went away (cancelled call) must not be handed messages it will never see.
      signal?.addEventListener('abort', finish, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Delivers pending work soon (once per event-loop turn, however many times it is asked). */
  schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.closed) return;
    try {
      for (const waiter of this.waiters) {
        if (!this.hasAvailable()) return;
        const records = this.take(
          waiter.maxMessages,
          Infinity,
          this.settings.ackDeadlineSeconds * 1000,
          unaryPull,
        );
        if (records.length === 0) continue;
        this.waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(records);
      }
      const consumers = [...this.consumers];
      if (consumers.length === 0) return;
      const start = this.rotation++ % consumers.length;
      let progress = true;
      while (progress && this.hasAvailable()) {
        progress = false;
        for (let i = 0; i < consumers.length; i++) {
          if (consumers[(start + i) % consumers.length]!.fill()) progress = true;
          if (!this.hasAvailable()) break;
        }
      }
    } catch (error) {
      console.error(`pubsub emulator: delivery on ${this.name} failed:`, error);
    }
  }

  private hasAvailable(): boolean {
    return this.ready.length > 0 || this.readyKeys.length > 0;
  }

  /** Roughly how many messages could be taken now (an ordering key counts as unbounded). */
  availableEstimate(): number {
    return this.readyKeys.length > 0 ? Infinity : this.ready.length;
  }

  private lease(record: MessageRecord, now: number, deadlineMs: number, consumer: Consumer): void {
    record.state = RecordState.outstanding;
    record.gen++;
    this.leasedCount++;
    record.consumer = consumer;
    record.deadline = now + deadlineMs;
    this.timers.schedule(record, record.deadline);
  }

  private parseAckIds(
    ackIds: readonly string[],
    failures: Map<string, string>,
  ): [string, MessageRecord | undefined, number][] {
    const parsed: [string, MessageRecord | undefined, number][] = [];
    for (const ackId of ackIds) {
      const match = typeof ackId === 'string' ? ACK_ID.exec(ackId) : null;
      if (!match) {
        if (!this.settings.exactlyOnce) throw invalidArgument(`Invalid ack id: "${String(ackId)}".`);
        failures.set(String(ackId), AckFailure.invalid);
        continue;
      }
      const record = match[1] === this.incarnation ? this.records.get(parseInt(match[2]!, 36)) : undefined;
      parsed.push([ackId, record, parseInt(match[3]!, 36)]);
    }
    return parsed;
  }

  /** Called exactly once when an outstanding record stops being outstanding. */
  private release(record: MessageRecord): void {
    this.leasedCount--;
    const consumer = record.consumer;
    record.consumer = null;
    if (consumer) consumer.release(record);
  }

  private ack(record: MessageRecord): void {
    const wasOutstanding = record.state === RecordState.outstanding;
    this.timers.cancel(record);
    if (wasOutstanding) this.release(record);
    const key = record.key;
    if (key) {
      record.state = RecordState.acked;
      if (wasOutstanding) key.outstanding--;
      this.compact(key);
      this.maybeReady(key);
    } else {
      record.state = RecordState.gone;
      this.records.delete(record.id);
      this.hooks.resolved?.(this, record);
    }
  }

  /** A nack or an expiry: count it, then dead-letter, back off or make it available again. */
  private fail(record: MessageRecord, now: number): void {
    this.timers.cancel(record);
    this.release(record);
    record.failures++;
    record.state = RecordState.available;
    const key = record.key;
    if (key) key.outstanding--;
    const deadLetter = this.settings.deadLetter;
    if (deadLetter && record.failures >= deadLetter.maxDeliveryAttempts) {
      try {
        this.hooks.deadLetter(this, record);
      } finally {
        this.remove(record);
      }
      return;
    }
    if (key) this.rewind(key, record);
    const retry = this.settings.retry;
    const delay = retry ? Math.min(retry.maximumMs, retry.minimumMs * 2 ** (record.failures - 1)) : 0;
    if (delay > 0) {
      record.state = RecordState.delayed;
      this.timers.schedule(record, now + delay);
    } else {
      record.state = RecordState.available;
      if (!key && !record.queued) {
        record.queued = true;
        this.ready.push(record);
      }
    }
    if (key) this.maybeReady(key);
  }

  /** Moves a key's cursor back to `record`: it and every later delivered message come again. */
  private rewind(key: KeyQueue, record: MessageRecord): void {
    let index = -1;
    for (let i = key.head; i < key.cursor; i++) {
      if (key.items[i] === record) {
        index = i;
        break;
      }
    }
    if (index < 0) return;
    for (let i = index + 1; i < key.cursor; i++) {
      const later = key.items[i]!;
      if (later.state === RecordState.outstanding) {
        this.timers.cancel(later);
        this.release(later);
        key.outstanding--;
        later.gen++; // the lease is revoked: its ack id no longer counts
        later.state = RecordState.available;
      } else if (later.state === RecordState.acked) {
        later.state = RecordState.available;
      }
    }
    key.cursor = index;
  }

  /** Takes a record out of the subscription for good (dead-lettered, expired by retention). */
  private remove(record: MessageRecord): void {
    if (record.state === RecordState.gone) return;
    this.timers.cancel(record);
    const key = record.key;
    if (record.state === RecordState.outstanding) {
      this.release(record);
      if (key) key.outstanding--;
    }
    record.state = RecordState.gone;
    this.records.delete(record.id);
    this.hooks.resolved?.(this, record);
    if (key) {
      this.compact(key);
      this.maybeReady(key);
    }
  }

  /** Drops the resolved records at the head of a key's window; forgets an empty key. */
  private compact(key: KeyQueue): void {
    while (key.head < key.cursor) {
      const record = key.items[key.head]!;
      if (record.state === RecordState.acked) {
        record.state = RecordState.gone;
        this.records.delete(record.id);
        this.hooks.resolved?.(this, record);
      } else if (record.state !== RecordState.gone) {
        break;
      }
      key.items[key.head++] = undefined;
    }
    if (key.head === key.items.length && key.outstanding === 0) {
      key.removed = true;
      this.keys.delete(key.name);
      return;
    }
    if (key.head > 256 && key.head * 2 > key.items.length) {
      key.items = key.items.slice(key.head);
      key.cursor -= key.head;
      key.head = 0;
    }
  }

  private maybeReady(key: KeyQueue): void {
    if (key.queued || key.removed || key.outstanding > 0) return;
    while (key.cursor < key.items.length && key.items[key.cursor]!.state === RecordState.gone) key.cursor++;
    const next = key.items[key.cursor];
    if (!next || next.state !== RecordState.available) return;
    key.queued = true;
    this.readyKeys.push(key);
    this.schedulePump();
  }

  private armTimer(): void {
    const due = this.timers.nextDue();
    if (due === undefined || this.closed) return;
    if (this.timer && this.timerAt <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, due - Date.now()));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    try {
      const now = Date.now();
      for (const record of this.timers.takeDue(now)) {
        if (record.state === RecordState.outstanding) {
          this.fail(record, now);
        } else if (record.state === RecordState.delayed) {
          record.state = RecordState.available;
          if (record.key) {
            this.maybeReady(record.key);
          } else if (!record.queued) {
            record.queued = true;
            this.ready.push(record);
          }
        }
      }
      this.schedulePump();
    } catch (error) {
      console.error(`pubsub emulator: deadline sweep on ${this.name} failed:`, error);
    } finally {
      this.armTimer();
    }
  }

  /** Drops unacked messages published before `cutoffMs` (message_retention_duration). */
  expireOlderThan(cutoffMs: number): void {
    for (const record of this.records.values()) {
      if (record.message.publishMs >= cutoffMs) break;
      this.remove(record);
    }
  }

  /**
   * Publish time (epoch ms) of the oldest message not yet acknowledged, or undefined when none is:
   * what Cloud Monitoring reports as subscription/oldest_unacked_message_age, in time form. Records
   * are kept in publish order, so this stops at the first one still open.
   */
  oldestUnackedPublishMs(): number | undefined {
    for (const record of this.records.values()) {
      if (record.state !== RecordState.acked && record.state !== RecordState.gone)
        return record.message.publishMs;
    }
    return undefined;
  }

  /** Unacked messages in publish order, for snapshots. */
  unackedMessages(): StoredMessage[] {
    const messages: StoredMessage[] = [];
    for (const record of this.records.values()) {
      if (record.state !== RecordState.acked && record.state !== RecordState.gone)
        messages.push(record.message);
    }
    return messages.sort((a, b) => a.seq - b.seq);
  }

  /**
   * What a checkpoint keeps: every message not yet done with (unacked, leased, or acked inside an
   * ordering key's open batch, which a nack could still bring back), in publish order.
   */
  persistedBacklog(): { message: StoredMessage; failures: number }[] {
    const backlog: { message: StoredMessage; failures: number }[] = [];
    for (const record of this.records.values()) {
      if (record.state !== RecordState.gone)
        backlog.push({ message: record.message, failures: record.failures });
    }
    return backlog.sort((a, b) => a.message.seq - b.message.seq);
  }

  /** Replaces the backlog (Seek): outstanding leases are revoked, `messages` become unacked. */
  reset(messages: readonly StoredMessage[]): void {
    for (const record of this.records.values()) {
      if (record.state === RecordState.outstanding) this.release(record);
      record.state = RecordState.gone;
    }
    this.records.clear();
    this.ready.clear();
    this.keys.clear();
    this.readyKeys.clear();
    this.timers.clear();
    this.leasedCount = 0;
    for (const message of [...messages].sort((a, b) => a.seq - b.seq)) this.enqueue(message);
    this.schedulePump();
  }

  /** Deleted, detached or shutting down: ends every consumer and pending Pull with this status. */
  close(code: status, details: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timers.clear();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new RpcError(code, details));
    }
    this.waiters.clear();
    for (const consumer of [...this.consumers]) consumer.end(code, details);
    this.consumers.clear();
    this.records.clear();
    this.ready.clear();
    this.keys.clear();
    this.readyKeys.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
