/**
 * How a dead letter describes itself. Pub/Sub's dead-letter policy adds the four
 * CloudPubSubDeadLetter* attributes when it forwards a message after its last attempt
 * (https://cloud.google.com/pubsub/docs/handling-failures); a consumer that meets a permanent
 * error forwards the message itself at once, with the conveyor-dead-letter-* attributes. Both
 * keep the original data and attributes.
 */
export const PUBSUB_DEAD_LETTER_ATTRIBUTE = {
  deliveryCount: 'CloudPubSubDeadLetterSourceDeliveryCount',
  subscription: 'CloudPubSubDeadLetterSourceSubscription',
  subscriptionProject: 'CloudPubSubDeadLetterSourceSubscriptionProject',
  topicPublishTime: 'CloudPubSubDeadLetterSourceTopicPublishTime',
} as const;

export const DEAD_LETTER_ATTRIBUTE = {
  /** Why the consumer gave up (at most 1024 bytes, Pub/Sub's attribute value limit). */
  reason: 'conveyor-dead-letter-reason',
  /** The subscription (= consuming function) that gave up: its short name. */
  subscription: 'conveyor-dead-letter-subscription',
  /** The topic the message was read from, so a redrive knows where to republish. */
  topic: 'conveyor-dead-letter-topic',
  messageId: 'conveyor-dead-letter-message-id',
  publishTime: 'conveyor-dead-letter-publish-time',
  deliveryAttempt: 'conveyor-dead-letter-delivery-attempt',
  orderingKey: 'conveyor-dead-letter-ordering-key',
} as const;
