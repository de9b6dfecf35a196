/**
 * Pub/Sub, exactly as the catalogue says: every topic, and every subscription with its ordering,
 * filter, ack deadline, dead-letter and production retry policy. Consumers get explicit push
 * subscriptions to their function's run.app URL, authenticated with an OIDC token of the push
 * invoker account whose audience is that URL (Eventarc-made subscriptions cannot be given a
 * dead-letter policy from Terraform). Messages arrive wrapped (shared/contracts/push.ts).
 */
import { Construct } from 'constructs';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription/index.js';
import { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import type { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import type { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { SUBSCRIPTIONS, TOPICS } from '#shared/contracts/catalogue.ts';
import type { FunctionName, SubscriptionSpec, TopicName } from '#shared/contracts/catalogue.ts';
import { setComponent } from './component.ts';

export interface MessagingProps {
  /** Push targets: the deployed functions by catalogue name. */
  functions: Readonly<Record<FunctionName, Cloudfunctions2Function>>;
  pushInvoker: ServiceAccount;
}

const seconds = (value: number) => `${value}s`;

export class Messaging extends Construct {
  readonly topics: Readonly<Record<TopicName, PubsubTopic>>;
  readonly subscriptions: Readonly<Record<string, PubsubSubscription>>;

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    setComponent(this, 'messaging');

    const topics = {} as Record<TopicName, PubsubTopic>;
    for (const spec of TOPICS) {
      topics[spec.name] = new PubsubTopic(this, `topic-${spec.name}`, {
        name: spec.name,
        ...(spec.retentionSeconds ? { messageRetentionDuration: seconds(spec.retentionSeconds) } : {}),
      });
    }
    this.topics = topics;

    const subscriptions: Record<string, PubsubSubscription> = {};
    for (const spec of SUBSCRIPTIONS) {
      subscriptions[spec.name] = new PubsubSubscription(
        this,
        `subscription-${spec.name}`,
        subscriptionConfig(spec, topics, props),
      );
    }
    this.subscriptions = subscriptions;
  }
}

function subscriptionConfig(
  spec: SubscriptionSpec,
  topics: Record<TopicName, PubsubTopic>,
  props: MessagingProps,
): ConstructorParameters<typeof PubsubSubscription>[2] {
  const target = spec.pushTo ? props.functions[spec.pushTo] : undefined;
  if (spec.pushTo && !target)
    throw new Error(`subscription ${spec.name} pushes to ${spec.pushTo}, which is not deployed`);
  // The run.app URL: Pub/Sub counts as internal traffic only there, and Cloud Run accepts it as audience.
  const endpoint = target?.serviceConfig.uri;
  return {
    name: spec.name,
    topic: topics[spec.topic].id,
    ackDeadlineSeconds: spec.ackDeadlineSeconds,
    enableMessageOrdering: spec.ordering,
    ...(spec.filter ? { filter: spec.filter } : {}),
    ...(spec.retentionSeconds ? { messageRetentionDuration: seconds(spec.retentionSeconds) } : {}),
    retryPolicy: {
      minimumBackoff: seconds(spec.retry.minimumBackoffSeconds),
      maximumBackoff: seconds(spec.retry.maximumBackoffSeconds),
    },
    ...('topic' in spec.deadLetter
      ? {
          deadLetterPolicy: {
            deadLetterTopic: topics[spec.deadLetter.topic].id,
            maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts,
          },
        }
      : {}),
    ...(endpoint
      ? {
          pushConfig: {
            pushEndpoint: endpoint,
            oidcToken: { serviceAccountEmail: props.pushInvoker.email, audience: endpoint },
          },
        }
      : {}),
    // A subscription without traffic for 31 days would otherwise be deleted; these are permanent.
    expirationPolicy: { ttl: '' },
  };
}
