/**
 * Hand-written protobuf encoders for the hot paths and for google.rpc.Status.
 *
 * Every published message is encoded once as a google.pubsub.v1.PubsubMessage and those bytes are
 * reused for every delivery to every subscription; a Pull or StreamingPull response is then just
 * ack ids and delivery attempts around the cached bytes. Field numbers are those of
 * google/pubsub/v1/pubsub.proto and google/rpc/status.proto / error_details.proto.
 */

/** Bytes a varint of `value` (a non-negative integer below 2^53) takes. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(buffer: Buffer, pos: number, value: number): number {
  while (value >= 128) {
    buffer[pos++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  buffer[pos++] = value;
  return pos;
}

function writeBytesField(buffer: Buffer, pos: number, tag: number, bytes: Buffer): number {
  buffer[pos++] = tag;
  pos = writeVarint(buffer, pos, bytes.length);
  bytes.copy(buffer, pos);
  return pos + bytes.length;
}

function writeStringField(
  buffer: Buffer,
  pos: number,
  tag: number,
  value: string,
  byteLength: number,
): number {
  buffer[pos++] = tag;
  pos = writeVarint(buffer, pos, byteLength);
  buffer.write(value, pos, byteLength, 'utf8');
  return pos + byteLength;
}

const lengthDelimited = (length: number) => 1 + varintSize(length) + length;

export interface EncodedMessage {
  /** The PubsubMessage bytes. */
  bytes: Buffer;
  /** Where `data` sits inside `bytes`, so the data is not stored twice. */
  dataOffset: number;
}

/** Encodes a google.pubsub.v1.PubsubMessage with its server-assigned id and publish time. */
export function encodePubsubMessage(
  data: Buffer,
  attributes: Record<string, string>,
  messageId: string,
  publishMs: number,
  orderingKey: string,
): EncodedMessage {
  const seconds = Math.floor(publishMs / 1000);
  const nanos = (publishMs - seconds * 1000) * 1_000_000;
  const timestampSize = 1 + varintSize(seconds) + (nanos > 0 ? 1 + varintSize(nanos) : 0);
  const entries: [string, number, string, number, number][] = [];
  let size = data.length > 0 ? lengthDelimited(data.length) : 0;
  for (const key in attributes) {
    const value = attributes[key]!;
    const keyLength = Buffer.byteLength(key);
    const valueLength = Buffer.byteLength(value);
    const entrySize = lengthDelimited(keyLength) + (valueLength > 0 ? lengthDelimited(valueLength) : 0);
    entries.push([key, keyLength, value, valueLength, entrySize]);
    size += lengthDelimited(entrySize);
  }
  const idLength = Buffer.byteLength(messageId);
  const keyLength = Buffer.byteLength(orderingKey);
  size += lengthDelimited(idLength) + lengthDelimited(timestampSize);
  if (keyLength > 0) size += lengthDelimited(keyLength);

  const bytes = Buffer.allocUnsafe(size);
  let pos = 0;
  let dataOffset = 0;
  if (data.length > 0) {
    bytes[pos++] = 0x0a;
    pos = writeVarint(bytes, pos, data.length);
    dataOffset = pos;
    data.copy(bytes, pos);
    pos += data.length;
  }
  for (const [key, keyBytes, value, valueBytes, entrySize] of entries) {
    bytes[pos++] = 0x12;
    pos = writeVarint(bytes, pos, entrySize);
    pos = writeStringField(bytes, pos, 0x0a, key, keyBytes);
    if (valueBytes > 0) pos = writeStringField(bytes, pos, 0x12, value, valueBytes);
  }
  pos = writeStringField(bytes, pos, 0x1a, messageId, idLength);
  bytes[pos++] = 0x22;
  pos = writeVarint(bytes, pos, timestampSize);
  bytes[pos++] = 0x08;
  pos = writeVarint(bytes, pos, seconds);
  if (nanos > 0) {
    bytes[pos++] = 0x10;
    pos = writeVarint(bytes, pos, nanos);
  }
  if (keyLength > 0) writeStringField(bytes, pos, 0x2a, orderingKey, keyLength);
  return { bytes, dataOffset };
}

/** One google.pubsub.v1.ReceivedMessage: ack id, the cached message bytes, delivery attempt (0 = unset). */
export interface Delivery {
  ackId: string;
  message: Buffer;
  deliveryAttempt: number;
}

function receivedMessageSize(delivery: Delivery): number {
  return (
    lengthDelimited(delivery.ackId.length) +
    lengthDelimited(delivery.message.length) +
    (delivery.deliveryAttempt > 0 ? 1 + varintSize(delivery.deliveryAttempt) : 0)
  );
}

function writeReceivedMessage(buffer: Buffer, pos: number, delivery: Delivery, size: number): number {
  buffer[pos++] = 0x0a; // received_messages = 1
  pos = writeVarint(buffer, pos, size);
  pos = writeStringField(buffer, pos, 0x0a, delivery.ackId, delivery.ackId.length);
  pos = writeBytesField(buffer, pos, 0x12, delivery.message);
  if (delivery.deliveryAttempt > 0) {
    buffer[pos++] = 0x18;
    pos = writeVarint(buffer, pos, delivery.deliveryAttempt);
  }
  return pos;
}

