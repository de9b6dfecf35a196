/**
 * The REST surface: BigQuery API v2 routes under /bigquery/v2 (as the client library and `bq` call
 * them), JSON in and out, every failure in BigQuery's error shape. Handlers are thin: they read the
 * request, call the catalog, the insertAll path or the job store, and render resources.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Catalog } from './catalog.ts';
import { duckName } from './catalog.ts';
import { discoveryDocument } from './discovery.ts';
import type { Engine } from './engine.ts';
import { ApiError, internal, invalid, notFound } from './errors.ts';
import { insertAll, type InsertIdWindow } from './insert-all.ts';
import type { Jobs } from './jobs.ts';
import { decodePageToken, encodePageToken, jobResource, resultPage, type Job } from './jobs.ts';
import { datasetListEntry, datasetResource, tableListEntry, tableResource } from './resources.ts';
import { findField, type Field } from './schema.ts';
import type { TimestampFormat } from './values.ts';

export interface Services {
  engine: Engine;
  catalog: Catalog;
  jobs: Jobs;
  insertIds: InsertIdWindow;
  /** One line per request (verbose mode). */
  log: (line: string) => void;
  /** Failures that are the emulator's own fault: always reported, never sent to clients. */
  warn: (line: string) => void;
}

interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  params: string[];
  /** http://host:port, for selfLinks and the discovery document. */
  root: string;
}

type Handler = (request: Request) => unknown;

/** Google's frontends reject bodies over 10 MB (insertAll's documented limit). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
const NO_CONTENT = Symbol('no content');

export function createServer(services: Services): http.Server {
  const routes = buildRoutes(services);
  return http.createServer((req, res) => {
    handle(req, res, routes, services).catch((error: unknown) => {
      services.warn(`unexpected failure: ${describeError(error)}`);
      if (!res.headersSent) send(res, 500, internal(error).body());
      else res.destroy();
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: Route[],
  services: Services,
): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? '/', 'http://emulator');
  const method = (req.method ?? 'GET').toUpperCase();
  const root = `http://${req.headers.host ?? 'localhost'}`;
  let status = 200;
  try {
    const body = await readBody(req);
    const match = route(routes, method, url.pathname);
    const result: unknown = await match.handler({
      method,
      path: url.pathname,
      query: url.searchParams,
      body,
      params: match.params,
      root,
    });
    if (result === NO_CONTENT) {
      status = 204;
      res.writeHead(204).end();
    } else send(res, 200, result);
  } catch (error) {
    const apiError = error instanceof ApiError ? error : internal(error);
    if (apiError.code >= 500)
      services.warn(`internal error on ${method} ${url.pathname}: ${describeError(apiError.cause ?? error)}`);
    status = apiError.code;
    send(res, apiError.code, apiError.body());
  }
  services.log(`${method} ${url.pathname} ${status} ${Math.round(performance.now() - started)}ms`);
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw invalid(`Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  let raw = Buffer.concat(chunks);
  if (/gzip/i.test(String(req.headers['content-encoding'] ?? ''))) {
    try {
      raw = gunzipSync(raw);
    } catch {
      throw new ApiError(400, 'parseError', 'Invalid gzip payload received.');
    }
  }
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const detail = error instanceof SyntaxError ? ` ${error.message}` : '';
    throw new ApiError(400, 'parseError', `Invalid JSON payload received.${detail}`);
  }
}

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

function route(routes: Route[], method: string, pathname: string): { handler: Handler; params: string[] } {
  let pathMatched = false;
  for (const candidate of routes) {
    const match = candidate.pattern.exec(pathname);
    if (!match) continue;
    pathMatched = true;
    if (candidate.method !== method) continue;
    try {
      return { handler: candidate.handler, params: match.slice(1).map((p) => decodeURIComponent(p)) };
    } catch {
      throw invalid(`Invalid URL encoding in ${pathname}`);
    }
  }
  if (pathMatched) throw notFound(`Method ${method} is not supported on ${pathname}`);
  throw notFound(`URL ${pathname} (the BigQuery emulator serves /bigquery/v2/projects/...)`);
}

const SEGMENT = '([^/]+)';
const BASE = '^/bigquery/v2';

function object(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('Invalid JSON payload received. Expected an object.');
  return body as Record<string, unknown>;
}

function integer(query: URLSearchParams, name: string, fallback?: number): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw invalid(`Invalid value for ${name}: ${value}`);
  return Number(value);
}

function flag(query: URLSearchParams, name: string): boolean {
  return (query.get(name) ?? '').toLowerCase() === 'true';
}

function timestampFormat(useInt64: unknown, outputFormat: unknown): TimestampFormat {
  const format = typeof outputFormat === 'string' ? outputFormat.toUpperCase() : '';
  if (format === 'INT64' || format === 'FLOAT64' || format === 'ISO8601_STRING') return format;
  return useInt64 === true || String(useInt64).toLowerCase() === 'true' ? 'INT64' : 'FLOAT64';
}

/** Offset-based paging over a sorted list (datasets, tables, jobs). */
function page<T>(
  items: readonly T[],
  query: URLSearchParams,
  defaultSize: number,
): { items: T[]; nextPageToken?: string } {
  const start = query.get('pageToken') ? decodePageToken(query.get('pageToken')!) : 0;
  const size = integer(query, 'maxResults', defaultSize)!;
  const slice = items.slice(start, start + Math.max(1, size));
  return start + slice.length < items.length
    ? { items: slice, nextPageToken: encodePageToken(start + slice.length) }
    : { items: slice };
}

