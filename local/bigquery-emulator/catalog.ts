/**
 * Datasets and tables: BigQuery's metadata (schemas with modes and descriptions, partitioning,
 * clustering, labels, views' GoogleSQL) kept beside the DuckDB objects that hold the data. A
 * dataset is the DuckDB schema "project.dataset"; a table or view is an object in it. With a data
 * directory, metadata.json is rewritten (atomically) on every change and reconciled with DuckDB's
 * catalog at start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Engine } from './engine.ts';
import { ApiError, duplicate, invalid, notFound, text } from './errors.ts';
import {
  columnDefinitions,
  duckType,
  fieldFromDuckType,
  findField,
  normalizeFields,
  type Field,
} from './schema.ts';
import { quoteIdentifier } from './sql/tree.ts';

export interface DatasetMeta {
  projectId: string;
  datasetId: string;
  location: string;
  creationTime: string;
  lastModifiedTime: string;
  etag: string;
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
  defaultTableExpirationMs?: string;
  defaultPartitionExpirationMs?: string;
}

export interface TableMeta {
  projectId: string;
  datasetId: string;
  tableId: string;
  type: 'TABLE' | 'VIEW';
  schema: Field[];
  /** False for a table created without columns: DuckDB gets it once a schema arrives. */
  materialized: boolean;
  creationTime: string;
  lastModifiedTime: string;
  etag: string;
  location: string;
  timePartitioning?: Record<string, unknown>;
  rangePartitioning?: Record<string, unknown>;
  clustering?: { fields: string[] };
  requirePartitionFilter?: boolean;
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
  expirationTime?: string;
  view?: { query: string; useLegacySql: false };
}

/**
 * Compiles a view's GoogleSQL for the view's project to DuckDB SQL, with a way to turn a DuckDB
 * error about it (raised `prefix` characters into the executed statement) into the API's error.
 */
export type ViewCompiler = (
  query: string,
  projectId: string,
) => { sql: string; fail(error: unknown, prefix: number): Error };

const DATASET_ID = /^[A-Za-z0-9_]{1,1024}$/;
const TABLE_ID = /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}$]{1,1024}$/u;
const PARTITION_TYPES = new Set(['DAY', 'HOUR', 'MONTH', 'YEAR']);
const CLUSTER_TYPES = new Set([
  'STRING',
  'INTEGER',
  'NUMERIC',
  'BIGNUMERIC',
  'BOOLEAN',
  'DATE',
  'DATETIME',
  'TIMESTAMP',
  'GEOGRAPHY',
]);

const now = () => String(Date.now());
const etag = () => randomBytes(12).toString('base64');

export function schemaName(projectId: string, datasetId: string): string {
  return `${projectId}.${datasetId}`;
}

export function duckName(projectId: string, datasetId: string, tableId: string): string {
  return `${quoteIdentifier(schemaName(projectId, datasetId))}.${quoteIdentifier(tableId)}`;
}

const datasetKey = (p: string, d: string) => `${p}:${d}`;
const tableKey = (p: string, d: string, t: string) => `${p}:${d}.${t}`;

/** The table properties a tables.insert / patch body may carry. */
export interface TableInput {
  schema?: { fields?: unknown };
  timePartitioning?: unknown;
  rangePartitioning?: unknown;
  clustering?: unknown;
  requirePartitionFilter?: unknown;
  description?: unknown;
  friendlyName?: unknown;
  labels?: unknown;
  expirationTime?: unknown;
  view?: unknown;
  materializedView?: unknown;
  externalDataConfiguration?: unknown;
  tableReference?: unknown;
  [other: string]: unknown;
}

export class Catalog {
  private readonly datasets = new Map<string, DatasetMeta>();
  private readonly tables = new Map<string, TableMeta>();
  private readonly engine: Engine;
  private readonly file: string | undefined;
  private readonly compileView: ViewCompiler;
  /** Called when a table's rows are replaced or it goes away (insertId windows forget it). */
  onTableReset: (key: string) => void = () => {};

