/**
 * One StreamingPull stream, as the Node client (and the others) use it: the first request opens it
 * (subscription, stream_ack_deadline_seconds, flow control), later requests carry keepalives
 * (`{}`), deadline changes and optionally in-stream acks and modacks. The server sends batches of
 * messages, each response carrying subscription_properties, and stops sending while the stream's
 * max_outstanding_messages / max_outstanding_bytes are reached or the client is not reading.
 *
 * Streams end only with a status a client retries (UNAVAILABLE on recycle and shutdown), unless
 * the request itself is wrong (INVALID_ARGUMENT), the subscription is gone (NOT_FOUND) or
 * detached (FAILED_PRECONDITION). Clients that set protocol_version ≥ 1 expect an answer to their
 * keepalives; they get an empty response.
 */
import type { status } from '@grpc/grpc-js';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Broker, Subscription } from './broker.ts';
import { Code, RpcError, invalidArgument, toStatus } from './errors.ts';
import type { Consumer, MessageRecord } from './subscription.ts';
import type { StreamingPullRequestProto } from './types.ts';
import { encodeStreamingPullResponse, type StreamingPullResponseParts } from './wire.ts';

export interface StreamingPullOptions {
  /** Ends every stream with UNAVAILABLE after this many ms (0 = never), to exercise reconnects. */
  streamRecycleMs: number;
}

type Call = ServerDuplexStream<StreamingPullRequestProto, Buffer>;

const MAX_RESPONSE_MESSAGES = 1000;
const BATCHING_THRESHOLD = 100;
const SPLIT_FROM = 256;
const SPLIT_HEAD = 32;

export class StreamSession implements Consumer {
  private readonly call: Call;
  private readonly broker: Broker;
  private readonly options: StreamingPullOptions;
  private readonly onClose: (session: StreamSession) => void;
  private subscription: Subscription | null = null;
  private state: 'opening' | 'open' | 'ended' = 'opening';
  private ackDeadlineSeconds = 10;
  private maxMessages = Infinity;
  private maxBytes = Infinity;
  private outstanding = 0;
  private outstandingBytes = 0;
  private protocolVersion = 0;
  private blocked = false;
  private recycleTimer: NodeJS.Timeout | undefined;

  constructor(
    call: Call,
    broker: Broker,
    options: StreamingPullOptions,
    onClose: (s: StreamSession) => void,
  ) {
    this.call = call;
    this.broker = broker;
    this.options = options;
    this.onClose = onClose;
    call.on('data', (request: StreamingPullRequestProto) => {
      try {
        this.onRequest(request);
      } catch (error) {
        const status = toStatus(error);
        this.end(status.code, status.details);
      }
    });
    call.on('end', () => this.end(Code.OK, 'client closed the stream'));
    call.on('cancelled', () => this.detach());
    call.on('close', () => this.detach());
    call.on('error', () => this.detach());
    call.on('drain', () => {
      this.blocked = false;
      this.subscription?.engine.schedulePump();
    });
  }