function buildRoutes(s: Services): Route[] {
  const routes: Route[] = [];
  const add = (method: string, path: string, handler: Handler) =>
    routes.push({ method, pattern: new RegExp(`${path}/?$`), handler });
  const api = (root: string) => `${root}/bigquery/v2`;

  const discovery: Handler = (r) => discoveryDocument(r.root);
  add('GET', '^/\\$discovery/rest', discovery);
  add('GET', '^/discovery/v1/apis/bigquery/v2/rest', discovery);

  add('GET', `${BASE}/projects`, (r) => {
    const projects = s.catalog.projectIds();
    return {
      kind: 'bigquery#projectList',
      totalItems: projects.length,
      projects: projects.map((id) => ({
        kind: 'bigquery#project',
        id,
        numericId: '0',
        projectReference: { projectId: id },
        friendlyName: id,
      })),
      etag: r.path,
    };
  });
  add('GET', `${BASE}/projects/${SEGMENT}/serviceAccount`, (r) => ({
    kind: 'bigquery#getServiceAccountResponse',
    email: `bq-emulator@${r.params[0]}.iam.gserviceaccount.com`,
  }));

  // Datasets.
  add('POST', `${BASE}/projects/${SEGMENT}/datasets`, async (r) => {
    const [projectId] = r.params as [string];
    const body = object(r.body);
    const reference = (body.datasetReference ?? {}) as { datasetId?: unknown; projectId?: unknown };
    if (typeof reference.datasetId !== 'string' || reference.datasetId === '')
      throw invalid('Required parameter is missing: datasetReference.datasetId');
    const dataset = await s.catalog.createDataset(
      typeof reference.projectId === 'string' ? reference.projectId : projectId,
      reference.datasetId,
      body,
    );
    return datasetResource(dataset, api(r.root));
  });
  add('GET', `${BASE}/projects/${SEGMENT}/datasets`, (r) => {
    const [projectId] = r.params as [string];
    // Datasets whose names start with an underscore are hidden unless `all` is set.
    let datasets = s.catalog
      .listDatasets(projectId)
      .filter((d) => flag(r.query, 'all') || !d.datasetId.startsWith('_'));
    const filter = r.query.get('filter');
    if (filter) {
      const terms = filter.split(/\s+/).map((t) => /^labels\.([^:]+)(?::(.*))?$/.exec(t));
      datasets = datasets.filter((d) =>
        terms.every(
          (t) => t && d.labels?.[t[1]!] !== undefined && (t[2] === undefined || d.labels[t[1]!] === t[2]),
        ),
      );
    }
    const { items, nextPageToken } = page(datasets, r.query, 1000);
    return {
      kind: 'bigquery#datasetList',
      etag: String(datasets.length),
      ...(items.length > 0 ? { datasets: items.map(datasetListEntry) } : {}),
      ...(nextPageToken ? { nextPageToken } : {}),
    };
  });
  add('GET', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}`, (r) => {
    const [projectId, datasetId] = r.params as [string, string];
    return datasetResource(s.catalog.requireDataset(projectId, datasetId), api(r.root));
  });
  const patchDataset: Handler = async (r) => {
    const [projectId, datasetId] = r.params as [string, string];
    return datasetResource(await s.catalog.patchDataset(projectId, datasetId, object(r.body)), api(r.root));
  };
  add('PATCH', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}`, patchDataset);
  add('PUT', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}`, patchDataset);
  add('DELETE', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}`, async (r) => {
    const [projectId, datasetId] = r.params as [string, string];
    await s.catalog.deleteDataset(projectId, datasetId, flag(r.query, 'deleteContents'));
    return NO_CONTENT;
  });

  // Tables.
  add('POST', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables`, async (r) => {
    const [projectId, datasetId] = r.params as [string, string];
    const body = object(r.body);
    const reference = (body.tableReference ?? {}) as { tableId?: unknown };
    if (typeof reference.tableId !== 'string' || reference.tableId === '')
      throw invalid('Required parameter is missing: tableReference.tableId');
    const { table } = await s.catalog.createTable(projectId, datasetId, reference.tableId, body);
    return tableResource(table, api(r.root), table.type === 'TABLE' ? 0 : undefined);
  });
  add('GET', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables`, (r) => {
    const [projectId, datasetId] = r.params as [string, string];
    s.catalog.requireDataset(projectId, datasetId);
    const tables = s.catalog.listTables(projectId, datasetId);
    const { items, nextPageToken } = page(tables, r.query, 1000);
    return {
      kind: 'bigquery#tableList',
      etag: String(tables.length),
      ...(items.length > 0 ? { tables: items.map(tableListEntry) } : {}),
      totalItems: tables.length,
      ...(nextPageToken ? { nextPageToken } : {}),
    };
  });
  add('GET', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}`, async (r) => {
    const [projectId, datasetId, tableId] = r.params as [string, string, string];
    const table = s.catalog.requireTable(projectId, datasetId, tableId);
    await s.catalog.refreshViewSchema(table);
    return tableResource(table, api(r.root), await rowCount(s, table));
  });
  const patchTable =
    (replace: boolean): Handler =>
    async (r) => {
      const [projectId, datasetId, tableId] = r.params as [string, string, string];
      const table = await s.catalog.patchTable(projectId, datasetId, tableId, object(r.body), replace);
      return tableResource(table, api(r.root), await rowCount(s, table));
    };
  add('PATCH', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}`, patchTable(false));
  add('PUT', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}`, patchTable(true));
  add('DELETE', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}`, async (r) => {
    const [projectId, datasetId, tableId] = r.params as [string, string, string];
    await s.catalog.deleteTable(projectId, datasetId, tableId);
    return NO_CONTENT;
  });
  for (const action of ['getIamPolicy', 'setIamPolicy', 'testIamPermissions'])
    add('POST', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}:${action}`, () => {
      throw invalid(`${action} is not supported by the BigQuery emulator`);
    });

  // Table data.
  add('POST', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}/insertAll`, (r) => {
    const [projectId, datasetId, tableId] = r.params as [string, string, string];
    return insertAll(s.engine, s.catalog, s.insertIds, { projectId, datasetId, tableId }, r.body);
  });
  add('GET', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/tables/${SEGMENT}/data`, (r) => {
    const [projectId, datasetId, tableId] = r.params as [string, string, string];
    return listTableData(s, r, projectId, datasetId, tableId);
  });

  // Routines and models: none exist in the emulator, but listing them works.
  add('GET', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/routines`, (r) => {
    s.catalog.requireDataset(r.params[0]!, r.params[1]!);
    return {};
  });
  add('GET', `${BASE}/projects/${SEGMENT}/datasets/${SEGMENT}/models`, (r) => {
    s.catalog.requireDataset(r.params[0]!, r.params[1]!);
    return {};
  });

  // Jobs.
  add('POST', `${BASE}/projects/${SEGMENT}/jobs`, async (r) => {
    const [projectId] = r.params as [string];
    const body = object(r.body);
    const reference = (body.jobReference ?? {}) as { projectId?: unknown };
    const job = s.jobs.start(
      typeof reference.projectId === 'string' && reference.projectId ? reference.projectId : projectId,
      body,
    );
    // Short queries finish here, which spares the client a poll.
    await s.jobs.wait(job, 2_000);
    return jobResource(job, api(r.root));
  });
  add('GET', `${BASE}/projects/${SEGMENT}/jobs`, (r) => {
    const [projectId] = r.params as [string];
    const states = (r.query.getAll('stateFilter').join(',') || '').toLowerCase().split(',').filter(Boolean);
    const min = integer(r.query, 'minCreationTime');
    const max = integer(r.query, 'maxCreationTime');
    const minimal = (r.query.get('projection') ?? 'minimal').toLowerCase() === 'minimal';
    const jobs = s.jobs
      .list(projectId)
      .filter((j) => states.length === 0 || states.includes(j.state === 'DONE' ? 'done' : 'running'))
      .filter(
        (j) => (min === undefined || j.creationTime >= min) && (max === undefined || j.creationTime <= max),
      );
    const { items, nextPageToken } = page(jobs, r.query, 1000);
    return {
      kind: 'bigquery#jobList',
      etag: String(jobs.length),
      ...(items.length > 0
        ? {
            jobs: items.map((job) => {
              const resource = jobResource(job, api(r.root));
              const entry: Record<string, unknown> = {
                id: resource.id,
                kind: resource.kind,
                jobReference: resource.jobReference,
                state: job.state,
                statistics: resource.statistics,
                status: resource.status,
                user_email: resource.user_email,
                ...(job.error ? { errorResult: job.error.proto() } : {}),
              };
              if (!minimal) entry.configuration = resource.configuration;
              else entry.configuration = { jobType: 'QUERY' };
              return entry;
            }),
          }
        : {}),
      ...(nextPageToken ? { nextPageToken } : {}),
    };
  });
  add('GET', `${BASE}/projects/${SEGMENT}/jobs/${SEGMENT}`, (r) => {
    const [projectId, jobId] = r.params as [string, string];
    return jobResource(s.jobs.get(projectId, jobId), api(r.root));
  });
  add('POST', `${BASE}/projects/${SEGMENT}/jobs/${SEGMENT}/cancel`, (r) => {
    const [projectId, jobId] = r.params as [string, string];
    const job = s.jobs.get(projectId, jobId);
    s.jobs.cancel(job);
    return { kind: 'bigquery#jobCancelResponse', job: jobResource(job, api(r.root)) };
  });
  add('DELETE', `${BASE}/projects/${SEGMENT}/jobs/${SEGMENT}/delete`, (r) => {
    const [projectId, jobId] = r.params as [string, string];
    s.jobs.delete(projectId, jobId);
    return NO_CONTENT;
  });
  const requestIds = new Map<string, { job: Job; expires: number }>();
  add('POST', `${BASE}/projects/${SEGMENT}/queries`, async (r) => {
    const [projectId] = r.params as [string];
    const body = object(r.body);
    if (typeof body.query !== 'string') throw invalid('Required parameter is missing: query');
    const format = (body.formatOptions ?? {}) as {
      useInt64Timestamp?: unknown;
      timestampOutputFormat?: unknown;
    };
    const timestamps = timestampFormat(format.useInt64Timestamp, format.timestampOutputFormat);
    const requestId = typeof body.requestId === 'string' ? `${projectId}:${body.requestId}` : undefined;
    const now = Date.now();
    for (const [id, entry] of requestIds) if (entry.expires < now) requestIds.delete(id);
    let job = requestId ? requestIds.get(requestId)?.job : undefined;
    if (!job) {
      const configuration: Record<string, unknown> = {
        query: {
          query: body.query,
          useLegacySql: body.useLegacySql ?? true,
          ...(body.defaultDataset ? { defaultDataset: body.defaultDataset } : {}),
          ...(body.queryParameters ? { queryParameters: body.queryParameters } : {}),
          ...(body.parameterMode ? { parameterMode: body.parameterMode } : {}),
          ...(body.maximumBytesBilled ? { maximumBytesBilled: body.maximumBytesBilled } : {}),
        },
        ...(body.dryRun === true ? { dryRun: true } : {}),
        ...(body.labels ? { labels: body.labels } : {}),
      };
      job = s.jobs.start(projectId, {
        jobReference: {
          projectId,
          ...(typeof body.location === 'string' ? { location: body.location } : {}),
        },
        configuration,
      });
      if (requestId) requestIds.set(requestId, { job, expires: now + 10 * 60_000 });
    }
    const timeout = typeof body.timeoutMs === 'number' ? body.timeoutMs : DEFAULT_QUERY_TIMEOUT_MS;
    const complete = await s.jobs.wait(job, timeout);
    const maxResults = typeof body.maxResults === 'number' ? body.maxResults : undefined;
    return queryResults(
      job,
      complete,
      { timestamps, ...(maxResults !== undefined ? { maxResults } : {}) },
      'bigquery#queryResponse',
    );
  });
  add('GET', `${BASE}/projects/${SEGMENT}/queries/${SEGMENT}`, async (r) => {
    const [projectId, jobId] = r.params as [string, string];
    const job = s.jobs.get(projectId, jobId);
    const complete = await s.jobs.wait(job, integer(r.query, 'timeoutMs', DEFAULT_QUERY_TIMEOUT_MS)!);
    const maxResults = integer(r.query, 'maxResults');
    const startIndex = integer(r.query, 'startIndex');
    const pageToken = r.query.get('pageToken');
    return queryResults(
      job,
      complete,
      {
        timestamps: timestampFormat(
          r.query.get('formatOptions.useInt64Timestamp'),
          r.query.get('formatOptions.timestampOutputFormat'),
        ),
        ...(maxResults !== undefined ? { maxResults } : {}),
        ...(startIndex !== undefined ? { startIndex } : {}),
        ...(pageToken ? { pageToken } : {}),
      },
      'bigquery#getQueryResultsResponse',
    );
  });

  return routes;
}

