/**
 * Validation and normalisation of Topic and Subscription configurations, and update masks.
 *
 * A configuration is kept as the normalised proto the Get RPCs return (defaults filled in the way
 * the service reports them) and every create or update goes through the same validation, so a
 * field is checked the same way whichever RPC sets it.
 */
import { compileFilter } from './filter.ts';
import { invalidArgument, unimplemented } from './errors.ts';
import { DELETED_TOPIC, parseName } from './names.ts';
import type { DeliverySettings } from './subscription.ts';
import type { Duration, FieldMask, PushConfigProto, SubscriptionProto, TopicProto } from './types.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

export const DEFAULT_ACK_DEADLINE_SECONDS = 10;
export const DEFAULT_RETENTION_MS = 7 * DAY;
export const DEFAULT_EXPIRATION_TTL_MS = 31 * DAY;

export function durationToMs(duration: Duration | undefined | null): number {
  if (!duration) return 0;
  const seconds = Number(duration.seconds ?? 0);
  const nanos = Number(duration.nanos ?? 0);
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) throw invalidArgument('Invalid duration.');
  return seconds * 1000 + nanos / 1e6;
}

export function msToDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos > 0 ? { seconds, nanos } : { seconds };
}

const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

function validateLabels(labels: unknown): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object') throw invalidArgument('Invalid labels.');
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > 64) throw invalidArgument('Too many labels (at most 64).');
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) throw invalidArgument(`Invalid label key "${key}".`);
    if (typeof value !== 'string' || !LABEL_VALUE.test(value)) {
      throw invalidArgument(`Invalid value for label "${key}".`);
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function retention(duration: Duration | undefined, what: string): number {
  const ms = durationToMs(duration);
  if (ms < 10 * MINUTE || ms > 31 * DAY) {
    throw invalidArgument(`Invalid ${what}: it must be between 10 minutes and 31 days.`);
  }
  return ms;
}

function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** A normalised Topic proto (what GetTopic returns) from a request, or INVALID_ARGUMENT. */
export function normalizeTopic(input: TopicProto): TopicProto {
  const topic: TopicProto = {
    name: parseName('topics', input.name).name,
    labels: validateLabels(input.labels),
  };
  if (input.message_storage_policy) topic.message_storage_policy = input.message_storage_policy;
  if (input.kms_key_name) topic.kms_key_name = String(input.kms_key_name);
  if (input.schema_settings?.schema) {
    topic.schema_settings = { ...input.schema_settings };
    parseName('schemas', input.schema_settings.schema);
  }
  if (input.message_retention_duration && durationToMs(input.message_retention_duration) > 0) {
    topic.message_retention_duration = msToDuration(
      retention(input.message_retention_duration, 'message_retention_duration'),
    );
  }
  if (!isEmptyValue(input.ingestion_data_source_settings)) {
    throw unimplemented('Ingestion data sources are not supported by this emulator.');
  }
  if (!isEmptyValue(input.message_transforms)) {
    throw unimplemented('Message transforms are not supported by this emulator.');
  }
  topic.state = 'ACTIVE';
  return topic;
}

const TOPIC_UPDATABLE = new Set([
  'labels',
  'message_storage_policy',
  'kms_key_name',
  'schema_settings',
  'message_retention_duration',
  'ingestion_data_source_settings',
  'message_transforms',
]);

const SUBSCRIPTION_UPDATABLE = new Set([
  'push_config',
  'bigquery_config',
  'cloud_storage_config',
  'bigtable_config',
  'ack_deadline_seconds',
  'retain_acked_messages',
  'message_retention_duration',
  'labels',
  'expiration_policy',
  'dead_letter_policy',
  'retry_policy',
  'enable_exactly_once_delivery',
  'message_transforms',
]);

// Immutable after creation (pubsub.proto UpdateSubscription: "certain properties of a
// subscription, such as its topic, are not modifiable"; filters cannot be changed either,
// https://cloud.google.com/pubsub/docs/subscription-message-filter).
const SUBSCRIPTION_IMMUTABLE = new Set(['name', 'topic', 'enable_message_ordering', 'filter', 'detached']);

/**
 * Applies `mask` to a copy of `current` with values from `patch`: a path names a top-level field,
 * or a field of one (`retry_policy.minimum_backoff`). A path whose value is absent clears it.
 */
export function applyMask<T extends object>(
  current: T,
  patch: T | undefined,
  mask: FieldMask | undefined,
  updatable: ReadonlySet<string>,
  immutable: ReadonlySet<string>,
  what: string,
): T {
  const paths = mask?.paths ?? [];
  if (!patch) throw invalidArgument(`Missing ${what}.`);
  if (paths.length === 0) throw invalidArgument('The update_mask must be set and non-empty.');
  const result = structuredClone(current) as Record<string, unknown>;
  const source = patch as Record<string, unknown>;
  for (const path of paths) {
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('Invalid update_mask path.');
    const [field, ...rest] = path.split('.');
    if (immutable.has(field!)) throw invalidArgument(`The ${what} field "${field}" cannot be updated.`);
    if (!updatable.has(field!)) throw invalidArgument(`Invalid update_mask path "${path}" for a ${what}.`);
    if (rest.length === 0) {
      if (source[field!] === undefined) delete result[field!];
      else result[field!] = structuredClone(source[field!]);
      continue;
    }
    let target = result;
    let from: Record<string, unknown> | undefined = source;
    const parents = [field!, ...rest.slice(0, -1)];
    for (const part of parents) {
      const next: unknown = target[part];
      target[part] = typeof next === 'object' && next !== null ? { ...next } : {};
      target = target[part] as Record<string, unknown>;
      const nextFrom: unknown = from?.[part];
      from =
        typeof nextFrom === 'object' && nextFrom !== null ? (nextFrom as Record<string, unknown>) : undefined;
    }
    const leaf = rest[rest.length - 1]!;
    if (from?.[leaf] === undefined) delete target[leaf];
    else target[leaf] = structuredClone(from[leaf]);
  }
  return result as T;
}

export function updateTopic(current: TopicProto, patch: TopicProto | undefined, mask: FieldMask | undefined) {
  return normalizeTopic(applyMask(current, patch, mask, TOPIC_UPDATABLE, new Set(['name']), 'topic'));
}

export function updateSubscriptionProto(
  current: SubscriptionProto,
  patch: SubscriptionProto | undefined,
  mask: FieldMask | undefined,
): SubscriptionProto {
  return applyMask(current, patch, mask, SUBSCRIPTION_UPDATABLE, SUBSCRIPTION_IMMUTABLE, 'subscription');
}

const EMAIL = /^[^@\s]+@[^@\s]+$/;

/** A normalised PushConfig (empty object = pull delivery). */
export function normalizePushConfig(input: PushConfigProto | undefined): PushConfigProto {
  if (!input || !input.push_endpoint) {
    if (input?.oidc_token || input?.no_wrapper) {
      throw invalidArgument('A push_config with authentication or a wrapper needs a push_endpoint.');
    }
    return {};
  }
  let url: URL;
  try {
    url = new URL(input.push_endpoint);
  } catch {
    throw invalidArgument(`Invalid push_endpoint "${input.push_endpoint}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidArgument(`Unsupported push_endpoint "${input.push_endpoint}": it must be an http(s) URL.`);
  }
  const config: PushConfigProto = { push_endpoint: input.push_endpoint };
  const attributes = input.attributes ?? {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key !== 'x-goog-version') throw invalidArgument(`Unsupported push_config attribute "${key}".`);
    if (!['v1', 'v1beta1', 'v1beta2'].includes(value)) {
      throw invalidArgument(`Unsupported x-goog-version "${value}".`);
    }
  }
  config.attributes = { 'x-goog-version': attributes['x-goog-version'] ?? 'v1' };
  if (input.oidc_token) {
    const email = input.oidc_token.service_account_email ?? '';
    if (!EMAIL.test(email))
      throw invalidArgument('oidc_token.service_account_email must be an email address.');
    config.oidc_token = { service_account_email: email, audience: input.oidc_token.audience ?? '' };
  }
  if (input.no_wrapper) config.no_wrapper = { write_metadata: Boolean(input.no_wrapper.write_metadata) };
  else config.pubsub_wrapper = {};
  return config;
}

/**
 * A normalised Subscription proto from a create request (or an updated one), with the defaults
 * the service reports, or INVALID_ARGUMENT / UNIMPLEMENTED. The caller checks that the topic and
 * the dead-letter topic exist.
 */
export function normalizeSubscription(input: SubscriptionProto): SubscriptionProto {
  const name = parseName('subscriptions', input.name).name;
  const topic = input.topic === DELETED_TOPIC ? input.topic : parseName('topics', input.topic).name;
  for (const unsupported of ['bigquery_config', 'cloud_storage_config', 'bigtable_config'] as const) {
    if (!isEmptyValue(input[unsupported])) {
      throw unimplemented(`${unsupported} (export subscriptions) is not supported by this emulator.`);
    }
  }
  if (!isEmptyValue(input.message_transforms)) {
    throw unimplemented('Message transforms are not supported by this emulator.');
  }

  let ackDeadline = Number(input.ack_deadline_seconds ?? 0);
  if (ackDeadline === 0) ackDeadline = DEFAULT_ACK_DEADLINE_SECONDS;
  if (!Number.isInteger(ackDeadline) || ackDeadline < 10 || ackDeadline > 600) {
    throw invalidArgument(`Invalid ack_deadline_seconds ${input.ack_deadline_seconds}: it must be 10-600.`);
  }

  const sub: SubscriptionProto = {
    name,
    topic,
    push_config: normalizePushConfig(input.push_config),
    ack_deadline_seconds: ackDeadline,
    retain_acked_messages: Boolean(input.retain_acked_messages),
    message_retention_duration: msToDuration(
      durationToMs(input.message_retention_duration) === 0
        ? DEFAULT_RETENTION_MS
        : retention(input.message_retention_duration, 'message_retention_duration'),
    ),
    labels: validateLabels(input.labels),
    enable_message_ordering: Boolean(input.enable_message_ordering),
    expiration_policy: input.expiration_policy
      ? normalizeExpiration(input.expiration_policy.ttl)
      : { ttl: msToDuration(DEFAULT_EXPIRATION_TTL_MS) },
    filter: String(input.filter ?? ''),
    detached: Boolean(input.detached),
    enable_exactly_once_delivery: Boolean(input.enable_exactly_once_delivery),
    state: 'ACTIVE',
  };
  compileFilter(sub.filter!);

  if (input.dead_letter_policy && !isEmptyValue(input.dead_letter_policy)) {
    const policy = input.dead_letter_policy;
    if (!policy.dead_letter_topic) throw invalidArgument('dead_letter_policy.dead_letter_topic is required.');
    parseName('topics', policy.dead_letter_topic);
    let attempts = Number(policy.max_delivery_attempts ?? 0);
    if (attempts === 0) attempts = 5;
    if (!Number.isInteger(attempts) || attempts < 5 || attempts > 100) {
      throw invalidArgument(
        `Invalid dead_letter_policy.max_delivery_attempts ${policy.max_delivery_attempts}: it must be 5-100.`,
      );
    }
    sub.dead_letter_policy = { dead_letter_topic: policy.dead_letter_topic, max_delivery_attempts: attempts };
  }

  if (input.retry_policy) {
    const minimum = input.retry_policy.minimum_backoff
      ? durationToMs(input.retry_policy.minimum_backoff)
      : 10 * SECOND;
    const maximum = input.retry_policy.maximum_backoff
      ? durationToMs(input.retry_policy.maximum_backoff)
      : 600 * SECOND;
    for (const [what, value] of [
      ['minimum_backoff', minimum],
      ['maximum_backoff', maximum],
    ] as const) {
      if (value < 0 || value > 600 * SECOND)
        throw invalidArgument(`Invalid retry_policy.${what}: it must be 0-600s.`);
    }
    if (maximum < minimum) {
      throw invalidArgument(
        'Invalid retry_policy: maximum_backoff must not be smaller than minimum_backoff.',
      );
    }
    sub.retry_policy = { minimum_backoff: msToDuration(minimum), maximum_backoff: msToDuration(maximum) };
  }

  if (sub.enable_exactly_once_delivery && sub.push_config?.push_endpoint) {
    throw invalidArgument('Exactly-once delivery is not supported on push subscriptions.');
  }
  return sub;
}

function normalizeExpiration(ttl: Duration | undefined) {
  if (!ttl) return {}; // set without a ttl: never expires
  const ms = durationToMs(ttl);
  if (ms < DAY || ms > 365 * DAY) {
    throw invalidArgument('Invalid expiration_policy.ttl: it must be between 1 day and 365 days.');
  }
  return { ttl: msToDuration(ms) };
}

/** The engine's view of a normalised subscription. */
export function deliverySettings(sub: SubscriptionProto): DeliverySettings {
  return {
    ackDeadlineSeconds: sub.ack_deadline_seconds ?? DEFAULT_ACK_DEADLINE_SECONDS,
    retentionMs: durationToMs(sub.message_retention_duration) || DEFAULT_RETENTION_MS,
    ordering: Boolean(sub.enable_message_ordering),
    exactlyOnce: Boolean(sub.enable_exactly_once_delivery),
    filter: compileFilter(sub.filter ?? ''),
    deadLetter: sub.dead_letter_policy?.dead_letter_topic
      ? {
          topic: sub.dead_letter_policy.dead_letter_topic,
          maxDeliveryAttempts: sub.dead_letter_policy.max_delivery_attempts ?? 5,
        }
      : null,
    retry: sub.retry_policy
      ? {
          minimumMs: durationToMs(sub.retry_policy.minimum_backoff),
          maximumMs: durationToMs(sub.retry_policy.maximum_backoff),
        }
      : null,
  };
}

/** Expiration TTL in ms, or null when the subscription never expires. */
export function expirationTtlMs(sub: SubscriptionProto): number | null {
  const ttl = sub.expiration_policy?.ttl;
  return ttl ? durationToMs(ttl) : null;
}
