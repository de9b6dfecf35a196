/**
 * The topics, subscriptions and BigQuery names of Conveyor, written once. infra/ provisions exactly
 * these; the local launcher creates exactly these on the emulators; code publishes and consumes by
 * these names. A consuming function, its push subscription and its infra id share one name.
 */
import { ATTRIBUTE } from './envelope.ts';

export const TOPIC = {
  /** Every domain event; ordering key = order id. Retained so history can be re-read by seek. */
  orderEvents: 'order-events',
  /** Outside producers publish here (contract: shared/contracts/inbound.ts). */
  inboundEvents: 'inbound-events',
  /** Dead-letter policy target of every consumer subscription. */
  deadLetters: 'dead-letters',
  /** Where dead letters go that the dead-letter function itself could not store. */
  deadLettersParked: 'dead-letters-parked',
  /** Cloud Scheduler ticks: approval deadlines, outbox sweep. */
  ticks: 'ticks',
  /** Replayed history, addressed to one consumer by attribute (see REPLAY_CONSUMER_ATTRIBUTE). */
  replays: 'replays',
} as const;
export type TopicName = (typeof TOPIC)[keyof typeof TOPIC];

export interface TopicSpec {
  name: TopicName;
  /** Messages published with an ordering key are delivered in order per key where subscribed so. */
  orderingKey?: string;
  /** How long the topic keeps messages (seek/replay), in seconds. */
  retentionSeconds?: number;
}

const DAY = 86_400;

export const TOPICS: readonly TopicSpec[] = [
  { name: TOPIC.orderEvents, orderingKey: 'order id', retentionSeconds: 7 * DAY },
  { name: TOPIC.inboundEvents, orderingKey: 'producer-chosen', retentionSeconds: 1 * DAY },
  { name: TOPIC.deadLetters, retentionSeconds: 7 * DAY },
  { name: TOPIC.deadLettersParked, retentionSeconds: 7 * DAY },
  { name: TOPIC.ticks },
  { name: TOPIC.replays, orderingKey: 'order id' },
];

/** The consuming Cloud Functions; each folder under functions/ has one of these names. */
export const FUNCTION = {
  saga: 'saga',
  analytics: 'analytics',
  notifier: 'notifier',
  ingest: 'ingest',
  deadLetter: 'dead-letter',
  timeouts: 'timeouts',
} as const;
export type FunctionName = (typeof FUNCTION)[keyof typeof FUNCTION];

export interface RetryPolicy {
  minimumBackoffSeconds: number;
  maximumBackoffSeconds: number;
}

export interface SubscriptionSpec {
  /** Subscription name: the function's name, or `<function>-replay` for its replay feed. */
  name: string;
  topic: TopicName;
  /** Push target; absent for a pull subscription. */
  pushTo?: FunctionName;
  /** Deliver messages with one ordering key in order (immutable after creation). */
  ordering: boolean;
  ackDeadlineSeconds: number;
  /** Attribute filter in Pub/Sub's filter syntax (immutable after creation). */
  filter?: string;
  deadLetter: { topic: TopicName; maxDeliveryAttempts: number } | { exempt: string };
  /** Production backoff between redeliveries. */
  retry: RetryPolicy;
  /** The same, shortened for the local stack and tests. */
  localRetry: RetryPolicy;
  retentionSeconds?: number;
}

/** Production redelivery backoff of DESIGN.md, and a shorter one for local runs. */
const RETRY: RetryPolicy = { minimumBackoffSeconds: 10, maximumBackoffSeconds: 600 };
const LOCAL_RETRY: RetryPolicy = { minimumBackoffSeconds: 1, maximumBackoffSeconds: 10 };

/** Attribute that addresses a replayed message to one consumer. */
export const REPLAY_CONSUMER_ATTRIBUTE = 'conveyor-replay-consumer';