/** jobs.query and jobs.getQueryResults: a page of a finished job, or jobComplete: false. */
function queryResults(
  job: Job,
  complete: boolean,
  paging: { timestamps: TimestampFormat; maxResults?: number; startIndex?: number; pageToken?: string },
  kind: string,
): Record<string, unknown> {
  const jobReference = { projectId: job.projectId, jobId: job.jobId, location: job.location };
  if (!complete) return { kind, jobReference, jobComplete: false };
  if (job.error) throw job.error;
  const response: Record<string, unknown> = {
    kind,
    etag: Buffer.from(job.jobId).toString('base64'),
    jobReference,
    totalBytesProcessed: '0',
    jobComplete: true,
    cacheHit: false,
  };
  if (job.result) {
    response.schema = { fields: job.result.fields };
    response.totalRows = String(job.result.rows.length);
    if (!job.dryRun) {
      const { rows, pageToken } = resultPage(job.result, paging);
      if (rows.length > 0) response.rows = rows;
      if (pageToken) response.pageToken = pageToken;
    }
  }
  if (job.numDmlAffectedRows !== undefined) response.numDmlAffectedRows = String(job.numDmlAffectedRows);
  if (job.statementType && job.statementType !== 'SELECT' && !job.result) response.totalRows = '0';
  return response;
}

