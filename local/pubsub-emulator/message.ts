/** A published message as stored once and shared by every subscription, snapshot and retained log. */
import { encodePubsubMessage } from './wire.ts';

export interface StoredMessage {
  readonly id: string;
  /** Publish order across the emulator: ordering keys and seeks sort by it. */
  readonly seq: number;
  /** The encoded google.pubsub.v1.PubsubMessage, sent as is on every delivery. */
  readonly bytes: Buffer;
  readonly dataOffset: number;
  readonly dataLength: number;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string;
  readonly publishMs: number;
  /** Bytes counted against flow control: data, attribute keys and values, ordering key. */
  readonly size: number;
}

let nextSeq = 1;
// Ids look like the service's (decimal, 16 digits) and are unique across topics, which makes them
// unique within each topic as the API requires.
let nextId = 1_000_000_000_000_000 + Math.floor(Math.random() * 1_000_000_000_000_000);

/** The sequence number the next published message will get. */
export function nextMessageSeq(): number {
  return nextSeq;
}

export function createStoredMessage(
  data: Buffer,
  attributes: Record<string, string>,
  orderingKey: string,
  publishMs: number,
  size: number,
): StoredMessage {
  const id = String(nextId++);
  const { bytes, dataOffset } = encodePubsubMessage(data, attributes, id, publishMs, orderingKey);
  return {
    id,
    seq: nextSeq++,
    bytes,
    dataOffset,
    dataLength: data.length,
    attributes,
    orderingKey,
    publishMs,
    size,
  };
}

/**
 * A message read back from the data directory (persistence.ts), with its original id, sequence
 * number and publish time; later messages get higher sequence numbers and other ids.
 */
export function restoreStoredMessage(saved: {
  id: string;
  seq: number;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string;
  publishMs: number;
}): StoredMessage {
  const { data, attributes, orderingKey, publishMs } = saved;
  const { bytes, dataOffset } = encodePubsubMessage(data, attributes, saved.id, publishMs, orderingKey);
  nextSeq = Math.max(nextSeq, saved.seq + 1);
  const numericId = Number(saved.id);
  if (Number.isSafeInteger(numericId)) nextId = Math.max(nextId, numericId + 1);
  return {
    id: saved.id,
    seq: saved.seq,
    bytes,
    dataOffset,
    dataLength: data.length,
    attributes,
    orderingKey,
    publishMs,
    size: messageSize(data, attributes, orderingKey),
  };
}

export function messageData(message: StoredMessage): Buffer {
  return message.bytes.subarray(message.dataOffset, message.dataOffset + message.dataLength);
}

/** Bytes a message counts for limits and flow control. */
export function messageSize(data: Buffer, attributes: Record<string, string>, orderingKey: string): number {
  let size = data.length + Buffer.byteLength(orderingKey);
  for (const key in attributes) size += Buffer.byteLength(key) + Buffer.byteLength(attributes[key]!);
  return size;
}
