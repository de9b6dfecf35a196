/**
 * Forwarding a message to the dead-letters topic from a consumer, for a permanent error: the
 * original data and attributes, plus the conveyor-dead-letter-* attributes saying who gave up and
 * why. Acknowledging the original afterwards keeps its ordering key moving.
 */
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import type { ReceivedMessage } from './codec.ts';
import { subscriptionName } from './codec.ts';
import type { Publisher } from './publisher.ts';

/** Pub/Sub refuses attribute values over 1024 bytes. */
const MAX_ATTRIBUTE_BYTES = 1_024;

export interface DeadLetterSink {
  /** Resolves once the dead letter is published; rejects if it is not (the caller must not ack). */
  deadLetter(message: ReceivedMessage, reason: string, sourceTopic?: string): Promise<void>;
}

export function createDeadLetterSink(publisher: Publisher): DeadLetterSink {
  return {
    async deadLetter(message, reason, sourceTopic) {
      const attributes: Record<string, string> = {
        ...message.attributes,
        [DEAD_LETTER_ATTRIBUTE.reason]: truncateUtf8(reason, MAX_ATTRIBUTE_BYTES),
        [DEAD_LETTER_ATTRIBUTE.subscription]: subscriptionName(message.subscription),
        [DEAD_LETTER_ATTRIBUTE.messageId]: message.messageId,
        [DEAD_LETTER_ATTRIBUTE.publishTime]: message.publishTime,
        [DEAD_LETTER_ATTRIBUTE.deliveryAttempt]: String(message.deliveryAttempt),
        ...(sourceTopic ? { [DEAD_LETTER_ATTRIBUTE.topic]: sourceTopic } : {}),
        ...(message.orderingKey ? { [DEAD_LETTER_ATTRIBUTE.orderingKey]: message.orderingKey } : {}),
      };
      const [outcome] = await publisher.publish(TOPIC.deadLetters, [{ data: message.data, attributes }]);
      if (!outcome || outcome.error) throw outcome?.error ?? new Error('dead letter not published');
    },
  };
}

/** At most `maxBytes` of UTF-8, cut on a character boundary. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes - 3;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}...`;
}