  private constructor(engine: Engine, dataDir: string | undefined, compileView: ViewCompiler) {
    this.engine = engine;
    this.file = dataDir ? path.join(dataDir, 'metadata.json') : undefined;
    this.compileView = compileView;
  }

  static async open(
    engine: Engine,
    dataDir: string | undefined,
    compileView: ViewCompiler,
  ): Promise<Catalog> {
    const catalog = new Catalog(engine, dataDir, compileView);
    await catalog.load();
    return catalog;
  }

  // Datasets.

  getDataset(projectId: string, datasetId: string): DatasetMeta | undefined {
    return this.datasets.get(datasetKey(projectId, datasetId));
  }

  requireDataset(projectId: string, datasetId: string): DatasetMeta {
    const dataset = this.getDataset(projectId, datasetId);
    if (!dataset) throw notFound(`Dataset ${projectId}:${datasetId}`);
    return dataset;
  }

  projectIds(): string[] {
    return [...new Set([...this.datasets.values()].map((d) => d.projectId))].sort();
  }

  listDatasets(projectId: string): DatasetMeta[] {
    return [...this.datasets.values()]
      .filter((d) => d.projectId === projectId)
      .sort((a, b) => a.datasetId.localeCompare(b.datasetId));
  }

  async createDataset(
    projectId: string,
    datasetId: string,
    body: Record<string, unknown>,
    ifNotExists = false,
  ): Promise<DatasetMeta> {
    if (!DATASET_ID.test(datasetId))
      throw invalid(
        `Invalid dataset ID "${datasetId}". Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.`,
      );
    return this.engine.write(async (connection) => {
      const existing = this.getDataset(projectId, datasetId);
      if (existing) {
        if (ifNotExists) return existing;
        throw duplicate(`Dataset ${projectId}:${datasetId}`);
      }
      const clash = [...this.datasets.values()].find(
        (d) => d.projectId === projectId && d.datasetId.toLowerCase() === datasetId.toLowerCase(),
      );
      if (clash)
        throw duplicate(
          `Dataset ${projectId}:${clash.datasetId} (dataset names differing only in case are not supported by the emulator)`,
        );
      const time = now();
      const dataset: DatasetMeta = {
        projectId,
        datasetId,
        location: typeof body.location === 'string' && body.location ? body.location : 'US',
        creationTime: time,
        lastModifiedTime: time,
        etag: etag(),
      };
      applyDatasetProps(dataset, body);
      await connection.run(`CREATE SCHEMA ${quoteIdentifier(schemaName(projectId, datasetId))}`);
      this.datasets.set(datasetKey(projectId, datasetId), dataset);
      await this.save();
      return dataset;
    });
  }

  async patchDataset(
    projectId: string,
    datasetId: string,
    body: Record<string, unknown>,
  ): Promise<DatasetMeta> {
    return this.engine.write(async () => {
      const dataset = this.requireDataset(projectId, datasetId);
      if (typeof body.location === 'string' && body.location !== dataset.location)
        throw invalid('Cannot change the location of a dataset');
      applyDatasetProps(dataset, body);
      dataset.lastModifiedTime = now();
      dataset.etag = etag();
      await this.save();
      return dataset;
    });
  }

  async deleteDataset(
    projectId: string,
    datasetId: string,
    deleteContents: boolean,
    ifExists = false,
  ): Promise<void> {
    await this.engine.write(async (connection) => {
      if (!this.getDataset(projectId, datasetId)) {
        if (ifExists) return;
        throw notFound(`Dataset ${projectId}:${datasetId}`);
      }
      const contents = this.listTables(projectId, datasetId);
      if (contents.length > 0 && !deleteContents)
        throw new ApiError(400, 'resourceInUse', `Dataset ${projectId}:${datasetId} is still in use`, {
          status: 'FAILED_PRECONDITION',
        });
      await connection.run(
        `DROP SCHEMA IF EXISTS ${quoteIdentifier(schemaName(projectId, datasetId))} CASCADE`,
      );
      for (const table of contents) {
        const key = tableKey(projectId, datasetId, table.tableId);
        this.tables.delete(key);
        this.onTableReset(key);
      }
      this.datasets.delete(datasetKey(projectId, datasetId));
      await this.save();
    });
  }