function stringListSize(values: readonly string[]): number {
  let size = 0;
  for (const value of values) size += lengthDelimited(Buffer.byteLength(value));
  return size;
}

function writeStringList(buffer: Buffer, pos: number, tag: number, values: readonly string[]): number {
  for (const value of values) pos = writeStringField(buffer, pos, tag, value, Buffer.byteLength(value));
  return pos;
}

/** Bytes of a google.pubsub.v1.PullResponse. */
export function encodePullResponse(deliveries: readonly Delivery[]): Buffer {
  const sizes = deliveries.map(receivedMessageSize);
  const total = sizes.reduce((sum, size) => sum + lengthDelimited(size), 0);
  const buffer = Buffer.allocUnsafe(total);
  let pos = 0;
  deliveries.forEach((delivery, i) => (pos = writeReceivedMessage(buffer, pos, delivery, sizes[i]!)));
  return buffer;
}

export interface StreamingPullResponseParts {
  deliveries: readonly Delivery[];
  exactlyOnce: boolean;
  ordering: boolean;
  ackConfirmation?: { ackIds: readonly string[]; invalidAckIds: readonly string[] } | undefined;
  modackConfirmation?: { ackIds: readonly string[]; invalidAckIds: readonly string[] } | undefined;
}

/** Bytes of a google.pubsub.v1.StreamingPullResponse; subscription_properties is always present. */
export function encodeStreamingPullResponse(parts: StreamingPullResponseParts): Buffer {
  const sizes = parts.deliveries.map(receivedMessageSize);
  let total = sizes.reduce((sum, size) => sum + lengthDelimited(size), 0);
  const propertiesSize = (parts.exactlyOnce ? 2 : 0) + (parts.ordering ? 2 : 0);
  total += lengthDelimited(propertiesSize);
  const confirmationSize = (c: { ackIds: readonly string[]; invalidAckIds: readonly string[] }) =>
    stringListSize(c.ackIds) + stringListSize(c.invalidAckIds);
  const ackSize = parts.ackConfirmation ? confirmationSize(parts.ackConfirmation) : -1;
  const modackSize = parts.modackConfirmation ? confirmationSize(parts.modackConfirmation) : -1;
  if (ackSize >= 0) total += lengthDelimited(ackSize);
  if (modackSize >= 0) total += lengthDelimited(modackSize);

  const buffer = Buffer.allocUnsafe(total);
  let pos = 0;
  parts.deliveries.forEach((delivery, i) => (pos = writeReceivedMessage(buffer, pos, delivery, sizes[i]!)));
  if (parts.modackConfirmation && modackSize >= 0) {
    buffer[pos++] = 0x1a; // modify_ack_deadline_confirmation = 3
    pos = writeVarint(buffer, pos, modackSize);
    pos = writeStringList(buffer, pos, 0x0a, parts.modackConfirmation.ackIds);
    pos = writeStringList(buffer, pos, 0x12, parts.modackConfirmation.invalidAckIds);
  }
  buffer[pos++] = 0x22; // subscription_properties = 4
  pos = writeVarint(buffer, pos, propertiesSize);
  if (parts.exactlyOnce) {
    buffer[pos++] = 0x08;
    buffer[pos++] = 1;
  }
  if (parts.ordering) {
    buffer[pos++] = 0x10;
    buffer[pos++] = 1;
  }
  if (parts.ackConfirmation && ackSize >= 0) {
    buffer[pos++] = 0x2a; // acknowledge_confirmation = 5
    pos = writeVarint(buffer, pos, ackSize);
    pos = writeStringList(buffer, pos, 0x0a, parts.ackConfirmation.ackIds);
    pos = writeStringList(buffer, pos, 0x12, parts.ackConfirmation.invalidAckIds);
  }
  return buffer;
}

export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Map<string, string>;
}

