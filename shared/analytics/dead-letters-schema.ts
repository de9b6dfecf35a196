/**
 * The BigQuery `analytics.dead_letters` table: one row per message that reached the dead-letters
 * topic, with the subscription that gave up on it, so that analysts can see the dead-letter rate
 * per subscription beside the events (view dead_letter_rate_daily). Inserted with insertId =
 * dead_letter_id (its message id on the dead-letters topic); the view de-duplicates exactly.
 */
import type { BigQueryField } from './events-schema.ts';

export const DEAD_LETTERS_TABLE_SCHEMA: readonly BigQueryField[] = [
  {
    name: 'dead_letter_id',
    type: 'STRING',
    mode: 'REQUIRED',
    description: 'Message id of the dead letter on the dead-letters topic',
  },
  {
    name: 'subscription',
    type: 'STRING',
    mode: 'REQUIRED',
    description: 'Short name of the subscription that gave up on the message',
  },
  {
    name: 'source_topic',
    type: 'STRING',
    mode: 'NULLABLE',
    description: 'Topic that subscription reads (where a redrive republishes)',
  },
  {
    name: 'kind',
    type: 'STRING',
    mode: 'REQUIRED',
    description: 'permanent (the consumer gave up at once) or exhausted (after the last delivery attempt)',
  },
  { name: 'event_id', type: 'STRING', mode: 'NULLABLE', description: 'CloudEvents id, when an event' },
  { name: 'type', type: 'STRING', mode: 'NULLABLE', description: 'Event type, when an event' },
  { name: 'order_id', type: 'STRING', mode: 'NULLABLE', description: 'Order id, when an event' },
  { name: 'event_time', type: 'TIMESTAMP', mode: 'NULLABLE', description: 'CloudEvents time, when an event' },
  {
    name: 'dead_lettered_at',
    type: 'TIMESTAMP',
    mode: 'REQUIRED',
    description: 'Publish time of the dead letter',
  },
  {
    name: 'delivery_attempts',
    type: 'INT64',
    mode: 'NULLABLE',
    description: 'Delivery attempts the subscription made',
  },
  { name: 'reason', type: 'STRING', mode: 'NULLABLE', description: 'Why the consumer gave up, when it said' },
  {
    name: 'attributes',
    type: 'JSON',
    mode: 'NULLABLE',
    description: 'Pub/Sub attributes of the dead letter as a JSON object',
  },
];

/** Day partitions on the time of dead-lettering. */
export const DEAD_LETTERS_TABLE_PARTITIONING = { type: 'DAY', field: 'dead_lettered_at' } as const;

export const DEAD_LETTERS_TABLE_CLUSTERING: readonly string[] = ['subscription'];