function consumer(
  name: FunctionName,
  topic: TopicName,
  options: { ordering: boolean; maxDeliveryAttempts?: number; ackDeadlineSeconds?: number; filter?: string },
): SubscriptionSpec {
  return {
    name,
    topic,
    pushTo: name,
    ordering: options.ordering,
    ackDeadlineSeconds: options.ackDeadlineSeconds ?? 60,
    ...(options.filter ? { filter: options.filter } : {}),
    deadLetter: { topic: TOPIC.deadLetters, maxDeliveryAttempts: options.maxDeliveryAttempts ?? 10 },
    retry: RETRY,
    localRetry: LOCAL_RETRY,
  };
}

/** A consumer's replay feed: the replays topic, filtered to messages addressed to it. */
function replayFeed(subscription: SubscriptionSpec): SubscriptionSpec {
  return {
    ...subscription,
    name: `${subscription.name}-replay`,
    topic: TOPIC.replays,
    filter: `attributes.${REPLAY_CONSUMER_ATTRIBUTE} = "${subscription.pushTo}"`,
  };
}

const saga = consumer(FUNCTION.saga, TOPIC.orderEvents, { ordering: true });
const analytics = consumer(FUNCTION.analytics, TOPIC.orderEvents, {
  ordering: false,
  maxDeliveryAttempts: 20,
});
/**
 * The order events the notifier may announce, by type without its version (NOTIFIER_EVENTS picks
 * among them). Its subscription lets only these through: every other event would be a push that
 * does nothing.
 */
export const NOTIFIABLE_EVENTS = ['order.completed', 'order.cancelled', 'order.approval_escalated'] as const;

/** Whether `type` (versioned, `order.completed.v1`) is one of `names`. */
export function isEventOf(names: readonly string[], type: string): boolean {
  return names.some((name) => type.startsWith(`${name}.`));
}

const notifier = consumer(FUNCTION.notifier, TOPIC.orderEvents, {
  ordering: true,
  filter: NOTIFIABLE_EVENTS.map((name) => `hasPrefix(attributes.${ATTRIBUTE.type}, "${name}.")`).join(' OR '),
});

export const SUBSCRIPTIONS: readonly SubscriptionSpec[] = [
  saga,
  analytics,
  notifier,
  replayFeed(saga),
  replayFeed(analytics),
  replayFeed(notifier),
  consumer(FUNCTION.ingest, TOPIC.inboundEvents, { ordering: true }),
  consumer(FUNCTION.timeouts, TOPIC.ticks, { ordering: false }),
  {
    ...consumer(FUNCTION.deadLetter, TOPIC.deadLetters, { ordering: false }),
    deadLetter: { topic: TOPIC.deadLettersParked, maxDeliveryAttempts: 20 },
  },
  {
    name: TOPIC.deadLettersParked,
    topic: TOPIC.deadLettersParked,
    ordering: false,
    ackDeadlineSeconds: 60,
    deadLetter: { exempt: 'last stop: operators pull from it by hand; nothing consumes it automatically' },
    retry: RETRY,
    localRetry: LOCAL_RETRY,
    retentionSeconds: 7 * DAY,
  },
];

/** The consumers that can be sent a replay of history. */
export const REPLAYABLE_CONSUMERS: readonly FunctionName[] = [
  FUNCTION.saga,
  FUNCTION.analytics,
  FUNCTION.notifier,
];

export function subscription(name: string): SubscriptionSpec {
  const found = SUBSCRIPTIONS.find((spec) => spec.name === name);
  if (!found) throw new Error(`no subscription ${name} in the catalogue`);
  return found;
}

export const BIGQUERY = {
  dataset: 'analytics',
  eventsTable: 'events',
  /** One row per dead letter, streamed by the dead-letter path (dead-letter rate per subscription). */
  deadLettersTable: 'dead_letters',
} as const;

/** Project id of the local stack and tests. */
export const LOCAL_PROJECT_ID = 'conveyor-local';
