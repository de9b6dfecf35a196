/** Malformed and unsupported requests, answered in BigQuery's error shape with its HTTP statuses. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

interface ErrorBody {
  error: {
    code: number;
    message: string;
    status: string;
    errors: { message: string; domain: string; reason: string; location?: string }[];
  };
}

describe('BigQuery emulator: errors', () => {
  let bq: EmulatedBigQuery;
  let dataset: string;
  before(async () => {
    bq = await startEmulatedBigQuery();
    dataset = datasetName('errors');
    await bq.client.createDataset(dataset);
    await bq.client.dataset(dataset).createTable('t', { schema: [{ name: 'x', type: 'STRING' }] });
  });
  after(() => bq.stop());

  const expectError = (
    response: { status: number; body: unknown },
    status: number,
    reason: string,
    message: RegExp,
    apiStatus: string,
  ) => {
    assert.equal(response.status, status, JSON.stringify(response.body));
    const { error } = response.body as ErrorBody;
    assert.equal(error.code, status);
    assert.equal(error.status, apiStatus);
    assert.equal(error.errors.length, 1);
    assert.equal(error.errors[0]!.reason, reason);
    assert.equal(error.errors[0]!.domain, 'global');
    assert.equal(error.errors[0]!.message, error.message);
    assert.match(error.message, message);
  };

  it('answers malformed bodies, unknown routes and wrong methods', async () => {
    expectError(
      await bq.request('POST', `/projects/${TEST_PROJECT}/datasets`, '{"datasetReference":'),
      400,
      'parseError',
      /^Invalid JSON payload received\./,
      'INVALID_ARGUMENT',
    );
    expectError(
      await bq.request('POST', `/projects/${TEST_PROJECT}/datasets`, '[1, 2]'),
      400,
      'invalid',
      /Expected an object/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await bq.request('POST', `/projects/${TEST_PROJECT}/datasets`, {}),
      400,
      'invalid',
      /datasetReference\.datasetId/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await bq.request('GET', `/projects/${TEST_PROJECT}/widgets`),
      404,
      'notFound',
      /^Not found: URL/,
      'NOT_FOUND',
    );
    expectError(
      await bq.request('PUT', `/projects/${TEST_PROJECT}/datasets`),
      404,
      'notFound',
      /Method PUT is not supported/,
      'NOT_FOUND',
    );
    const outside = await fetch(`${bq.url}/storage/v1/b`);
    assert.equal(outside.status, 404);
    assert.equal(((await outside.json()) as ErrorBody).error.errors[0]!.reason, 'notFound');
  });

  it('answers 404 and 409 as BigQuery does', async () => {
    expectError(
      await bq.request('GET', `/projects/${TEST_PROJECT}/datasets/${dataset}_missing`),
      404,
      'notFound',
      new RegExp(`^Not found: Dataset ${TEST_PROJECT}:${dataset}_missing$`),
      'NOT_FOUND',
    );
    expectError(
      await bq.request('GET', `/projects/${TEST_PROJECT}/datasets/${dataset}/tables/missing`),
      404,
      'notFound',
      new RegExp(`^Not found: Table ${TEST_PROJECT}:${dataset}\\.missing$`),
      'NOT_FOUND',
    );
    expectError(
      await bq.request('GET', `/projects/${TEST_PROJECT}/jobs/no_such_job`),
      404,
      'notFound',
      /^Not found: Job conveyor-test:no_such_job$/,
      'NOT_FOUND',
    );
    expectError(
      await bq.request('POST', `/projects/${TEST_PROJECT}/datasets`, {
        datasetReference: { datasetId: dataset },
      }),
      409,
      'duplicate',
      new RegExp(`^Already Exists: Dataset ${TEST_PROJECT}:${dataset}$`),
      'ALREADY_EXISTS',
    );
    expectError(
      await bq.request('POST', `/projects/${TEST_PROJECT}/datasets/${dataset}/tables`, {
        tableReference: { tableId: 't' },
        schema: { fields: [{ name: 'x', type: 'STRING' }] },
      }),
      409,
      'duplicate',
      /^Already Exists: Table/,
      'ALREADY_EXISTS',
    );
  });

  it('validates resources before creating them', async () => {
    const table = (schema: unknown) =>
      bq.request('POST', `/projects/${TEST_PROJECT}/datasets/${dataset}/tables`, {
        tableReference: { tableId: 'bad' },
        schema,
      });
    expectError(
      await table({ fields: [{ name: 'x', type: 'TEXT' }] }),
      400,
      'invalid',
      /Invalid value for type: TEXT/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await table({
        fields: [
          { name: 'x', type: 'STRING' },
          { name: 'X', type: 'STRING' },
        ],
      }),
      400,
      'invalid',
      /Field X already exists/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await table({ fields: [{ name: 'r', type: 'RECORD' }] }),
      400,
      'invalid',
      /type RECORD but has no schema/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await table({ fields: [{ name: 'x', type: 'STRING', mode: 'OPTIONAL' }] }),
      400,
      'invalid',
      /Invalid value for mode/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await bq.request('POST', `/projects/${TEST_PROJECT}/datasets`, {
        datasetReference: { datasetId: 'has-dash' },
      }),
      400,
      'invalid',
      /Invalid dataset ID "has-dash"/,
      'INVALID_ARGUMENT',
    );
    expectError(
      await bq.request(
        'GET',
        `/projects/${TEST_PROJECT}/datasets/${dataset}/tables/t/data?pageToken=garbage`,
      ),
      400,
      'invalid',
      /Invalid page token/,
      'INVALID_ARGUMENT',
    );
  });

  it('answers query errors as invalidQuery, located in the GoogleSQL text', async () => {
    const query = (sql: string) =>
      bq.request('POST', `/projects/${TEST_PROJECT}/queries`, {
        query: sql,
        useLegacySql: false,
        defaultDataset: { datasetId: dataset },
      });
    const cases: [string, RegExp][] = [
      ['SELECT x FROM t WHERE', /^Syntax error: Unexpected end of script at \[1:22\]$/],
      ['SELECT x\nFROM t\nWHERE y = 1', /^Unrecognized name: y at \[3:7\]$/],
      ['SELECT x FROM t GROUP BY 2', /GROUP BY/],
      ['SELECT PIVOT_ME(x) FROM t', /^Function not found: PIVOT_ME at \[1:8\]$/],
      [
        'SELECT ST_GEOGPOINT(1, 2)',
        /^Function ST_GEOGPOINT is not supported by the BigQuery emulator at \[1:8\]$/,
      ],
      [
        'DECLARE x INT64',
        /^Scripting statements \(DECLARE\) are not supported by the BigQuery emulator at \[1:1\]$/,
      ],
      [
        'SELECT * FROM t TABLESAMPLE SYSTEM (10 PERCENT)',
        /TABLESAMPLE is not supported by the BigQuery emulator/,
      ],
      [
        'SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS',
        /INFORMATION_SCHEMA is not supported by the BigQuery emulator/,
      ],
      ["SELECT 'unterminated", /^Syntax error: Unclosed string literal at \[1:8\]$/],
      ['SELECT x::INT64 FROM t', /^Syntax error: Unexpected ":" at \[1:9\]$/],
      ['SELECT a.b.c.d FROM t', /Unrecognized name|not found/],
    ];
    for (const [sql, message] of cases)
      expectError(await query(sql), 400, 'invalidQuery', message, 'INVALID_ARGUMENT');
    expectError(
      await query('SELECT * FROM missing_table'),
      404,
      'notFound',
      /^Not found: Table conveyor-test:errors_\w+\.missing_table was not found in location US$/,
      'NOT_FOUND',
    );
  });

  it('keeps serving after bad requests and under concurrent load', async () => {
    const path = `/projects/${TEST_PROJECT}/datasets/${dataset}/tables/t/insertAll`;
    const work = Array.from({ length: 40 }, (_, i) =>
      i % 4 === 0
        ? bq.request('POST', path, '\u0000\u0001 not json')
        : i % 4 === 1
          ? bq.request('POST', path, { rows: [{ insertId: `r${i}`, json: { x: String(i) } }] })
          : bq.request('POST', `/projects/${TEST_PROJECT}/queries`, {
              query: 'SELECT COUNT(*) AS n FROM t',
              useLegacySql: false,
              defaultDataset: { datasetId: dataset },
            }),
    );
    const responses = await Promise.all(work);
    assert.deepEqual([...new Set(responses.map((r) => r.status))].sort(), [200, 400]);
    const [rows] = await bq.client.query(`SELECT COUNT(*) AS n FROM ${dataset}.t`);
    assert.deepEqual(rows, [{ n: 10 }]);
  });

  it('answers any token soup with a result or a 4xx, never a 5xx, and keeps serving', async () => {
    const vocabulary = [
      'SELECT',
      'FROM',
      't',
      '`t`',
      'WHERE',
      'GROUP BY',
      'ORDER BY',
      'x',
      'x.y',
      ',',
      '(',
      ')',
      '[',
      ']',
      '1',
      '2.5',
      "'s'",
      '*',
      '+',
      '-',
      '=',
      '<',
      '>',
      'AND',
      'NOT',
      'AS',
      'UNNEST',
      'WITH',
      'OFFSET',
      'COUNT',
      'IF',
      'CAST',
      'INT64',
      'STRUCT',
      'ARRAY',
      'JSON_VALUE',
      'DATE',
      'TIMESTAMP_TRUNC',
      'DAY',
      'INTERVAL',
      'EXTRACT',
      'QUALIFY',
      'ROW_NUMBER',
      'OVER',
      'PARTITION BY',
      'LIMIT',
      'UNION ALL',
      'EXCEPT',
      'SAFE.',
      'CASE',
      'WHEN',
      'END',
      'IN',
      'LEFT JOIN',
      'ON',
      '@p',
      '?',
      ';',
      'APPROX_QUANTILES',
      'SAFE_OFFSET',
      'NULL',
      'CREATE TABLE',
      'INSERT INTO',
      'VALUES',
      'DELETE',
      'MERGE',
      '#',
      '/*',
      '0x1F',
      '::',
      'r"\\d"',
      'b"x"',
      '"unterminated',
      '`',
      '<INT64>',
      'OPTIONS',
      'NOT NULL',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 12 }),
        async (words) => {
          const response = await bq.request('POST', `/projects/${TEST_PROJECT}/queries`, {
            query: words.join(' '),
            useLegacySql: false,
            defaultDataset: { datasetId: dataset },
            queryParameters: [
              { name: 'p', parameterType: { type: 'INT64' }, parameterValue: { value: '1' } },
            ],
          });
          assert.ok(response.status < 500, `${words.join(' ')} -> ${JSON.stringify(response.body)}`);
          if (response.status >= 400) assert.ok((response.body as ErrorBody).error.errors[0]!.reason);
        },
      ),
      { numRuns: 400, seed: 20240601 },
    );
    const [rows] = await bq.client.query(`SELECT 1 AS alive`);
    assert.deepEqual(rows, [{ alive: 1 }]);
  });

  it('serves the discovery document `bq` builds its client from', async () => {
    const response = await fetch(`${bq.url}/$discovery/rest?version=v2`);
    assert.equal(response.status, 200);
    const document = (await response.json()) as {
      rootUrl: string;
      resources: Record<string, { methods: Record<string, { path: string }> }>;
    };
    assert.equal(document.rootUrl, `${bq.url}/`);
    assert.equal(
      document.resources.jobs!.methods.getQueryResults!.path,
      'projects/{projectId}/queries/{jobId}',
    );
    assert.ok(document.resources.tabledata!.methods.insertAll);
  });
});
