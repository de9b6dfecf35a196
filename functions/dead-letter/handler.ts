/**
 * The dead-letter function's handler: every message on the dead-letters topic is stored in
 * dead_letters for operators (inspect, redrive, discard), once.
 *
 * Two kinds arrive: ones a consumer forwarded at once for a permanent error (the
 * conveyor-dead-letter-* attributes say who gave up, why, and where the message came from), and
 * ones Pub/Sub forwarded after the subscription's last attempt (the CloudPubSubDeadLetter*
 * attributes; why the last attempt failed is read from message_failures, which the consumer
 * wrote by (subscription, event id)). Each dead-letter message is recorded in processed_messages
 * in the transaction that stores it; a consumer or Pub/Sub forwarding one message twice meets the
 * unique index of open dead letters per (subscription, event id).
 */
import type { DeadLetterRecorder } from '#shared/analytics/dead-letters.ts';
import { FUNCTION, SUBSCRIPTIONS, TOPIC } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE, PUBSUB_DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import type { PushPlumbing } from '#shared/functions/runtime.ts';
import type { ReceivedMessage } from '#shared/messaging/codec.ts';
import { createPushHandler, type PushConsumer } from '#shared/messaging/consumer.ts';
import { truncateUtf8, type DeadLetterSink } from '#shared/messaging/dead-letters.ts';
import type { Publisher } from '#shared/messaging/publisher.ts';
import { lastFailure, markProcessed } from '#shared/store/consumer-records.ts';
import { storeDeadLetter, type NewDeadLetter } from '#shared/store/dead-letters.ts';
import type { Pool, Queryable } from '#shared/store/pool.ts';
import { withTransaction } from '#shared/store/transaction.ts';

export interface DeadLetterDeps {
  pool: Pool;
  /**
   * Streams each dead letter to BigQuery (dead_letters table, for the dead-letter rate view).
   * Recorded after it is stored and before the push is answered, so a failed insert is retried by
   * redelivery (storing is idempotent; the row's insertId is the message id).
   */
  analytics?: DeadLetterRecorder | undefined;
}

/** Where a dead letter came from and why it died, from its attributes (and message_failures). */
export async function describeDeadLetter(db: Queryable, message: ReceivedMessage): Promise<NewDeadLetter> {
  const attributes = message.attributes;
  const eventId = attributes[ATTRIBUTE.id];
  const ours = attributes[DEAD_LETTER_ATTRIBUTE.subscription];
  const forwarded = attributes[PUBSUB_DEAD_LETTER_ATTRIBUTE.subscription];
  const sourceSubscription = ours ?? forwarded ?? 'unknown';
  let attempts: number;
  let lastError: string | undefined;
  let sourceTopic: string | undefined;
  if (ours) {
    attempts = Math.max(1, Number(attributes[DEAD_LETTER_ATTRIBUTE.deliveryAttempt]) || 1);
    lastError = attributes[DEAD_LETTER_ATTRIBUTE.reason];
    sourceTopic = attributes[DEAD_LETTER_ATTRIBUTE.topic];
  } else {
    attempts = Number(attributes[PUBSUB_DEAD_LETTER_ATTRIBUTE.deliveryCount]) || 0;
    const failure = eventId && forwarded ? await lastFailure(db, forwarded, eventId) : undefined;
    lastError =
      failure?.lastError ?? (forwarded ? 'the subscription ran out of delivery attempts' : undefined);
    attempts = Math.max(attempts, failure?.attempts ?? 0);
    sourceTopic = SUBSCRIPTIONS.find((spec) => spec.name === forwarded)?.topic;
  }
  return {
    messageId: attributes[DEAD_LETTER_ATTRIBUTE.messageId] ?? message.messageId,
    sourceSubscription,
    sourceTopic,
    eventId,
    eventType: attributes[ATTRIBUTE.type],
    orderId: attributes[ATTRIBUTE.subject],
    orderingKey: message.orderingKey ?? attributes[DEAD_LETTER_ATTRIBUTE.orderingKey],
    data: message.data,
    attributes,
    attempts,
    lastError,
    deadLetteredAt: validDate(message.publishTime) ?? new Date(),
  };
}

function validDate(text: string): Date | undefined {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * Where this function's own permanent failures go: the parked topic, never dead-letters again
 * (which would loop). Nothing here is refused as permanent today; this is the backstop.
 */
export function createParkingSink(publisher: Publisher): DeadLetterSink {
  return {
    async deadLetter(message, reason) {
      const [outcome] = await publisher.publish(TOPIC.deadLettersParked, [
        {
          data: message.data,
          attributes: {
            ...message.attributes,
            [DEAD_LETTER_ATTRIBUTE.reason]: truncateUtf8(reason, 1_024),
            [DEAD_LETTER_ATTRIBUTE.subscription]: FUNCTION.deadLetter,
          },
        },
      ]);
      if (!outcome?.messageId) throw outcome?.error ?? new Error('parked dead letter not published');
    },
  };
}

export function createDeadLetterConsumer(deps: DeadLetterDeps): PushConsumer<ReceivedMessage> {
  return {
    name: FUNCTION.deadLetter,
    // Anything can be a dead letter, including data that is not JSON: nothing is refused here.
    parse: (message) => message,
    handle: async (message, context) => {
      const stored = await withTransaction(deps.pool, async (client) => {
        if (!(await markProcessed(client, FUNCTION.deadLetter, message.messageId))) return 'duplicate';
        const id = await storeDeadLetter(client, await describeDeadLetter(client, message));
        return id ?? 'already open';
      });
      await deps.analytics?.record(message);
      context.logger.info({ deadLetter: stored }, 'dead letter stored');
    },
  };
}

export function createDeadLetterHandler(deps: DeadLetterDeps & { push: PushPlumbing }) {
  return createPushHandler(createDeadLetterConsumer(deps), deps.push);
}