  // Tables.

  getTable(projectId: string, datasetId: string, tableId: string): TableMeta | undefined {
    return this.tables.get(tableKey(projectId, datasetId, tableId));
  }

  requireTable(projectId: string, datasetId: string, tableId: string): TableMeta {
    this.requireDataset(projectId, datasetId);
    const table = this.getTable(projectId, datasetId, tableId);
    if (!table) throw notFound(`Table ${projectId}:${datasetId}.${tableId}`);
    return table;
  }

  listTables(projectId: string, datasetId: string): TableMeta[] {
    return [...this.tables.values()]
      .filter((t) => t.projectId === projectId && t.datasetId === datasetId)
      .sort((a, b) => a.tableId.localeCompare(b.tableId));
  }

  static key(table: Pick<TableMeta, 'projectId' | 'datasetId' | 'tableId'>): string {
    return tableKey(table.projectId, table.datasetId, table.tableId);
  }

  /** tables.insert, and CREATE TABLE / CREATE VIEW statements. */
  async createTable(
    projectId: string,
    datasetId: string,
    tableId: string,
    input: TableInput,
    mode: { orReplace?: boolean; ifNotExists?: boolean; asQuery?: string } = {},
  ): Promise<{ table: TableMeta; operation: 'CREATE' | 'REPLACE' | 'SKIP' }> {
    const dataset = this.requireDataset(projectId, datasetId);
    if (!TABLE_ID.test(tableId))
      throw invalid(
        `Invalid table ID "${tableId}". Table IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.`,
      );
    if (input.externalDataConfiguration)
      throw invalid('External tables are not supported by the BigQuery emulator');
    const viewQuery = viewQueryOf(input);
    const fields = input.schema?.fields === undefined ? [] : normalizeFields(input.schema.fields);
    return this.engine.write(async (connection) => {
      const existing = this.getTable(projectId, datasetId, tableId);
      if (existing && mode.ifNotExists) return { table: existing, operation: 'SKIP' as const };
      if (existing && !mode.orReplace) throw duplicate(`Table ${projectId}:${datasetId}.${tableId}`);
      const clash = this.listTables(projectId, datasetId).find(
        (t) => t.tableId !== tableId && t.tableId.toLowerCase() === tableId.toLowerCase(),
      );
      if (clash)
        throw duplicate(
          `Table ${projectId}:${datasetId}.${clash.tableId} (table names differing only in case are not supported by the emulator)`,
        );
      const name = duckName(projectId, datasetId, tableId);
      const time = now();
      const table: TableMeta = {
        projectId,
        datasetId,
        tableId,
        type: viewQuery === undefined ? 'TABLE' : 'VIEW',
        schema: fields,
        materialized: false,
        creationTime: time,
        lastModifiedTime: time,
        etag: etag(),
        location: dataset.location,
      };
      applyTableProps(table, input, false);
      if (existing) await dropObject(connection, existing);
      if (viewQuery !== undefined) {
        const compiled = this.compileView(viewQuery, projectId);
        const statement = `CREATE VIEW ${name} AS `;
        try {
          await connection.run(statement + compiled.sql);
          table.schema = mergeDescriptions(await describe(connection, name), fields);
        } catch (error) {
          await connection.run(`DROP VIEW IF EXISTS ${name}`);
          throw compiled.fail(error, statement.length);
        }
        table.view = { query: viewQuery, useLegacySql: false };
        table.materialized = true;
      } else if (mode.asQuery !== undefined) {
        table.schema = await describeQuery(connection, mode.asQuery);
        validateTableLayout(table);
        await connection.run(`CREATE TABLE ${name} (${columnDefinitions(table.schema)})`);
        await connection.run(`INSERT INTO ${name} SELECT * FROM (${mode.asQuery})`);
        table.materialized = true;
      } else {
        validateTableLayout(table);
        if (fields.length > 0) {
          await connection.run(`CREATE TABLE ${name} (${columnDefinitions(fields)})`);
          table.materialized = true;
        }
      }
      const key = tableKey(projectId, datasetId, tableId);
      this.tables.set(key, table);
      this.onTableReset(key);
      await this.save();
      return { table, operation: existing ? ('REPLACE' as const) : ('CREATE' as const) };
    });
  }