/** Bytes of a google.rpc.Status whose only detail is a google.rpc.ErrorInfo packed in an Any. */
export function encodeRpcStatus(code: number, message: string, info: ErrorInfo): Buffer {
  const entrySizes: number[] = [];
  let infoSize =
    lengthDelimited(Buffer.byteLength(info.reason)) + lengthDelimited(Buffer.byteLength(info.domain));
  for (const [key, value] of info.metadata) {
    const entry = lengthDelimited(Buffer.byteLength(key)) + lengthDelimited(Buffer.byteLength(value));
    entrySizes.push(entry);
    infoSize += lengthDelimited(entry);
  }
  const typeUrl = 'type.googleapis.com/google.rpc.ErrorInfo';
  const anySize = lengthDelimited(typeUrl.length) + lengthDelimited(infoSize);
  const messageLength = Buffer.byteLength(message);
  const total = 1 + varintSize(code) + lengthDelimited(messageLength) + lengthDelimited(anySize);

  const buffer = Buffer.allocUnsafe(total);
  let pos = 0;
  buffer[pos++] = 0x08;
  pos = writeVarint(buffer, pos, code);
  pos = writeStringField(buffer, pos, 0x12, message, messageLength);
  buffer[pos++] = 0x1a; // details = 3 (google.protobuf.Any)
  pos = writeVarint(buffer, pos, anySize);
  pos = writeStringField(buffer, pos, 0x0a, typeUrl, typeUrl.length);
  buffer[pos++] = 0x12; // Any.value
  pos = writeVarint(buffer, pos, infoSize);
  pos = writeStringField(buffer, pos, 0x0a, info.reason, Buffer.byteLength(info.reason));
  pos = writeStringField(buffer, pos, 0x12, info.domain, Buffer.byteLength(info.domain));
  let i = 0;
  for (const [key, value] of info.metadata) {
    buffer[pos++] = 0x1a; // ErrorInfo.metadata = 3
    pos = writeVarint(buffer, pos, entrySizes[i++]!);
    pos = writeStringField(buffer, pos, 0x0a, key, Buffer.byteLength(key));
    pos = writeStringField(buffer, pos, 0x12, value, Buffer.byteLength(value));
  }
  return buffer;
}

/** A PublishRequest as the Publish handler reads it; `malformed` is set when the bytes are not one. */
export interface DecodedPublishRequest {
  topic?: string;
  messages: { data: Buffer; attributes: Record<string, string>; ordering_key: string }[];
  malformed?: string;
}

class Truncated extends Error {}

function readVarint(buffer: Buffer, pos: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new Truncated('truncated varint');
    const byte = buffer[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new Truncated('varint too long');
}

function skipField(buffer: Buffer, pos: number, end: number, wireType: number): number {
  switch (wireType) {
    case 0:
      return readVarint(buffer, pos, end)[1];
    case 1:
      pos += 8;
      break;
    case 2: {
      const [length, start] = readVarint(buffer, pos, end);
      pos = start + length;
      break;
    }
    case 5:
      pos += 4;
      break;
    default:
      throw new Truncated(`unsupported wire type ${wireType}`);
  }
  if (pos > end) throw new Truncated('truncated field');
  return pos;
}

function readLength(buffer: Buffer, pos: number, end: number): [number, number] {
  const [length, start] = readVarint(buffer, pos, end);
  if (start + length > end) throw new Truncated('truncated length-delimited field');
  return [start, start + length];
}

/**
 * Decodes a google.pubsub.v1.PublishRequest straight from the wire (the publish hot path; the
 * generic decoder builds each message twice). message_id and publish_time are skipped: the
 * server assigns them.
 */
export function decodePublishRequest(buffer: Buffer): DecodedPublishRequest {
  const request: DecodedPublishRequest = { messages: [] };
  try {
    let pos = 0;
    const end = buffer.length;
    while (pos < end) {
      const [tag, next] = readVarint(buffer, pos, end);
      pos = next;
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (field === 1 && wireType === 2) {
        const [start, stop] = readLength(buffer, pos, end);
        request.topic = buffer.toString('utf8', start, stop);
        pos = stop;
      } else if (field === 2 && wireType === 2) {
        const [start, stop] = readLength(buffer, pos, end);
        request.messages.push(decodePubsubMessage(buffer, start, stop));
        pos = stop;
      } else {
        pos = skipField(buffer, pos, end, wireType);
      }
    }
  } catch (error) {
    if (!(error instanceof Truncated)) throw error;
    request.malformed = error.message;
  }
  return request;
}

function decodePubsubMessage(buffer: Buffer, pos: number, end: number) {
  let data: Buffer = EMPTY;
  let orderingKey = '';
  const attributes: Record<string, string> = {};
  while (pos < end) {
    const [tag, next] = readVarint(buffer, pos, end);
    pos = next;
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType !== 2) {
      pos = skipField(buffer, pos, end, wireType);
      continue;
    }
    const [start, stop] = readLength(buffer, pos, end);
    pos = stop;
    if (field === 1) {
      data = buffer.subarray(start, stop);
    } else if (field === 2) {
      let key = '';
      let value = '';
      let p = start;
      while (p < stop) {
        const [entryTag, afterTag] = readVarint(buffer, p, stop);
        if ((entryTag & 7) !== 2) {
          p = skipField(buffer, afterTag, stop, entryTag & 7);
          continue;
        }
        const [s, e] = readLength(buffer, afterTag, stop);
        if (entryTag >>> 3 === 1) key = buffer.toString('utf8', s, e);
        else if (entryTag >>> 3 === 2) value = buffer.toString('utf8', s, e);
        p = e;
      }
      attributes[key] = value;
    } else if (field === 5) {
      orderingKey = buffer.toString('utf8', start, stop);
    }
  }
  return { data, attributes, ordering_key: orderingKey };
}

const EMPTY: Buffer = Buffer.alloc(0);
