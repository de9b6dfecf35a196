/**
 * Optional persistence (`--data-dir`): topics, subscriptions and every message a subscription has
 * not yet acknowledged survive a restart of the emulator, also a crash (SIGKILL).
 *
 * Two files in the directory:
 * - `state.json`, a checkpoint: topic and subscription configurations, each subscription's backlog
 *   (message sequence numbers with their failed delivery attempts) and those messages, written to
 *   a temporary file and renamed over the old one;
 * - `journal.ndjson`, what happened since: one line per Publish request (`p`: topic and messages,
 *   dead-letter copies included) and lines naming the messages subscriptions are done with (`g`:
 *   acked, dead-lettered or expired). The journal starts with the checkpoint's generation, so a
 *   journal left from before a checkpoint is never applied on top of it.
 *
 * A publish is written to the journal (write(2), no fsync: it survives the process, not the
 * machine) before the emulator answers, so a message whose id a client received is never lost.
 * "Done" lines are buffered for one event-loop turn; losing them in a crash only means a redelivery,
 * which at-least-once consumers handle. A change of configuration (create, update, delete, detach,
 * seek) writes a checkpoint at once, and so does a journal grown past `checkpointBytes`, and stop.
 *
 * Not kept: Pub/Sub snapshots, the topic logs kept for seek (retention, retain_acked_messages),
 * schemas, IAM policies, leases (an outstanding message is delivered again after a restart, with
 * its delivery attempt count as of the last checkpoint).
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { messageData, restoreStoredMessage, type StoredMessage } from './message.ts';
import type { SubscriptionProto, TopicProto } from './types.ts';

const STATE_FILE = 'state.json';
const JOURNAL_FILE = 'journal.ndjson';
const KEY_FILE = 'oidc-key.pem';
const FORMAT = 1;

/** What the broker tells the journal. */
export interface BrokerJournal {
  /** Messages were published to `topic` (before the publisher is answered). */
  published(topic: string, messages: readonly StoredMessage[]): void;
  /** `subscription` is done with `message` (acked, dead-lettered, expired). */
  resolved(subscription: string, message: StoredMessage): void;
  /** The configuration changed: write a checkpoint now. */
  changed(): void;
}

/** The state a checkpoint holds, as the broker hands it over and gets it back. */
export interface PersistedState {
  topics: TopicProto[];
  subscriptions: PersistedSubscription[];
}

export interface PersistedSubscription {
  proto: SubscriptionProto;
  firstSeq: number;
  /** Unacked messages in publish order, with their failed delivery attempts. */
  backlog: { message: StoredMessage; failures: number }[];
}

interface MessageJson {
  seq: number;
  id: string;
  data: string;
  attributes: Record<string, string>;
  orderingKey: string;
  publishMs: number;
}

interface StateJson {
  format: number;
  generation: number;
  savedAt: string;
  topics: TopicProto[];
  subscriptions: { proto: SubscriptionProto; firstSeq: number; backlog: [seq: number, failures: number][] }[];
  messages: MessageJson[];
}

type JournalLine =
  | { t: 'h'; generation: number }
  | { t: 'p'; topic: string; m: MessageJson[] }
  | { t: 'g'; s: Record<string, number[]> };

export interface PersistenceOptions {
  dir: string;
  /** A checkpoint is written once the journal holds this many bytes. Default 16 MiB. */
  checkpointBytes?: number;
  log?: (line: string) => void;
}

export interface Persistence extends BrokerJournal {
  /** What the directory held at start (undefined: nothing yet). */
  readonly restored: PersistedState | undefined;
  /** Where the broker's state comes from for checkpoints. */
  attach(source: () => PersistedState): void;
  /** Writes a checkpoint now and empties the journal. */
  checkpoint(): void;
  /** A final checkpoint; nothing is written after it. */
  close(): void;
}

/** Opens (creating if needed) a data directory and reads what it holds. */
export function openPersistence(options: PersistenceOptions): Persistence {
  const log = options.log ?? (() => {});
  const checkpointBytes = options.checkpointBytes ?? 16 * 1024 * 1024;
  mkdirSync(options.dir, { recursive: true });
  const statePath = path.join(options.dir, STATE_FILE);
  const journalPath = path.join(options.dir, JOURNAL_FILE);

  const loaded = load(statePath, journalPath, log);
  let generation = loaded.generation;
  let source: (() => PersistedState) | undefined;
  let fd: number | undefined;
  let journalBytes = 0;
  let pending: Record<string, number[]> = {};
  let pendingCount = 0;
  let flushScheduled = false;
  let closed = false;

  const append = (line: JournalLine) => {
    if (fd === undefined) return;
    const text = `${JSON.stringify(line)}\n`;
    journalBytes += writeSync(fd, text);
  };
  const flushResolved = () => {
    flushScheduled = false;
    if (pendingCount === 0 || closed) return;
    const lines = pending;
    pending = {};
    pendingCount = 0;
    append({ t: 'g', s: lines });
  };

  const checkpoint = () => {
    if (closed || !source) return;
    const state = source();
    generation++;
    const json = toStateJson(state, generation);
    const temporary = `${statePath}.${process.pid}.tmp`;
    writeFileSync(temporary, json);
    renameSync(temporary, statePath);
    // Whatever was pending is in the checkpoint: the journal starts afresh.
    pending = {};
    pendingCount = 0;
    fd ??= openSync(journalPath, 'a');
    ftruncateSync(fd);
    journalBytes = 0;
    append({ t: 'h', generation });
  };

  const persistence: Persistence = {
    restored: loaded.state,
    attach(next) {
      source = next;
      // Start from a checkpoint of what was restored, so the journal applies to it.
      checkpoint();
    },
    published(topic, messages) {
      if (closed || fd === undefined) return;
      flushResolved();
      append({ t: 'p', topic, m: messages.map(messageJson) });
      if (journalBytes > checkpointBytes) checkpoint();
    },
    resolved(subscription, message) {
      if (closed || fd === undefined) return;
      (pending[subscription] ??= []).push(message.seq);
      pendingCount++;
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushResolved);
      }
    },
    changed: checkpoint,
    checkpoint,
    close() {
      if (closed) return;
      checkpoint();
      closed = true;
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
  return persistence;
}