async function rowCount(
  s: Services,
  table: { type: string; materialized: boolean; projectId: string; datasetId: string; tableId: string },
): Promise<number | undefined> {
  if (table.type !== 'TABLE') return undefined;
  if (!table.materialized) return 0;
  const reader = await s.engine.read((connection) =>
    connection.runAndReadAll(
      `SELECT count(*) FROM ${duckName(table.projectId, table.datasetId, table.tableId)}`,
    ),
  );
  return Number(reader.getRows()[0]?.[0] ?? 0);
}

/** tabledata.list: rows in insertion order, paged by offset. */
async function listTableData(
  s: Services,
  r: Request,
  projectId: string,
  datasetId: string,
  tableId: string,
): Promise<unknown> {
  const table = s.catalog.requireTable(projectId, datasetId, tableId);
  if (table.type === 'VIEW') throw invalid('Cannot list a table of type VIEW.');
  const timestamps = timestampFormat(
    r.query.get('formatOptions.useInt64Timestamp'),
    r.query.get('formatOptions.timestampOutputFormat'),
  );
  const pageToken = r.query.get('pageToken');
  const start = pageToken ? decodePageToken(pageToken) : (integer(r.query, 'startIndex', 0) ?? 0);
  const maxResults = integer(r.query, 'maxResults');
  let fields: Field[] = table.schema;
  const selected = r.query.get('selectedFields');
  if (selected) {
    const names = new Set(selected.split(',').map((n) => n.trim().split('.')[0]!.toLowerCase()));
    fields = table.schema.filter((f) => names.has(f.name.toLowerCase()));
    for (const name of names)
      if (!findField(table.schema, name)) throw invalid(`Invalid field selection ${name}`);
  }
  const total = (await rowCount(s, table)) ?? 0;
  const response: Record<string, unknown> = {
    kind: 'bigquery#tableDataList',
    etag: table.etag,
    totalRows: String(total),
  };
  if (!table.materialized || fields.length === 0 || start >= total) return response;
  const limit = Math.min(maxResults ?? 100_000, 100_000);
  const columns = fields.map((f) => `"${f.name.replaceAll('"', '""')}"`).join(', ');
  const reader = await s.engine.read((connection) =>
    connection.runAndReadAll(
      `SELECT ${columns} FROM ${duckName(projectId, datasetId, tableId)} ORDER BY rowid LIMIT ${limit} OFFSET ${start}`,
    ),
  );
  const rows = resultPage({ fields, rows: reader.getRows() }, { timestamps });
  const returned = rows.pageToken ? decodePageToken(rows.pageToken) : rows.rows.length;
  if (rows.rows.length > 0) response.rows = rows.rows;
  if (start + returned < total) response.pageToken = encodePageToken(start + returned);
  return response;
}