  /** tables.patch (and tables.update with `replace`): schema evolution, options, view query. */
  async patchTable(
    projectId: string,
    datasetId: string,
    tableId: string,
    input: TableInput,
    replace = false,
  ): Promise<TableMeta> {
    return this.engine.write(async (connection) => {
      const table = this.requireTable(projectId, datasetId, tableId);
      const name = duckName(projectId, datasetId, tableId);
      const viewQuery = viewQueryOf(input);
      if (viewQuery !== undefined) {
        if (table.type !== 'VIEW') throw invalid('Cannot change a table into a view');
        const compiled = this.compileView(viewQuery, projectId);
        const statement = `CREATE OR REPLACE VIEW ${name} AS `;
        try {
          await connection.run(statement + compiled.sql);
          table.schema = await describe(connection, name);
        } catch (error) {
          throw compiled.fail(error, statement.length);
        }
        table.view = { query: viewQuery, useLegacySql: false };
      }
      if (input.schema?.fields !== undefined) {
        const fields = normalizeFields(input.schema.fields);
        if (table.type === 'VIEW') table.schema = mergeDescriptions(table.schema, fields);
        else await this.evolveSchema(connection, table, fields);
      }
      applyTableProps(table, input, replace);
      validateTableLayout(table);
      table.lastModifiedTime = now();
      table.etag = etag();
      await this.save();
      return table;
    });
  }

  private async evolveSchema(connection: DuckDBConnection, table: TableMeta, next: Field[]): Promise<void> {
    const name = duckName(table.projectId, table.datasetId, table.tableId);
    const where = `${table.projectId}:${table.datasetId}.${table.tableId}`;
    if (!table.materialized) {
      if (next.length > 0) {
        await connection.run(`CREATE TABLE ${name} (${columnDefinitions(next)})`);
        table.materialized = true;
      }
      table.schema = next;
      return;
    }
    const statements: string[] = [];
    const compare = (
      current: readonly Field[],
      proposed: readonly Field[],
      prefix: string,
      listDepth: string,
    ) => {
      for (const field of current) {
        const match = findField(proposed, field.name);
        const label = `${prefix}${field.name}`;
        if (!match)
          throw invalid(
            `Provided Schema does not match Table ${where}. Field ${label} is missing in new schema`,
          );
        if (match.type !== field.type)
          throw invalid(
            `Provided Schema does not match Table ${where}. Field ${label} has changed type from ${field.type} to ${match.type}`,
          );
        if (match.mode !== field.mode) {
          if (field.mode === 'REQUIRED' && match.mode === 'NULLABLE' && !prefix)
            statements.push(`ALTER TABLE ${name} ALTER COLUMN ${quoteIdentifier(field.name)} DROP NOT NULL`);
          else if (!(field.mode === 'REQUIRED' && match.mode === 'NULLABLE'))
            throw invalid(
              `Provided Schema does not match Table ${where}. Field ${label} has changed mode from ${field.mode} to ${match.mode}`,
            );
        }
        if (field.type === 'RECORD') {
          const path = `${listDepth}${quoteIdentifier(field.name)}${field.mode === 'REPEATED' ? '.element' : ''}.`;
          compare(field.fields ?? [], match.fields ?? [], `${label}.`, path);
        }
      }
      for (const field of proposed) {
        if (findField(current, field.name)) continue;
        const label = `${prefix}${field.name}`;
        if (field.mode === 'REQUIRED')
          throw invalid(
            `Provided Schema does not match Table ${where}. Cannot add required fields to an existing schema. (field: ${label})`,
          );
        statements.push(
          `ALTER TABLE ${name} ADD COLUMN ${listDepth}${quoteIdentifier(field.name)} ${duckType(field)}`,
        );
      }
    };
    compare(table.schema, next, '', '');
    for (const statement of statements) await connection.run(statement);
    table.schema = next;
  }

