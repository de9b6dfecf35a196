/**
 * The BigQuery `analytics.events` table, written once: infra creates it from this, and the local
 * BigQuery emulator can create the same table from it. One row per event, inserted with
 * insertId = event_id (best-effort de-duplication; views de-duplicate exactly by event_id).
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema
 */

export interface BigQueryField {
  name: string;
  type: 'STRING' | 'INT64' | 'TIMESTAMP' | 'JSON' | 'RECORD' | 'BOOL' | 'FLOAT64' | 'NUMERIC';
  mode: 'REQUIRED' | 'NULLABLE' | 'REPEATED';
  description: string;
  fields?: readonly BigQueryField[];
}

export const EVENTS_TABLE_SCHEMA: readonly BigQueryField[] = [
  { name: 'event_id', type: 'STRING', mode: 'REQUIRED', description: 'CloudEvents id (UUIDv7)' },
  { name: 'type', type: 'STRING', mode: 'REQUIRED', description: 'Versioned type, e.g. order.created.v1' },
  { name: 'order_id', type: 'STRING', mode: 'REQUIRED', description: 'CloudEvents subject: the order id' },
  { name: 'sequence', type: 'INT64', mode: 'REQUIRED', description: 'Per-order version of the event' },
  { name: 'event_time', type: 'TIMESTAMP', mode: 'REQUIRED', description: 'CloudEvents time' },
  {
    name: 'published_at',
    type: 'TIMESTAMP',
    mode: 'REQUIRED',
    description: 'Pub/Sub publish time of the message that carried it',
  },
  { name: 'payload', type: 'JSON', mode: 'REQUIRED', description: 'The event data' },
  {
    name: 'attributes',
    type: 'JSON',
    mode: 'NULLABLE',
    description: 'Pub/Sub attributes (ce-*, replay and redrive markers) as a JSON object',
  },
];

/** Day partitions on event_time: queries by time range read only their days. */
export const EVENTS_TABLE_PARTITIONING = { type: 'DAY', field: 'event_time' } as const;

/** Clustered for the common filters: by type, then one order's history. */
export const EVENTS_TABLE_CLUSTERING: readonly string[] = ['type', 'order_id'];
