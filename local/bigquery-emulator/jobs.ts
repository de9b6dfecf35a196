/**
 * Query jobs: jobs.insert, jobs.query, jobs.get, jobs.getQueryResults, jobs.list, jobs.cancel.
 * A job compiles its GoogleSQL statement, runs it (queries on a reader connection, DDL and DML
 * through the catalog or the writer), and keeps its result rows for paging. Jobs live in memory;
 * the oldest results are dropped when too many rows are held.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBValue } from '@duckdb/node-api';
import type { Catalog, TableInput } from './catalog.ts';
import { duckName } from './catalog.ts';
import type { Engine } from './engine.ts';
import { ApiError, duplicate, invalid, invalidQuery, notFound, text } from './errors.ts';
import { compileParameters } from './params.ts';
import { fieldFromDuckType, type Field } from './schema.ts';
import { queryError } from './sql/query-errors.ts';
import { compileStatement, type Compiled, type Statement } from './sql/statements.ts';
import type { TableName } from './sql/translate.ts';
import { formatRow, type TimestampFormat } from './values.ts';

export interface QueryResult {
  fields: Field[];
  rows: DuckDBValue[][];
}

export interface Job {
  projectId: string;
  jobId: string;
  location: string;
  configuration: Record<string, unknown>;
  state: 'RUNNING' | 'DONE';
  error?: ApiError;
  creationTime: number;
  startTime: number;
  endTime?: number;
  statementType?: string;
  result?: QueryResult;
  numDmlAffectedRows?: number;
  ddl?: { operation: string; table?: TableName; dataset?: { projectId: string; datasetId: string } };
  done: Promise<void>;
  cancelled: boolean;
  dryRun: boolean;
}

/** Rows of all jobs' results kept in memory before the oldest results are dropped. */
const MAX_RETAINED_ROWS = 500_000;
const MAX_JOBS = 5_000;
/** BigQuery's default page limit is 10 MB of response; rows are counted as serialised. */
const MAX_PAGE_BYTES = 10 * 1024 * 1024;
const JOB_ID = /^[A-Za-z0-9_-]{1,1024}$/;

interface QueryConfiguration {
  query?: unknown;
  useLegacySql?: unknown;
  defaultDataset?: { projectId?: string; datasetId?: string };
  queryParameters?: unknown;
  parameterMode?: unknown;
  destinationTable?: { projectId?: string; datasetId?: string; tableId?: string };
  writeDisposition?: unknown;
  createDisposition?: unknown;
}

