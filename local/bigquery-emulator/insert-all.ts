/**
 * tabledata.insertAll: BigQuery's streaming insert
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll). Rows are checked
 * against the schema one by one; with skipInvalidRows=false a request with any bad row inserts
 * nothing and reports its good rows as "stopped". Rows carrying an insertId already seen for the
 * table within the de-duplication window (BigQuery's best effort: about a minute) are dropped
 * silently, as BigQuery does. Valid rows go to DuckDB through its appender, under the writer lock,
 * so that de-duplication and the append are one step.
 */
import { DuckDBDataChunk, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { Catalog, schemaName } from './catalog.ts';
import type { Engine } from './engine.ts';
import { invalid } from './errors.ts';
import { convertRow, type RowError } from './values.ts';

export interface InsertAllResponse {
  kind: 'bigquery#tableDataInsertAllResponse';
  insertErrors?: { index: number; errors: RowError[] }[];
}

/** insertIds seen per table, each remembered for `windowMs`. */
export class InsertIdWindow {
  private readonly tables = new Map<string, Map<string, number>>();
  private readonly windowMs: number;
  private readonly clock: () => number;

  constructor(windowMs: number, clock: () => number = Date.now) {
    this.windowMs = windowMs;
    this.clock = clock;
  }

  private live(table: string): Map<string, number> {
    let ids = this.tables.get(table);
    if (!ids) {
      ids = new Map();
      this.tables.set(table, ids);
    }
    // Ids are kept in insertion order, so expired ones are at the front.
    const now = this.clock();
    for (const [id, expires] of ids) {
      if (expires > now) break;
      ids.delete(id);
    }
    return ids;
  }

  has(table: string, insertId: string): boolean {
    return this.live(table).has(insertId);
  }

  remember(table: string, insertIds: readonly string[]): void {
    const ids = this.live(table);
    const expires = this.clock() + this.windowMs;
    for (const id of insertIds) {
      ids.delete(id);
      ids.set(id, expires);
    }
  }

  forget(table: string): void {
    this.tables.delete(table);
  }
}

const REQUEST_FIELDS = new Set([
  'kind',
  'skipInvalidRows',
  'ignoreUnknownValues',
  'templateSuffix',
  'rows',
  'traceId',
]);
const ROW_FIELDS = new Set(['insertId', 'json']);
const MAX_ROWS = 50_000;
const STOPPED: RowError = { reason: 'stopped', location: '', debugInfo: '', message: '' };

function unknownName(name: string, where: string) {
  return invalid(`Invalid JSON payload received. Unknown name "${name}"${where}: Cannot find field.`);
}

export async function insertAll(
  engine: Engine,
  catalog: Catalog,
  window: InsertIdWindow,
  ref: { projectId: string; datasetId: string; tableId: string },
  body: unknown,
): Promise<InsertAllResponse> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('Invalid JSON payload received. Expected an object.');
  const request = body as Record<string, unknown>;
  for (const key of Object.keys(request)) if (!REQUEST_FIELDS.has(key)) throw unknownName(key, '');
  if (typeof request.templateSuffix === 'string' && request.templateSuffix !== '')
    throw invalid('templateSuffix is not supported by the BigQuery emulator');
  const rows = request.rows;
  if (rows !== undefined && !Array.isArray(rows))
    throw invalid(`Invalid JSON payload received. Invalid value at 'rows': expected a list.`);
  if (!rows || rows.length === 0) throw invalid('No rows present in the request.');
  if (rows.length > MAX_ROWS)
    throw invalid(`too many rows present in the request, limit: ${MAX_ROWS} row count: ${rows.length}.`);
  const skipInvalidRows = request.skipInvalidRows === true;
  const ignoreUnknownValues = request.ignoreUnknownValues === true;

  const checked = rows.map((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalid(`Invalid JSON payload received. Invalid value at 'rows[${index}]': expected an object.`);
    const row = raw as Record<string, unknown>;
    for (const key of Object.keys(row))
      if (!ROW_FIELDS.has(key)) throw unknownName(key, ` at 'rows[${index}]'`);
    if (row.insertId !== undefined && typeof row.insertId !== 'string')
      throw invalid(
        `Invalid JSON payload received. Invalid value at 'rows[${index}].insert_id': expected a string.`,
      );
    if (
      row.json !== undefined &&
      (typeof row.json !== 'object' || row.json === null || Array.isArray(row.json))
    )
      throw invalid(
        `Invalid JSON payload received. Invalid value at 'rows[${index}].json': expected an object.`,
      );
    return { insertId: row.insertId, json: row.json ?? {} };
  });

  // Checking, de-duplicating and appending under the writer lock: the schema cannot change in
  // between, and two requests carrying the same insertId cannot both get in.
  return engine.write(async (connection) => {
    const table = catalog.requireTable(ref.projectId, ref.datasetId, ref.tableId);
    if (table.type === 'VIEW')
      throw invalid(`Cannot add rows to a view: ${ref.projectId}:${ref.datasetId}.${ref.tableId}`);
    const converted = checked.map((row) => ({
      insertId: row.insertId,
      ...convertRow(table.schema, row.json, ignoreUnknownValues),
    }));
    const invalidRows = converted.flatMap((row, index) =>
      row.errors.length > 0 ? [{ index, errors: row.errors }] : [],
    );
    if (invalidRows.length > 0 && !skipInvalidRows) {
      return {
        kind: 'bigquery#tableDataInsertAllResponse' as const,
        insertErrors: converted.map((row, index) => ({
          index,
          errors: row.errors.length > 0 ? row.errors : [{ ...STOPPED }],
        })),
      };
    }
    const key = Catalog.key(table);
    const seenHere = new Set<string>();
    const fresh: { values: DuckDBValue[]; insertId: string | undefined }[] = [];
    for (const row of converted) {
      if (row.errors.length > 0) continue;
      if (row.insertId !== undefined && row.insertId !== '') {
        if (seenHere.has(row.insertId) || window.has(key, row.insertId)) continue;
        seenHere.add(row.insertId);
      }
      fresh.push({ values: row.values, insertId: row.insertId });
    }
    if (fresh.length > 0 && table.materialized) {
      const appender = await connection.createAppender(
        table.tableId,
        schemaName(table.projectId, table.datasetId),
      );
      try {
        const types: DuckDBType[] = [];
        for (let i = 0; i < appender.columnCount; i++) types.push(appender.columnType(i));
        const chunkSize = 2048;
        for (let start = 0; start < fresh.length; start += chunkSize) {
          const chunk = DuckDBDataChunk.create(types);
          chunk.setRows(fresh.slice(start, start + chunkSize).map((r) => r.values));
          appender.appendDataChunk(chunk);
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      window.remember(
        key,
        fresh.flatMap((r) => (r.insertId ? [r.insertId] : [])),
      );
    }
    return invalidRows.length > 0
      ? { kind: 'bigquery#tableDataInsertAllResponse' as const, insertErrors: invalidRows }
      : { kind: 'bigquery#tableDataInsertAllResponse' as const };
  });
}
