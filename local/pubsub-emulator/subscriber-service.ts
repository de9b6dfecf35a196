/** google.pubsub.v1.Subscriber: subscriptions, Pull/StreamingPull, acks, snapshots and seek. */
import type { ServerDuplexStream, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Broker } from './broker.ts';
import { exactlyOnceAckError, invalidArgument, toStatus } from './errors.ts';
import { parseName } from './names.ts';
import { applyMask } from './resources.ts';
import { implementation, paginate } from './rpc.ts';
import { StreamSession, type StreamingPullOptions } from './streaming-pull.ts';
import type {
  FieldMask,
  PushConfigProto,
  SnapshotProto,
  StreamingPullRequestProto,
  SubscriptionProto,
  Timestamp,
} from './types.ts';
import { encodePullResponse } from './wire.ts';

export interface SubscriberServiceOptions extends StreamingPullOptions {
  /** How long a unary Pull without return_immediately waits for a message before answering empty. */
  pullWaitMs: number;
}

interface SubscriptionRequest {
  subscription?: string;
}

function timestampMs(timestamp: Timestamp | undefined): number {
  const ms = Number(timestamp?.seconds ?? 0) * 1000 + Number(timestamp?.nanos ?? 0) / 1e6;
  if (!Number.isFinite(ms)) throw invalidArgument('Invalid timestamp.');
  return ms;
}

function checkAckIds(ackIds: unknown): string[] {
  if (!Array.isArray(ackIds) || ackIds.length === 0) throw invalidArgument('No ack ids specified.');
  return ackIds as string[];
}

export function subscriberService(
  broker: Broker,
  options: SubscriberServiceOptions,
  sessions: Set<StreamSession>,
): UntypedServiceImplementation {
  const unaryHandlers = implementation({
    CreateSubscription: (request: SubscriptionProto) => broker.createSubscription(request),

    GetSubscription: (request: SubscriptionRequest) =>
      broker.subscriptionProto(broker.subscription(request.subscription)),

    UpdateSubscription: (request: { subscription?: SubscriptionProto; update_mask?: FieldMask }) =>
      broker.updateSubscription(request.subscription, request.update_mask),

    ListSubscriptions: (request: { project?: string; page_size?: number; page_token?: string }) => {
      const all = broker.listSubscriptions(request.project);
      const { page, nextPageToken } = paginate(all, (sub) => sub.name, request);
      return {
        subscriptions: page.map((sub) => broker.subscriptionProto(sub)),
        next_page_token: nextPageToken,
      };
    },

    DeleteSubscription: (request: SubscriptionRequest) => {
      broker.deleteSubscription(request.subscription);
      return {};
    },

    ModifyAckDeadline: (
      request: SubscriptionRequest & { ack_ids?: string[]; ack_deadline_seconds?: number },
    ) => {
      const sub = broker.activeSubscription(request.subscription);
      const ackIds = checkAckIds(request.ack_ids);
      const seconds = Number(request.ack_deadline_seconds ?? 0);
      if (!Number.isInteger(seconds) || seconds < 0)
        throw invalidArgument('Ack deadline cannot be negative.');
      if (seconds > 600) throw invalidArgument('Ack deadline cannot be more than 600 seconds.');
      const failures = sub.engine.modifyAckDeadline(ackIds, seconds);
      if (failures.size > 0) throw exactlyOnceAckError(failures);
      return {};
    },

    Acknowledge: (request: SubscriptionRequest & { ack_ids?: string[] }) => {
      const sub = broker.activeSubscription(request.subscription);
      const failures = sub.engine.acknowledge(checkAckIds(request.ack_ids));
      if (failures.size > 0) throw exactlyOnceAckError(failures);
      return {};
    },

    Pull: async (
      request: SubscriptionRequest & { max_messages?: number; return_immediately?: boolean },
      call: ServerUnaryCall<never, unknown>,
    ) => {
      const sub = broker.activeSubscription(request.subscription);
      const maxMessages = Number(request.max_messages ?? 0);
      if (!Number.isInteger(maxMessages) || maxMessages <= 0) {
        throw invalidArgument('max_messages must be a positive number.');
      }
      const aborted = new AbortController();
      call.once('cancelled', () => aborted.abort());
      const deadline = call.getDeadline();
      const untilDeadline =
        deadline instanceof Date || typeof deadline === 'number'
          ? Number(deadline) - Date.now() - 500
          : Infinity;
      const waitMs = Math.max(0, Math.min(options.pullWaitMs, untilDeadline));
      const records = await sub.engine.pull(
        maxMessages,
        Boolean(request.return_immediately),
        waitMs,
        aborted.signal,
      );
      return encodePullResponse(records.map((record) => sub.engine.toDelivery(record)));
    },

    ModifyPushConfig: (request: SubscriptionRequest & { push_config?: PushConfigProto }) => {
      broker.modifyPushConfig(request.subscription, request.push_config);
      return {};
    },

    GetSnapshot: (request: { snapshot?: string }) => broker.snapshotProto(broker.snapshot(request.snapshot)),

    ListSnapshots: (request: { project?: string; page_size?: number; page_token?: string }) => {
      const all = broker.listSnapshots(request.project);
      const { page, nextPageToken } = paginate(all, (snapshot) => snapshot.name, request);
      return {
        snapshots: page.map((snapshot) => broker.snapshotProto(snapshot)),
        next_page_token: nextPageToken,
      };
    },

    CreateSnapshot: (request: { name?: string; subscription?: string; labels?: Record<string, string> }) =>
      broker.createSnapshot(request.name, request.subscription, request.labels ?? {}),

    UpdateSnapshot: (request: { snapshot?: SnapshotProto; update_mask?: FieldMask }) => {
      const snapshot = broker.snapshot(request.snapshot?.name);
      const updated = applyMask(
        broker.snapshotProto(snapshot),
        request.snapshot,
        request.update_mask,
        new Set(['labels']),
        new Set(['name', 'topic', 'expire_time']),
        'snapshot',
      );
      snapshot.labels = updated.labels ?? {};
      return broker.snapshotProto(snapshot);
    },

    DeleteSnapshot: (request: { snapshot?: string }) => {
      broker.deleteSnapshot(request.snapshot);
      return {};
    },

    Seek: (request: SubscriptionRequest & { time?: Timestamp; snapshot?: string }) => {
      parseName('subscriptions', request.subscription);
      if (request.snapshot) broker.seekToSnapshot(request.subscription, request.snapshot);
      else if (request.time) broker.seekToTime(request.subscription, timestampMs(request.time));
      else throw invalidArgument('Seek needs a time or a snapshot.');
      return {};
    },
  });

  const streamingPull = (call: ServerDuplexStream<StreamingPullRequestProto, Buffer>) => {
    try {
      const session = new StreamSession(call, broker, options, (s) => sessions.delete(s));
      sessions.add(session);
    } catch (error) {
      call.emit('error', toStatus(error));
    }
  };

  return { ...unaryHandlers, StreamingPull: streamingPull };
}