export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private readonly engine: Engine;
  private readonly catalog: Catalog;

  constructor(engine: Engine, catalog: Catalog) {
    this.engine = engine;
    this.catalog = catalog;
  }

  static key(projectId: string, jobId: string): string {
    return `${projectId}:${jobId}`;
  }

  get(projectId: string, jobId: string): Job {
    const job = this.jobs.get(Jobs.key(projectId, jobId));
    if (!job) throw notFound(`Job ${projectId}:${jobId}`);
    return job;
  }

  list(projectId: string): Job[] {
    return [...this.jobs.values()]
      .filter((j) => j.projectId === projectId)
      .sort((a, b) => b.creationTime - a.creationTime);
  }

  delete(projectId: string, jobId: string): void {
    this.get(projectId, jobId);
    this.jobs.delete(Jobs.key(projectId, jobId));
  }

  /** Creates and starts a query job (jobs.insert, and jobs.query through it). */
  start(projectId: string, body: Record<string, unknown>): Job {
    const reference = (body.jobReference ?? {}) as {
      jobId?: unknown;
      location?: unknown;
      projectId?: unknown;
    };
    const configuration = (body.configuration ?? {}) as Record<string, unknown>;
    const jobId =
      reference.jobId === undefined ? `job_${randomUUID().replaceAll('-', '_')}` : text(reference.jobId);
    if (!JOB_ID.test(jobId))
      throw invalid(
        `Invalid job ID "${jobId}". Job IDs must be alphanumeric (plus underscores and dashes) and must be at most 1024 characters long.`,
      );
    if (configuration.load || configuration.extract || configuration.copy)
      throw invalid(
        'Only query jobs are supported by the BigQuery emulator (not load, extract or copy jobs)',
      );
    if (!configuration.query) throw invalid('Required parameter is missing: configuration.query');
    const dryRun = configuration.dryRun === true;
    if (!dryRun && this.jobs.has(Jobs.key(projectId, jobId))) throw duplicate(`Job ${projectId}:${jobId}`);
    const started = Date.now();
    const job: Job = {
      projectId,
      jobId,
      location: typeof reference.location === 'string' && reference.location ? reference.location : 'US',
      configuration: { ...configuration, jobType: 'QUERY' },
      state: 'RUNNING',
      creationTime: started,
      startTime: started,
      done: Promise.resolve(),
      cancelled: false,
      dryRun,
    };
    job.done = this.run(job, configuration.query as QueryConfiguration)
      .then(
        () => undefined,
        (error: unknown) => {
          job.error = error instanceof ApiError ? error : queryError(error, '');
        },
      )
      .finally(() => {
        job.state = 'DONE';
        job.endTime = Date.now();
      });
    if (!dryRun) {
      this.jobs.set(Jobs.key(projectId, jobId), job);
      this.evict();
    }
    return job;
  }

  /** Waits up to `timeoutMs` for the job to finish; true when it has. */
  async wait(job: Job, timeoutMs: number): Promise<boolean> {
    if (job.state === 'DONE') return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))));
    await Promise.race([job.done, timeout]);
    clearTimeout(timer);
    return (job.state as string) === 'DONE';
  }

  cancel(job: Job): void {
    job.cancelled = true;
  }

  private async run(job: Job, config: QueryConfiguration): Promise<void> {
    const query = config.query;
    if (typeof query !== 'string' || query.trim() === '')
      throw invalid('Required parameter is missing: query');
    const standard = /^\s*#standardSQL/i.test(query);
    if (/^\s*#legacySQL/i.test(query) || (config.useLegacySql !== false && !standard))
      throw invalidQuery(
        'Legacy SQL is not supported by the BigQuery emulator: set useLegacySql to false (bq: --use_legacy_sql=false), or start the query with #standardSQL',
      );
    const parameters = compileParameters(config.queryParameters, config.parameterMode);
    const defaultDataset = config.defaultDataset?.datasetId
      ? {
          projectId: config.defaultDataset.projectId ?? job.projectId,
          datasetId: config.defaultDataset.datasetId,
        }
      : undefined;
    let statement: Statement;
    try {
      statement = compileStatement(query, {
        projectId: job.projectId,
        ...(defaultDataset ? { defaultDataset } : {}),
        namedParams: parameters.named,
        positionalParams: parameters.positional,
        resolveTable: (name) => this.catalog.resolve(name.projectId, name.datasetId, name.tableId),
      });
    } catch (error) {
      throw queryError(error, query);
    }
    job.statementType = statementType(statement);
    const fail =
      (compiled: Compiled | undefined, prefix = 0) =>
      (error: unknown) => {
        throw queryError(error, query, compiled?.map ?? [], prefix);
      };
    switch (statement.kind) {
      case 'query':
        await this.runQuery(job, statement.compiled, config).catch(fail(statement.compiled));
        return;
      case 'dml': {
        if (job.dryRun) return;
        const compiled = statement.compiled;
        const result = await this.engine
          .write((connection) => connection.runAndReadAll(compiled.sql))
          .catch(fail(compiled));
        const count = result.getRows()[0]?.[0];
        job.numDmlAffectedRows = Number(count ?? 0);
        return;
      }
      case 'create_table': {
        if (job.dryRun) return;
        const { target } = statement;
        const input: TableInput = {
          ...(statement.fields ? { schema: { fields: statement.fields } } : {}),
          ...(statement.timePartitioning ? { timePartitioning: statement.timePartitioning } : {}),
          ...(statement.rangePartitioning ? { rangePartitioning: statement.rangePartitioning } : {}),
          ...(statement.clustering ? { clustering: statement.clustering } : {}),
          ...statement.options,
        };
        const created = await this.catalog
          .createTable(target.projectId, target.datasetId, target.tableId, input, {
            orReplace: statement.orReplace,
            ifNotExists: statement.ifNotExists,
            ...(statement.asQuery ? { asQuery: statement.asQuery.sql } : {}),
          })
          .catch(fail(statement.asQuery));
        job.ddl = { operation: created.operation, table: target };
        return;
      }
      case 'create_view': {
        if (job.dryRun) return;
        const { target } = statement;
        const created = await this.catalog.createTable(
          target.projectId,
          target.datasetId,
          target.tableId,
          { view: { query: statement.query, useLegacySql: false }, ...statement.options },
          { orReplace: statement.orReplace, ifNotExists: statement.ifNotExists },
        );
        job.ddl = { operation: created.operation, table: target };
        return;
      }
      case 'create_schema': {
        if (job.dryRun) return;
        const existed = this.catalog.getDataset(statement.projectId, statement.datasetId) !== undefined;
        await this.catalog.createDataset(
          statement.projectId,
          statement.datasetId,
          { ...statement.options },
          statement.ifNotExists,
        );
        job.ddl = {
          operation: existed ? 'SKIP' : 'CREATE',
          dataset: { projectId: statement.projectId, datasetId: statement.datasetId },
        };
        return;
      }
      case 'drop': {
        if (job.dryRun) return;
        const { target } = statement;
        if (statement.what === 'SCHEMA') {
          const existed = this.catalog.getDataset(target.projectId, target.datasetId) !== undefined;
          await this.catalog.deleteDataset(
            target.projectId,
            target.datasetId,
            statement.cascade,
            statement.ifExists,
          );
          job.ddl = {
            operation: existed ? 'DROP' : 'SKIP',
            dataset: { projectId: target.projectId, datasetId: target.datasetId },
          };
          return;
        }
        const dropped = await this.catalog.deleteTable(
          target.projectId,
          target.datasetId,
          target.tableId,
          statement.ifExists,
          statement.what,
        );
        job.ddl = { operation: dropped ? 'DROP' : 'SKIP', table: target };
        return;
      }
      case 'alter_table': {
        if (job.dryRun) return;
        const { target } = statement;
        const table = this.catalog.getTable(target.projectId, target.datasetId, target.tableId);
        if (!table) {
          if (statement.ifExists) {
            job.ddl = { operation: 'SKIP', table: target };
            return;
          }
          throw notFound(`Table ${target.projectId}:${target.datasetId}.${target.tableId}`);
        }
        const fields = [...table.schema];
        for (const { field, ifNotExists } of statement.addColumns) {
          const exists = fields.some((f) => f.name.toLowerCase() === field.name.toLowerCase());
          if (exists && !ifNotExists) throw invalidQuery(`Column already exists: ${field.name}`);
          if (!exists) fields.push(field);
        }
        await this.catalog.patchTable(target.projectId, target.datasetId, target.tableId, {
          ...(statement.addColumns.length > 0 ? { schema: { fields } } : {}),
          ...statement.options,
        });
        job.ddl = { operation: 'ALTER', table: target };
        return;
      }
    }
  }

  private async runQuery(job: Job, compiled: Compiled, config: QueryConfiguration): Promise<void> {
    if (job.dryRun) {
      const fields = await this.engine.read(async (connection) => {
        const prepared = await connection.prepare(compiled.sql);
        const result: Field[] = [];
        for (let i = 0; i < prepared.columnCount; i++)
          result.push(fieldFromDuckType(prepared.columnName(i), prepared.columnType(i)));
        return result;
      });
      checkColumnNames(fields);
      job.result = { fields, rows: [] };
      return;
    }
    const destination = config.destinationTable;
    if (destination?.tableId) {
      await this.writeDestination(job, compiled, destination, config);
      return;
    }
    const reader = await this.engine.read((connection) => connection.runAndReadAll(compiled.sql));
    const names = reader.columnNames();
    const fields = reader.columnTypes().map((type, i) => fieldFromDuckType(names[i]!, type));
    checkColumnNames(fields);
    job.result = { fields, rows: reader.getRows() };
  }

  /** Query results written to a table (configuration.query.destinationTable). */
  private async writeDestination(
    job: Job,
    compiled: Compiled,
    destination: { projectId?: string; datasetId?: string; tableId?: string },
    config: QueryConfiguration,
  ): Promise<void> {
    const projectId = destination.projectId ?? job.projectId;
    const datasetId = String(destination.datasetId ?? '');
    const tableId = String(destination.tableId);
    const write = text(config.writeDisposition ?? 'WRITE_EMPTY').toUpperCase();
    const create = text(config.createDisposition ?? 'CREATE_IF_NEEDED').toUpperCase();
    const existing = this.catalog.getTable(projectId, datasetId, tableId);
    const name = duckName(projectId, datasetId, tableId);
    if (!existing) {
      if (create === 'CREATE_NEVER') throw notFound(`Table ${projectId}:${datasetId}.${tableId}`);
      await this.catalog.createTable(projectId, datasetId, tableId, {}, { asQuery: compiled.sql });
    } else if (write === 'WRITE_TRUNCATE') {
      await this.catalog.createTable(projectId, datasetId, tableId, withoutSchema(existing), {
        orReplace: true,
        asQuery: compiled.sql,
      });
    } else if (write === 'WRITE_APPEND') {
      await this.engine.write((connection) =>
        connection.run(`INSERT INTO ${name} SELECT * FROM (${compiled.sql})`),
      );
    } else {
      const count = await this.engine.read((connection) =>
        connection.runAndReadAll(`SELECT count(*) FROM ${name}`),
      );
      if (Number(count.getRows()[0]?.[0] ?? 0) > 0)
        throw duplicate(`Table ${projectId}:${datasetId}.${tableId}`);
      await this.engine.write((connection) =>
        connection.run(`INSERT INTO ${name} SELECT * FROM (${compiled.sql})`),
      );
    }
    const table = this.catalog.requireTable(projectId, datasetId, tableId);
    const reader = await this.engine.read((connection) => connection.runAndReadAll(`SELECT * FROM ${name}`));
    job.result = { fields: table.schema, rows: reader.getRows() };
    job.configuration = {
      ...job.configuration,
      query: { ...(job.configuration.query as object), destinationTable: { projectId, datasetId, tableId } },
    };
  }

  /** Drops the results of the oldest jobs when too many rows or jobs are held. */
  private evict(): void {
    const all = [...this.jobs.values()].sort((a, b) => a.creationTime - b.creationTime);
    let rows = all.reduce((n, job) => n + (job.result?.rows.length ?? 0), 0);
    for (const job of all) {
      if (rows <= MAX_RETAINED_ROWS && this.jobs.size <= MAX_JOBS) break;
      if (job.state !== 'DONE') continue;
      rows -= job.result?.rows.length ?? 0;
      this.jobs.delete(Jobs.key(job.projectId, job.jobId));
    }
  }
}

