/**
 * Creates the catalogue's topics and subscriptions on a Pub/Sub emulator, exactly as infra
 * provisions them in Google Cloud (same names, ordering, filters, dead-letter policies), with the
 * local retry backoff and push endpoints on this machine. Idempotent: what exists is left alone.
 */
import type { PubSub } from '@google-cloud/pubsub';
import {
  SUBSCRIPTIONS,
  TOPICS,
  type FunctionName,
  type SubscriptionSpec,
} from '#shared/contracts/catalogue.ts';

export interface TopologyOptions {
  /** A client for the emulator. */
  pubsub: PubSub;
  /**
   * Push endpoint of each running function. Subscriptions of functions not listed here are not
   * created (a test running only the saga does not pile messages up for the others).
   */
  endpoints: Partial<Record<FunctionName, string>>;
  /** OIDC token on every push, as production's push-invoker service account sends it. */
  pushServiceAccount?: string;
  /** Production backoff instead of the local one (tests of production timing). */
  productionRetry?: boolean;
}

const ALREADY_EXISTS = 6;

/** Creates every topic, then every subscription whose function has an endpoint (and pull ones). */
export async function ensureTopology(options: TopologyOptions): Promise<string[]> {
  const { pubsub } = options;
  const created: string[] = [];
  for (const topic of TOPICS) {
    if (await ignoreExisting(pubsub.createTopic(topic.name))) created.push(`topic ${topic.name}`);
  }
  for (const spec of SUBSCRIPTIONS) {
    const endpoint = spec.pushTo ? options.endpoints[spec.pushTo] : undefined;
    if (spec.pushTo && !endpoint) continue;
    const metadata = subscriptionMetadata(options, spec, endpoint);
    if (await ignoreExisting(pubsub.topic(spec.topic).createSubscription(spec.name, metadata))) {
      created.push(`subscription ${spec.name}`);
    }
  }
  return created;
}

function subscriptionMetadata(
  options: TopologyOptions,
  spec: SubscriptionSpec,
  endpoint: string | undefined,
) {
  const retry = options.productionRetry ? spec.retry : spec.localRetry;
  return {
    ackDeadlineSeconds: spec.ackDeadlineSeconds,
    enableMessageOrdering: spec.ordering,
    ...(spec.filter ? { filter: spec.filter } : {}),
    ...(spec.retentionSeconds ? { messageRetentionDuration: { seconds: spec.retentionSeconds } } : {}),
    retryPolicy: {
      minimumBackoff: { seconds: retry.minimumBackoffSeconds },
      maximumBackoff: { seconds: retry.maximumBackoffSeconds },
    },
    ...('topic' in spec.deadLetter
      ? {
          deadLetterPolicy: {
            deadLetterTopic: options.pubsub.topic(spec.deadLetter.topic).name,
            maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts,
          },
        }
      : {}),
    ...(endpoint
      ? {
          pushConfig: {
            pushEndpoint: endpoint,
            ...(options.pushServiceAccount
              ? { oidcToken: { serviceAccountEmail: options.pushServiceAccount, audience: endpoint } }
              : {}),
          },
        }
      : {}),
  };
}

/** True when created, false when it already existed; other errors propagate. */
async function ignoreExisting(creation: Promise<unknown>): Promise<boolean> {
  try {
    await creation;
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === ALREADY_EXISTS) return false;
    throw error;
  }
}

/**
 * Points existing push subscriptions at `endpoints` where they push elsewhere (a persistent emulator
 * keeps the endpoints of an earlier run, whose ports may differ); returns the subscriptions changed.
 */
export async function syncPushEndpoints(options: TopologyOptions): Promise<string[]> {
  const changed: string[] = [];
  for (const spec of SUBSCRIPTIONS) {
    const endpoint = spec.pushTo ? options.endpoints[spec.pushTo] : undefined;
    if (!endpoint) continue;
    const subscription = options.pubsub.subscription(spec.name);
    const [metadata] = await subscription.getMetadata();
    const push = metadata.pushConfig;
    const account = push?.oidcToken?.serviceAccountEmail || undefined;
    if (push?.pushEndpoint === endpoint && account === options.pushServiceAccount) continue;
    await subscription.modifyPushConfig({
      pushEndpoint: endpoint,
      ...(options.pushServiceAccount
        ? { oidcToken: { serviceAccountEmail: options.pushServiceAccount, audience: endpoint } }
        : {}),
    });
    changed.push(spec.name);
  }
  return changed;
}
