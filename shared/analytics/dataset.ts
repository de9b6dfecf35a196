/**
 * Creates the analytics dataset as infra does in Google Cloud: the dataset, the events and
 * dead_letters tables (schemas, day partitions and clustering from the schema files) and one view
 * per `.sql` file in ./views (placeholders `${project}` and `${dataset}`, each view after the views
 * it reads). The local launcher calls it to set up the BigQuery emulator, and tests call it for
 * their run-scoped datasets. Idempotent: what exists is kept; views are updated to their files.
 *
 * Not for deployed functions: it reads the view files from disk (infra deploys them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BigQuery, TableMetadata } from '@google-cloud/bigquery';
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import {
  DEAD_LETTERS_TABLE_CLUSTERING,
  DEAD_LETTERS_TABLE_PARTITIONING,
  DEAD_LETTERS_TABLE_SCHEMA,
} from './dead-letters-schema.ts';
import {
  EVENTS_TABLE_CLUSTERING,
  EVENTS_TABLE_PARTITIONING,
  EVENTS_TABLE_SCHEMA,
  type BigQueryField,
} from './events-schema.ts';

export const VIEWS_DIR = fileURLToPath(new URL('./views', import.meta.url));

export interface ViewDefinition {
  name: string;
  /** The GoogleSQL with the placeholders replaced. */
  query: string;
}

/**
 * The views in `dir` with `${project}` and `${dataset}` replaced, ordered so that a view comes
 * after every view it reads. Throws naming the file for a bad name, another placeholder or a cycle.
 */
export function loadViews(values: { project: string; dataset: string }, dir = VIEWS_DIR): ViewDefinition[] {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort();
  const views = files.map((file) => {
    const name = path.basename(file, '.sql');
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,1023}$/.test(name))
      throw new Error(`${file}: "${name}" is not a BigQuery table id (letters, digits, _)`);
    const query = readFileSync(path.join(dir, file), 'utf8').replace(/\$\{(\w+)\}/g, (match, key: string) =>
      key === 'project' ? values.project : key === 'dataset' ? values.dataset : match,
    );
    const leftover = /\$\{[^}]*\}?/.exec(query);
    if (leftover) throw new Error(`${file}: unknown placeholder ${leftover[0]}`);
    return { name, query };
  });
  const ordered: ViewDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (view: ViewDefinition) => {
    if (state.get(view.name) === 'done') return;
    if (state.get(view.name) === 'visiting')
      throw new Error(`${view.name}.sql: views read each other in a cycle`);
    state.set(view.name, 'visiting');
    for (const other of views)
      if (other !== view && new RegExp(`\\b${other.name}\\b`).test(view.query)) visit(other);
    state.set(view.name, 'done');
    ordered.push(view);
  };
  views.forEach(visit);
  return ordered;
}

export interface DatasetSetupOptions {
  /** Dataset id; the catalogue's `analytics` by default (tests use run-scoped ones). */
  dataset?: string;
  /** Location of a new dataset (BigQuery's default when absent). */
  location?: string;
  viewsDir?: string;
}

/** The tables of the analytics dataset, as infra creates them. */
export const ANALYTICS_TABLES: readonly {
  name: string;
  description: string;
  schema: readonly BigQueryField[];
  partitioning: { type: string; field: string };
  clustering: readonly string[];
}[] = [
  {
    name: BIGQUERY.eventsTable,
    description: 'One row per domain event (insertId = event_id)',
    schema: EVENTS_TABLE_SCHEMA,
    partitioning: EVENTS_TABLE_PARTITIONING,
    clustering: EVENTS_TABLE_CLUSTERING,
  },
  {
    name: BIGQUERY.deadLettersTable,
    description: 'One row per dead letter (insertId = dead_letter_id)',
    schema: DEAD_LETTERS_TABLE_SCHEMA,
    partitioning: DEAD_LETTERS_TABLE_PARTITIONING,
    clustering: DEAD_LETTERS_TABLE_CLUSTERING,
  },
];

/** Creates what is missing of the analytics dataset; returns what it created or updated. */
export async function ensureAnalyticsDataset(
  bigquery: BigQuery,
  options: DatasetSetupOptions = {},
): Promise<string[]> {
  const datasetId = options.dataset ?? BIGQUERY.dataset;
  const done: string[] = [];
  const dataset = bigquery.dataset(datasetId);
  const [datasetExists] = await dataset.exists();
  if (!datasetExists) {
    await ignoreConflict(
      bigquery.createDataset(datasetId, {
        description: 'Conveyor: every domain event, and views over them',
        ...(options.location ? { location: options.location } : {}),
      }),
    );
    done.push(`dataset ${datasetId}`);
  }
  for (const table of ANALYTICS_TABLES) {
    const [exists] = await dataset.table(table.name).exists();
    if (exists) continue;
    const metadata: TableMetadata = {
      description: table.description,
      schema: { fields: table.schema.map((field) => ({ ...field })) as never },
      timePartitioning: { ...table.partitioning },
      clustering: { fields: [...table.clustering] },
    };
    await ignoreConflict(dataset.createTable(table.name, metadata));
    done.push(`table ${datasetId}.${table.name}`);
  }
  const views = loadViews({ project: bigquery.projectId, dataset: datasetId }, options.viewsDir);
  for (const view of views) {
    const table = dataset.table(view.name);
    const [exists] = await table.exists();
    if (!exists) {
      await dataset.createTable(view.name, { view: { query: view.query, useLegacySql: false } });
      done.push(`view ${datasetId}.${view.name}`);
      continue;
    }
    const [metadata] = (await table.getMetadata()) as unknown as [TableMetadata];
    if (metadata.view?.query !== view.query) {
      await table.setMetadata({ view: { query: view.query, useLegacySql: false } });
      done.push(`view ${datasetId}.${view.name} (updated)`);
    }
  }
  return done;
}

/** Another process created it first: fine. */
async function ignoreConflict(creation: Promise<unknown>): Promise<void> {
  try {
    await creation;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 409) throw error;
  }
}