function withoutSchema(table: {
  description?: string;
  labels?: Record<string, string>;
  clustering?: { fields: string[] };
  timePartitioning?: Record<string, unknown>;
}): TableInput {
  return {
    ...(table.description ? { description: table.description } : {}),
    ...(table.labels ? { labels: table.labels } : {}),
    ...(table.clustering ? { clustering: table.clustering } : {}),
    ...(table.timePartitioning ? { timePartitioning: table.timePartitioning } : {}),
  };
}

function statementType(statement: Statement): string {
  switch (statement.kind) {
    case 'query':
      return 'SELECT';
    case 'dml':
      return statement.statementType;
    case 'create_table':
      return statement.asQuery ? 'CREATE_TABLE_AS_SELECT' : 'CREATE_TABLE';
    case 'create_view':
      return 'CREATE_VIEW';
    case 'create_schema':
      return 'CREATE_SCHEMA';
    case 'drop':
      return `DROP_${statement.what}`;
    case 'alter_table':
      return 'ALTER_TABLE';
  }
}

/** BigQuery refuses results with two columns of the same name. */
function checkColumnNames(fields: readonly Field[]): void {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const field of fields) {
    const key = field.name.toLowerCase();
    if (seen.has(key)) duplicates.add(field.name);
    seen.add(key);
  }
  if (duplicates.size > 0)
    throw invalidQuery(
      `Duplicate column names in the result are not supported. Found duplicate(s): ${[...duplicates].join(', ')}`,
    );
}

