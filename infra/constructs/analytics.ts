/**
 * BigQuery: the analytics dataset, the events table (schema in shared/analytics/events-schema.ts),
 * the dead_letters table (shared/analytics/dead-letters-schema.ts) and one view per SQL file in
 * shared/analytics/views/, read at synth time. View files name
 * tables with `${project}` and `${dataset}` (see that folder's README); nothing else is expanded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Construct } from 'constructs';
import { BigqueryDataset } from '@cdktf/provider-google/lib/bigquery-dataset/index.js';
import { BigqueryTable } from '@cdktf/provider-google/lib/bigquery-table/index.js';
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import {
  DEAD_LETTERS_TABLE_CLUSTERING,
  DEAD_LETTERS_TABLE_PARTITIONING,
  DEAD_LETTERS_TABLE_SCHEMA,
} from '#shared/analytics/dead-letters-schema.ts';
import {
  EVENTS_TABLE_CLUSTERING,
  EVENTS_TABLE_PARTITIONING,
  EVENTS_TABLE_SCHEMA,
} from '#shared/analytics/events-schema.ts';
import type { EnvironmentConfig } from '../config.ts';
import { setComponent } from './component.ts';

/** Where the view files live (shared/analytics/views). */
export const DEFAULT_VIEWS_DIR = path.resolve(import.meta.dirname, '../../shared/analytics/views');

export const VIEW_PLACEHOLDERS = ['project', 'dataset'] as const;

export interface ViewDefinition {
  name: string;
  file: string;
  /** SQL with the placeholders replaced, ready for BigQuery. */
  query: string;
}

/**
 * Reads every `<view>.sql` in `dir` (none is fine) and expands the placeholders; throws naming
 * the file for an invalid view name or any other `${…}`.
 */
export function loadViews(
  dir: string,
  values: Record<(typeof VIEW_PLACEHOLDERS)[number], string>,
): ViewDefinition[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith('.sql'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return files.sort().map((file) => {
    const name = path.basename(file, '.sql');
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,1023}$/.test(name))
      throw new Error(`${path.join(dir, file)}: "${name}" is not a BigQuery table id (letters, digits, _)`);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    const query = sql.replace(/\$\{(\w+)\}/g, (match, key: string) =>
      key in values ? values[key as keyof typeof values] : match,
    );
    const leftover = /\$\{[^}]*\}?/.exec(query);
    if (leftover)
      throw new Error(
        `${path.join(dir, file)}: unknown placeholder ${leftover[0]} (only ${VIEW_PLACEHOLDERS.map((p) => `\${${p}}`).join(', ')})`,
      );
    if (!query.trim()) throw new Error(`${path.join(dir, file)}: empty view`);
    return { name, file: path.join(dir, file), query };
  });
}

export interface AnalyticsProps {
  config: EnvironmentConfig;
  viewsDir?: string;
}

export class Analytics extends Construct {
  readonly dataset: BigqueryDataset;
  readonly events: BigqueryTable;
  readonly deadLetters: BigqueryTable;
  readonly views: Readonly<Record<string, BigqueryTable>>;

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id);
    setComponent(this, 'analytics');
    const { config } = props;

    this.dataset = new BigqueryDataset(this, 'dataset', {
      datasetId: BIGQUERY.dataset,
      location: config.bigquery.location,
      description: 'Conveyor: every domain event, and views over them',
      deleteContentsOnDestroy: !config.deletionProtection,
    });

    this.events = new BigqueryTable(this, 'events', {
      datasetId: this.dataset.datasetId,
      tableId: BIGQUERY.eventsTable,
      description: 'One row per domain event (insertId = event_id)',
      schema: JSON.stringify(EVENTS_TABLE_SCHEMA),
      timePartitioning: { ...EVENTS_TABLE_PARTITIONING },
      clustering: [...EVENTS_TABLE_CLUSTERING],
      deletionProtection: config.deletionProtection,
    });

    this.deadLetters = new BigqueryTable(this, 'dead-letters', {
      datasetId: this.dataset.datasetId,
      tableId: BIGQUERY.deadLettersTable,
      description: 'One row per dead letter (insertId = dead_letter_id)',
      schema: JSON.stringify(DEAD_LETTERS_TABLE_SCHEMA),
      timePartitioning: { ...DEAD_LETTERS_TABLE_PARTITIONING },
      clustering: [...DEAD_LETTERS_TABLE_CLUSTERING],
      deletionProtection: config.deletionProtection,
    });

    const definitions = loadViews(props.viewsDir ?? DEFAULT_VIEWS_DIR, {
      project: config.projectId,
      dataset: BIGQUERY.dataset,
    });
    // A view that reads another view is created after it (a cycle cannot be created at all).
    const readsOf = (view: ViewDefinition) =>
      definitions.filter(
        (other) => other.name !== view.name && new RegExp(`\\b${other.name}\\b`).test(view.query),
      );
    const views: Record<string, BigqueryTable> = {};
    const creating = new Set<string>();
    const create = (view: ViewDefinition): BigqueryTable => {
      const existing = views[view.name];
      if (existing) return existing;
      if (creating.has(view.name)) throw new Error(`${view.file}: views read each other in a cycle`);
      creating.add(view.name);
      const reads = readsOf(view).map(create);
      return (views[view.name] = new BigqueryTable(this, `view-${view.name}`, {
        datasetId: this.dataset.datasetId,
        tableId: view.name,
        description: `View from shared/analytics/views/${view.name}.sql`,
        // `%{` would start a Terraform template directive inside the JSON string.
        view: { query: view.query.replaceAll('%{', '%%{'), useLegacySql: false },
        deletionProtection: false,
        dependsOn: [
          this.events,
          ...(new RegExp(`\\b${BIGQUERY.deadLettersTable}\\b`).test(view.query) ? [this.deadLetters] : []),
          ...reads,
        ],
      }));
    };
    for (const view of definitions) create(view);
    this.views = views;
  }
}