  private onRequest(request: StreamingPullRequestProto): void {
    if (this.state === 'ended') return;
    if (this.state === 'opening') {
      this.open(request);
    } else {
      if (request.subscription) {
        throw invalidArgument('subscription must only be set on the first request of a stream.');
      }
      if (request.max_outstanding_messages || request.max_outstanding_bytes || request.protocol_version) {
        throw invalidArgument(
          'max_outstanding_messages, max_outstanding_bytes and protocol_version can only be set on the first request.',
        );
      }
      if (request.stream_ack_deadline_seconds) this.ackDeadlineSeconds = streamDeadline(request);
    }
    const sub = this.subscription!;
    const ackIds = request.ack_ids ?? [];
    const modifyIds = request.modify_deadline_ack_ids ?? [];
    const modifySeconds = request.modify_deadline_seconds ?? [];
    if (modifyIds.length !== modifySeconds.length) {
      throw invalidArgument('modify_deadline_ack_ids and modify_deadline_seconds must have the same length.');
    }
    for (const seconds of modifySeconds) {
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 600) {
        throw invalidArgument(`Invalid modify_deadline_seconds ${seconds}: it must be 0-600.`);
      }
    }
    const exactlyOnce = sub.engine.settings.exactlyOnce;
    let ackConfirmation: StreamingPullResponseParts['ackConfirmation'];
    let modackConfirmation: StreamingPullResponseParts['modackConfirmation'];
    if (ackIds.length > 0) {
      const failed = sub.engine.acknowledge(ackIds);
      if (exactlyOnce) ackConfirmation = confirmation(ackIds, failed);
    }
    if (modifyIds.length > 0) {
      const bySeconds = new Map<number, string[]>();
      modifyIds.forEach((ackId, i) => {
        const seconds = modifySeconds[i]!;
        const group = bySeconds.get(seconds) ?? [];
        group.push(ackId);
        bySeconds.set(seconds, group);
      });
      const failed = new Map<string, string>();
      for (const [seconds, ids] of bySeconds) {
        for (const [id, code] of sub.engine.modifyAckDeadline(ids, seconds)) failed.set(id, code);
      }
      if (exactlyOnce) modackConfirmation = confirmation(modifyIds, failed);
    }
    const keepalive = ackIds.length === 0 && modifyIds.length === 0 && !request.stream_ack_deadline_seconds;
    if (ackConfirmation || modackConfirmation || (keepalive && this.protocolVersion >= 1)) {
      this.send({ deliveries: [], ...this.properties(), ackConfirmation, modackConfirmation });
    }
  }

  private open(request: StreamingPullRequestProto): void {
    if (!request.subscription) throw invalidArgument('The first request of a stream must set subscription.');
    if (!request.stream_ack_deadline_seconds) {
      throw invalidArgument('The first request of a stream must set stream_ack_deadline_seconds.');
    }
    this.ackDeadlineSeconds = streamDeadline(request);
    const sub = this.broker.activeSubscription(request.subscription);
    const maxMessages = Number(request.max_outstanding_messages ?? 0);
    const maxBytes = Number(request.max_outstanding_bytes ?? 0);
    this.maxMessages = maxMessages > 0 ? maxMessages : Infinity;
    this.maxBytes = maxBytes > 0 ? maxBytes : Infinity;
    this.protocolVersion = Number(request.protocol_version ?? 0);
    this.subscription = sub;
    this.state = 'open';
    sub.engine.consumers.add(this);
    sub.engine.lastActivity = Date.now();
    if (this.options.streamRecycleMs > 0) {
      this.recycleTimer = setTimeout(
        () => this.end(Code.UNAVAILABLE, 'The emulator recycled this stream (stream recycle setting).'),
        this.options.streamRecycleMs,
      );
      this.recycleTimer.unref();
    }
    sub.engine.schedulePump();
  }

  private properties() {
    const settings = this.subscription!.engine.settings;
    return { exactlyOnce: settings.exactlyOnce, ordering: settings.ordering };
  }

  private send(parts: StreamingPullResponseParts): void {
    if (this.state !== 'open') return;
    if (!this.call.write(encodeStreamingPullResponse(parts))) this.blocked = true;
  }

  /**
   * Sends one response of at most 1000 messages within the stream's flow control.
   *
   * With a large max_outstanding_messages (≥ 100) a response carries at most that limit - 1, and
   * while more is waiting than the stream has room for, the stream waits for room for a whole such
   * batch rather than trickling out small responses as single acks come back. The "- 1" matters
   * for the Node client: its own flow control pauses its streams once it holds >= maxMessages
   * (1000 by default, also what it sends as max_outstanding_messages) but finishes the response it
   * is reading; a response of exactly 1000 stops it after one response per ack round trip (its
   * acks are batched for 100 ms), one of 999 lets it take a second.
   */
  fill(): boolean {
    if (this.state !== 'open' || this.blocked) return false;
    const roomMessages = this.maxMessages - this.outstanding;
    const roomBytes = this.maxBytes - this.outstandingBytes;
    if (roomMessages <= 0 || roomBytes <= 0) return false;
    const engine = this.subscription!.engine;
    const idle = engine.leased === 0;
    let batch = Math.min(MAX_RESPONSE_MESSAGES, roomMessages);
    if (this.maxMessages >= BATCHING_THRESHOLD) {
      batch = Math.min(MAX_RESPONSE_MESSAGES, this.maxMessages - 1);
      if (roomMessages < batch && engine.availableEstimate() > roomMessages) return false;
    }
    const records = engine.take(
      Math.min(batch, roomMessages),
      roomBytes,
      this.ackDeadlineSeconds * 1000,
      this,
    );
    if (records.length === 0) return false;
    const deliveries = new Array<ReturnType<typeof engine.toDelivery>>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      this.outstanding++;
      this.outstandingBytes += record.message.size;
      deliveries[i] = engine.toDelivery(record);
    }
    // A subscriber with nothing in hand gets a large batch as a small response first: it starts
    // working (and its 100 ms ack batch timer starts) while the rest is still in transit.
    if (idle && deliveries.length >= SPLIT_FROM) {
      this.send({ deliveries: deliveries.slice(0, SPLIT_HEAD), ...this.properties() });
      this.send({ deliveries: deliveries.slice(SPLIT_HEAD), ...this.properties() });
    } else {
      this.send({ deliveries, ...this.properties() });
    }
    return true;
  }

  release(record: MessageRecord): void {
    this.outstanding--;
    this.outstandingBytes -= record.message.size;
  }

  /** Ends the stream with a status (OK ends it normally). Safe to call more than once. */
  end(code: status, details: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.detach();
    try {
      if (code === Code.OK) this.call.end();
      else this.call.emit('error', new RpcError(code, details));
    } catch {
      // the call is already gone
    }
  }

  private detach(): void {
    if (this.recycleTimer) clearTimeout(this.recycleTimer);
    this.recycleTimer = undefined;
    if (this.state !== 'ended') this.state = 'ended';
    this.subscription?.engine.consumers.delete(this);
    this.onClose(this);
  }
}

function streamDeadline(request: StreamingPullRequestProto): number {
  const seconds = Number(request.stream_ack_deadline_seconds);
  if (!Number.isInteger(seconds) || seconds < 10 || seconds > 600) {
    throw invalidArgument(`Invalid stream_ack_deadline_seconds ${seconds}: it must be 10-600.`);
  }
  return seconds;
}

function confirmation(ackIds: readonly string[], failed: Map<string, string>) {
  return {
    ackIds: ackIds.filter((id) => !failed.has(id)),
    invalidAckIds: ackIds.filter((id) => failed.has(id)),
  };
}