  async deleteTable(
    projectId: string,
    datasetId: string,
    tableId: string,
    ifExists = false,
    expect?: 'TABLE' | 'VIEW',
  ): Promise<boolean> {
    return this.engine.write(async (connection) => {
      this.requireDataset(projectId, datasetId);
      const table = this.getTable(projectId, datasetId, tableId);
      if (!table) {
        if (ifExists) return false;
        throw notFound(`Table ${projectId}:${datasetId}.${tableId}`);
      }
      if (expect && table.type !== expect)
        throw invalid(
          `${projectId}:${datasetId}.${tableId} is a ${table.type === 'VIEW' ? 'view' : 'table'}, not a ${expect === 'VIEW' ? 'view' : 'table'}`,
        );
      await dropObject(connection, table);
      const key = tableKey(projectId, datasetId, tableId);
      this.tables.delete(key);
      this.onTableReset(key);
      await this.save();
      return true;
    });
  }

  /** DuckDB name of a table the query may read; the API's not-found error otherwise. */
  resolve(projectId: string, datasetId: string, tableId: string): string {
    const dataset = this.getDataset(projectId, datasetId);
    if (!dataset) throw notFound(`Dataset ${projectId}:${datasetId} was not found in location US`);
    const table = this.getTable(projectId, datasetId, tableId);
    if (!table)
      throw notFound(
        `Table ${projectId}:${datasetId}.${tableId} was not found in location ${dataset.location}`,
      );
    if (!table.materialized) throw invalid(`Table ${projectId}:${datasetId}.${tableId} has no schema`);
    return duckName(projectId, datasetId, tableId);
  }

  /** Replaces a view's schema after the objects it reads changed (tables.get on a view). */
  async refreshViewSchema(table: TableMeta): Promise<void> {
    if (table.type !== 'VIEW') return;
    try {
      const fields = await this.engine.read((connection) =>
        describe(connection, duckName(table.projectId, table.datasetId, table.tableId)),
      );
      table.schema = mergeDescriptions(fields, table.schema);
    } catch {
      // The view no longer binds (a table it reads is gone): keep the last known schema.
    }
  }