/** A persistent OIDC signing key in the data directory: push tokens stay verifiable across restarts. */
export function persistentSigningKey(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, KEY_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(file, pem, { mode: 0o600 });
  return pem;
}

function messageJson(message: StoredMessage): MessageJson {
  return {
    seq: message.seq,
    id: message.id,
    data: messageData(message).toString('base64'),
    attributes: { ...message.attributes },
    orderingKey: message.orderingKey,
    publishMs: message.publishMs,
  };
}

function toStateJson(state: PersistedState, generation: number): string {
  const messages = new Map<number, MessageJson>();
  const subscriptions = state.subscriptions.map((sub) => ({
    proto: sub.proto,
    firstSeq: sub.firstSeq,
    backlog: sub.backlog.map(({ message, failures }): [number, number] => {
      if (!messages.has(message.seq)) messages.set(message.seq, messageJson(message));
      return [message.seq, failures];
    }),
  }));
  const json: StateJson = {
    format: FORMAT,
    generation,
    savedAt: new Date().toISOString(),
    topics: state.topics,
    subscriptions,
    messages: [...messages.values()].sort((a, b) => a.seq - b.seq),
  };
  return JSON.stringify(json);
}

/** Reads the checkpoint and applies the journal written after it. */
function load(
  statePath: string,
  journalPath: string,
  log: (line: string) => void,
): { state: PersistedState | undefined; generation: number } {
  if (!existsSync(statePath)) return { state: undefined, generation: 0 };
  const saved = JSON.parse(readFileSync(statePath, 'utf8')) as StateJson;
  if (saved.format !== FORMAT) throw new Error(`${statePath}: unknown format ${saved.format}`);

  const messages = new Map<number, MessageJson>(saved.messages.map((m) => [m.seq, m]));
  const backlogs = new Map<string, Map<number, number>>();
  const byTopic = new Map<string, string[]>();
  for (const sub of saved.subscriptions) {
    backlogs.set(sub.proto.name!, new Map(sub.backlog));
    if (sub.proto.detached) continue;
    const names = byTopic.get(sub.proto.topic!) ?? [];
    names.push(sub.proto.name!);
    byTopic.set(sub.proto.topic!, names);
  }

  let replayed = 0;
  const journal = existsSync(journalPath) ? readFileSync(journalPath, 'utf8') : '';
  const lines = journal.split('\n');
  let current = false;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (!text) continue;
    let line: JournalLine;
    try {
      line = JSON.parse(text) as JournalLine;
    } catch {
      // A line cut short by a crash can only be the last one written.
      log(`journal line ${i + 1} of ${lines.length} is incomplete: ignored with what follows`);
      break;
    }
    if (line.t === 'h') {
      current = line.generation === saved.generation;
      if (!current) break; // a journal from before this checkpoint: already in it
      continue;
    }
    if (!current) break;
    replayed++;
    if (line.t === 'p') {
      for (const message of line.m) {
        messages.set(message.seq, message);
        for (const name of byTopic.get(line.topic) ?? []) backlogs.get(name)!.set(message.seq, 0);
      }
    } else {
      for (const [name, seqs] of Object.entries(line.s)) {
        const backlog = backlogs.get(name);
        if (backlog) for (const seq of seqs) backlog.delete(seq);
      }
    }
  }

  const stored = new Map<number, StoredMessage>();
  const storedOf = (seq: number): StoredMessage | undefined => {
    const known = stored.get(seq);
    if (known) return known;
    const json = messages.get(seq);
    if (!json) return undefined;
    const message = restoreStoredMessage({
      id: json.id,
      seq: json.seq,
      data: Buffer.from(json.data, 'base64'),
      attributes: json.attributes,
      orderingKey: json.orderingKey,
      publishMs: json.publishMs,
    });
    stored.set(seq, message);
    return message;
  };
  const state: PersistedState = {
    topics: saved.topics,
    subscriptions: saved.subscriptions.map((sub) => ({
      proto: sub.proto,
      firstSeq: sub.firstSeq,
      backlog: [...backlogs.get(sub.proto.name!)!]
        .sort(([a], [b]) => a - b)
        .flatMap(([seq, failures]) => {
          const message = storedOf(seq);
          return message ? [{ message, failures }] : [];
        }),
    })),
  };
  const held = state.subscriptions.reduce((sum, sub) => sum + sub.backlog.length, 0);
  log(
    `restored ${state.topics.length} topics, ${state.subscriptions.length} subscriptions and ` +
      `${held} unacked deliveries from ${path.dirname(statePath)} (checkpoint of ${saved.savedAt}, ` +
      `${replayed} journal entries after it)`,
  );
  return { state, generation: saved.generation };
}