/** The job resource (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job). */
export function jobResource(job: Job, baseUrl: string): Record<string, unknown> {
  const status: Record<string, unknown> = { state: job.state };
  if (job.state === 'DONE' && job.error) {
    status.errorResult = job.error.proto();
    status.errors = [job.error.proto()];
  }
  const query: Record<string, unknown> = {
    totalBytesProcessed: '0',
    totalBytesBilled: '0',
    cacheHit: false,
    ...(job.statementType ? { statementType: job.statementType } : {}),
  };
  if (job.result && job.state === 'DONE' && !job.error) query.schema = { fields: job.result.fields };
  if (job.numDmlAffectedRows !== undefined) {
    query.numDmlAffectedRows = String(job.numDmlAffectedRows);
    query.dmlStats = { affectedRowCount: String(job.numDmlAffectedRows) };
  }
  if (job.ddl) {
    query.ddlOperationPerformed = job.ddl.operation;
    if (job.ddl.table) query.ddlTargetTable = { ...job.ddl.table };
    if (job.ddl.dataset) query.ddlTargetDataset = { ...job.ddl.dataset };
  }
  return {
    kind: 'bigquery#job',
    etag: Buffer.from(`${job.jobId}:${job.state}`).toString('base64'),
    id: `${job.projectId}:${job.location}.${job.jobId}`,
    selfLink: `${baseUrl}/projects/${job.projectId}/jobs/${job.jobId}?location=${job.location}`,
    user_email: 'emulator@localhost',
    jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
    configuration: { ...job.configuration, ...(job.dryRun ? { dryRun: true } : {}) },
    status,
    statistics: {
      creationTime: String(job.creationTime),
      startTime: String(job.startTime),
      ...(job.endTime !== undefined ? { endTime: String(job.endTime) } : {}),
      totalBytesProcessed: '0',
      query,
    },
  };
}

export interface PageRequest {
  maxResults?: number;
  startIndex?: number;
  pageToken?: string;
  timestamps: TimestampFormat;
}

export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

export function decodePageToken(token: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through
  }
  throw invalid(`Invalid page token: ${token}`);
}

/** One page of a job's rows, in BigQuery's row format. */
export function resultPage(result: QueryResult, page: PageRequest): { rows: unknown[]; pageToken?: string } {
  const start = page.pageToken !== undefined ? decodePageToken(page.pageToken) : (page.startIndex ?? 0);
  const limit = page.maxResults ?? Number.POSITIVE_INFINITY;
  const rows: unknown[] = [];
  let bytes = 0;
  let index = start;
  for (; index < result.rows.length && rows.length < limit; index++) {
    const row = formatRow(result.fields, result.rows[index]!, page.timestamps);
    bytes += JSON.stringify(row).length;
    if (rows.length > 0 && bytes > MAX_PAGE_BYTES) break;
    rows.push(row);
  }
  return index < result.rows.length ? { rows, pageToken: encodePageToken(index) } : { rows };
}