  private async save(): Promise<void> {
    if (!this.file) return;
    const body = JSON.stringify(
      { datasets: [...this.datasets.values()], tables: [...this.tables.values()] },
      null,
      1,
    );
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, body);
    await rename(temporary, this.file);
  }

  /** Loads metadata.json and makes it agree with what DuckDB actually holds. */
  private async load(): Promise<void> {
    if (!this.file) return;
    let saved: { datasets?: DatasetMeta[]; tables?: TableMeta[] } = {};
    if (existsSync(this.file)) saved = JSON.parse(await readFile(this.file, 'utf8')) as typeof saved;
    await this.engine.write(async (connection) => {
      const schemas = new Set(
        (
          await connection.runAndReadAll(
            `SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()`,
          )
        )
          .getRows()
          .map((r) => String(r[0])),
      );
      const objects = new Map<string, 'TABLE' | 'VIEW'>();
      const listed = await connection.runAndReadAll(
        `SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database()
         UNION ALL SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal AND database_name = current_database()`,
      );
      for (const [schema, name, kind] of listed.getRows())
        objects.set(`${String(schema)}\u0000${String(name)}`, kind as 'TABLE' | 'VIEW');
      for (const dataset of saved.datasets ?? []) {
        if (schemas.has(schemaName(dataset.projectId, dataset.datasetId)))
          this.datasets.set(datasetKey(dataset.projectId, dataset.datasetId), dataset);
      }
      for (const schema of schemas) {
        const dot = schema.indexOf('.');
        if (dot < 0) continue;
        const [projectId, datasetId] = [schema.slice(0, dot), schema.slice(dot + 1)];
        if (!this.getDataset(projectId, datasetId)) {
          const time = now();
          this.datasets.set(datasetKey(projectId, datasetId), {
            projectId,
            datasetId,
            location: 'US',
            creationTime: time,
            lastModifiedTime: time,
            etag: etag(),
          });
        }
      }
      for (const table of saved.tables ?? []) {
        const kind = objects.get(`${schemaName(table.projectId, table.datasetId)}\u0000${table.tableId}`);
        if (this.getDataset(table.projectId, table.datasetId) && (kind === table.type || !table.materialized))
          this.tables.set(tableKey(table.projectId, table.datasetId, table.tableId), table);
      }
      for (const [compound, kind] of objects) {
        const [schema, tableId] = compound.split('\u0000') as [string, string];
        const dot = schema.indexOf('.');
        if (dot < 0) continue;
        const [projectId, datasetId] = [schema.slice(0, dot), schema.slice(dot + 1)];
        if (this.getTable(projectId, datasetId, tableId)) continue;
        const time = now();
        this.tables.set(tableKey(projectId, datasetId, tableId), {
          projectId,
          datasetId,
          tableId,
          type: kind,
          schema: await describe(connection, duckName(projectId, datasetId, tableId)),
          materialized: true,
          creationTime: time,
          lastModifiedTime: time,
          etag: etag(),
          location: this.getDataset(projectId, datasetId)?.location ?? 'US',
        });
      }
    });
    await this.save();
  }
}

/** The fields of a DuckDB relation's columns. */
export async function describe(connection: DuckDBConnection, relation: string): Promise<Field[]> {
  return describeQuery(connection, `SELECT * FROM ${relation}`);
}

/** The fields a query returns, from DuckDB's prepared statement (nothing is run). */
export async function describeQuery(connection: DuckDBConnection, query: string): Promise<Field[]> {
  const prepared = await connection.prepare(query);
  const fields: Field[] = [];
  for (let i = 0; i < prepared.columnCount; i++)
    fields.push(fieldFromDuckType(prepared.columnName(i), prepared.columnType(i)));
  return fields;
}

async function dropObject(connection: DuckDBConnection, table: TableMeta): Promise<void> {
  if (!table.materialized) return;
  const name = duckName(table.projectId, table.datasetId, table.tableId);
  await connection.run(
    table.type === 'VIEW' ? `DROP VIEW IF EXISTS ${name}` : `DROP TABLE IF EXISTS ${name}`,
  );
}

/** Keeps descriptions a client gave for view columns (BigQuery lets you document them). */
function mergeDescriptions(actual: Field[], given: readonly Field[]): Field[] {
  return actual.map((field) => {
    const match = findField(given, field.name);
    return match?.description ? { ...field, description: match.description } : field;
  });
}

function viewQueryOf(input: TableInput): string | undefined {
  if (input.materializedView !== undefined) {
    const query = (input.materializedView as { query?: unknown }).query;
    if (typeof query !== 'string') throw invalid('materializedView.query is required');
    return query;
  }
  if (input.view === undefined || input.view === null) return undefined;
  const view = input.view as { query?: unknown; useLegacySql?: unknown };
  if (typeof view.query !== 'string' || view.query.trim() === '') throw invalid('view.query is required');
  const standard = /^\s*#standardSQL/i.test(view.query);
  if (/^\s*#legacySQL/i.test(view.query) || (view.useLegacySql !== false && !standard))
    throw invalid(
      'Legacy SQL views are not supported by the BigQuery emulator: set view.useLegacySql to false (it defaults to true in the API)',
    );
  return view.query;
}

function applyDatasetProps(dataset: DatasetMeta, body: Record<string, unknown>): void {
  for (const key of [
    'description',
    'friendlyName',
    'defaultTableExpirationMs',
    'defaultPartitionExpirationMs',
  ] as const) {
    if (body[key] === null) delete dataset[key];
    else if (body[key] !== undefined) dataset[key] = text(body[key]);
  }
  if (body.labels === null) delete dataset.labels;
  else if (body.labels !== undefined) dataset.labels = labelsOf(body.labels);
}

function labelsOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('labels must be an object');
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) {
    if (!/^[\p{Ll}\p{Lo}0-9_-]{1,63}$/u.test(key)) throw invalid(`Invalid label key: ${key}`);
    labels[key] = text(label ?? '');
  }
  return labels;
}

