/**
 * Redrive: republish dead letters to their source topic with the original data, attributes (so the
 * original event id) and ordering key, marked with the dead letter's id (conveyor-redrive). Each
 * dead letter is locked, published, marked redriven and audited in one transaction: a failed
 * publish leaves it open; a crash after the publish and before the commit leaves it open too, and
 * a second redrive publishes it again, which consumers absorb by their event id.
 */
import { subscription as subscriptionSpec, SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE, PUBSUB_DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { ConveyorError, DependencyError } from '#shared/errors.ts';
import type { Publisher } from '#shared/messaging/publisher.ts';
import {
  closeDeadLetter,
  lockDeadLetter,
  lockOpenDeadLetters,
  type DeadLetter,
  type DeadLetterFilter,
} from '#shared/store/dead-letters.ts';
import type { Pool } from '#shared/store/pool.ts';
import { withTransaction } from '#shared/store/transaction.ts';

const DEAD_LETTER_ATTRIBUTES = new Set<string>([
  ...Object.values(DEAD_LETTER_ATTRIBUTE),
  ...Object.values(PUBSUB_DEAD_LETTER_ATTRIBUTE),
]);

/** The dead letter cannot be redriven or discarded in its state (not open, no known source). */
export class DeadLetterStateError extends ConveyorError {}

/** Where a dead letter came from: recorded, or the topic of its subscription in the catalogue. */
export function sourceTopicOf(
  letter: Pick<DeadLetter, 'sourceTopic' | 'sourceSubscription'>,
): string | undefined {
  if (letter.sourceTopic) return letter.sourceTopic;
  return SUBSCRIPTIONS.some((spec) => spec.name === letter.sourceSubscription)
    ? subscriptionSpec(letter.sourceSubscription).topic
    : undefined;
}

/** The message as it was before it was dead-lettered, marked as a redrive of `letter`. */
export function redriveMessage(letter: DeadLetter) {
  const attributes = Object.fromEntries(
    Object.entries(letter.attributes).filter(([name]) => !DEAD_LETTER_ATTRIBUTES.has(name)),
  );
  attributes[ATTRIBUTE.redrive] = letter.id;
  return {
    data: letter.data,
    attributes,
    ...(letter.orderingKey ? { orderingKey: letter.orderingKey } : {}),
  };
}

export interface RedriveDeps {
  pool: Pool;
  publisher: Publisher;
}

/** Redrives one open dead letter; undefined when there is none with this id. */
export async function redriveOne(
  deps: RedriveDeps,
  id: string,
  by: { actor: string; reason: string },
): Promise<{ letter: DeadLetter; messageId: string } | undefined> {
  return withTransaction(deps.pool, async (client) => {
    const letter = await lockDeadLetter(client, id);
    if (!letter) return undefined;
    if (letter.status !== 'open') throw new DeadLetterStateError(`dead letter ${id} is ${letter.status}`);
    const topic = sourceTopicOf(letter);
    if (!topic) throw new DeadLetterStateError(`dead letter ${id} has no known source topic`);
    const [outcome] = await deps.publisher.publish(topic, [redriveMessage(letter)]);
    if (!outcome?.messageId) {
      throw new DependencyError(
        'pubsub',
        `redrive of ${id} not published: ${outcome?.error?.message ?? 'no answer'}`,
      );
    }
    await closeDeadLetter(client, id, {
      status: 'redriven',
      reason: by.reason,
      actor: by.actor,
      details: { topic, messageId: outcome.messageId },
    });
    return {
      letter: { ...letter, status: 'redriven', statusReason: by.reason },
      messageId: outcome.messageId,
    };
  });
}

/**
 * Redrives up to `limit` open dead letters matching `filter`, oldest first. Those another operator
 * is acting on right now are skipped; those whose publish fails stay open and are reported.
 */
export async function redriveMany(
  deps: RedriveDeps,
  filter: Omit<DeadLetterFilter, 'status'>,
  limit: number,
  by: { actor: string; reason: string },
): Promise<{ redriven: { id: string; messageId: string }[]; failed: { id: string; error: string }[] }> {
  return withTransaction(deps.pool, async (client) => {
    const letters = await lockOpenDeadLetters(client, filter, limit);
    const redriven: { id: string; messageId: string }[] = [];
    const failed: { id: string; error: string }[] = [];
    const byTopic = new Map<string, DeadLetter[]>();
    for (const letter of letters) {
      const topic = sourceTopicOf(letter);
      if (!topic) failed.push({ id: letter.id, error: 'no known source topic' });
      else byTopic.set(topic, [...(byTopic.get(topic) ?? []), letter]);
    }
    for (const [topic, group] of byTopic) {
      const outcomes = await deps.publisher.publish(topic, group.map(redriveMessage));
      for (const [index, letter] of group.entries()) {
        const outcome = outcomes[index];
        if (!outcome?.messageId) {
          failed.push({ id: letter.id, error: outcome?.error?.message ?? 'not published' });
          continue;
        }
        await closeDeadLetter(client, letter.id, {
          status: 'redriven',
          reason: by.reason,
          actor: by.actor,
          details: { topic, messageId: outcome.messageId, bulk: true },
        });
        redriven.push({ id: letter.id, messageId: outcome.messageId });
      }
    }
    return { redriven, failed };
  });
}