function applyTableProps(table: TableMeta, input: TableInput, replace: boolean): void {
  const set = <K extends 'description' | 'friendlyName' | 'expirationTime'>(key: K) => {
    if (input[key] === null || (replace && input[key] === undefined)) delete table[key];
    else if (input[key] !== undefined) table[key] = text(input[key]);
  };
  set('description');
  set('friendlyName');
  set('expirationTime');
  if (input.labels === null) delete table.labels;
  else if (input.labels !== undefined) table.labels = labelsOf(input.labels);
  if (input.timePartitioning !== undefined) {
    if (input.timePartitioning === null) delete table.timePartitioning;
    else table.timePartitioning = { ...(input.timePartitioning as Record<string, unknown>) };
  }
  if (input.rangePartitioning !== undefined) {
    if (input.rangePartitioning === null) delete table.rangePartitioning;
    else table.rangePartitioning = { ...(input.rangePartitioning as Record<string, unknown>) };
  }
  if (input.clustering !== undefined) {
    if (input.clustering === null) delete table.clustering;
    else
      table.clustering = {
        fields: [...(((input.clustering as { fields?: unknown }).fields as string[] | undefined) ?? [])],
      };
  }
  if (typeof input.requirePartitionFilter === 'boolean')
    table.requirePartitionFilter = input.requirePartitionFilter;
}

/** Partitioning and clustering checks BigQuery makes when a table is created or patched. */
function validateTableLayout(table: TableMeta): void {
  const time = table.timePartitioning;
  if (time) {
    const type = text(time.type ?? 'DAY').toUpperCase();
    if (!PARTITION_TYPES.has(type))
      throw invalid(`Invalid value for timePartitioning.type: ${text(time.type)}`);
    time.type = type;
    if (time.field !== undefined && table.type === 'TABLE' && table.schema.length > 0) {
      const field = findField(table.schema, text(time.field));
      if (!field)
        throw invalid(
          `The field specified for partitioning cannot be found in the schema: ${text(time.field)}`,
        );
      if (!['TIMESTAMP', 'DATE', 'DATETIME'].includes(field.type) || field.mode === 'REPEATED')
        throw invalid(
          `The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: ${field.type}.`,
        );
    }
    if (time.expirationMs !== undefined) time.expirationMs = text(time.expirationMs);
  }
  if (table.timePartitioning && table.rangePartitioning)
    throw invalid('Cannot specify both time and range partitioning');
  const range = table.rangePartitioning as { field?: unknown; range?: Record<string, unknown> } | undefined;
  if (range && table.schema.length > 0) {
    const field = findField(table.schema, text(range.field));
    if (!field || field.type !== 'INTEGER')
      throw invalid('The field specified for range partitioning must be an INTEGER column');
  }
  const clustering = table.clustering?.fields ?? [];
  if (table.clustering && clustering.length === 0) delete table.clustering;
  if (clustering.length > 4) throw invalid('Too many clustering fields: at most 4 are allowed');
  if (table.type === 'TABLE' && table.schema.length > 0) {
    for (const name of clustering) {
      const field = findField(table.schema, name);
      if (!field)
        throw invalid(
          `The field specified for clustering cannot be found in the schema. Invalid field: ${name}.`,
        );
      if (!CLUSTER_TYPES.has(field.type) || field.mode === 'REPEATED')
        throw invalid(
          `Field ${name} is of type ${field.mode === 'REPEATED' ? 'ARRAY' : field.type} which is not supported for clustering.`,
        );
    }
  }
}
