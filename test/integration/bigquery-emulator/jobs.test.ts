import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BigQuery, type Dataset } from '@google-cloud/bigquery';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

interface ApiErrorLike {
  code: number;
  message: string;
  errors: { reason: string; message: string; location?: string }[];
}

async function rejection(promise: Promise<unknown>): Promise<ApiErrorLike> {
  try {
    await promise;
  } catch (error) {
    return error as ApiErrorLike;
  }
  assert.fail('expected the call to fail');
}

describe('BigQuery emulator: query jobs', () => {
  let bq: EmulatedBigQuery;
  let dataset: Dataset;
  before(async () => {
    bq = await startEmulatedBigQuery();
    [dataset] = await bq.client.createDataset(datasetName('jobs'));
    await dataset.createTable('orders', {
      schema: [
        { name: 'order_id', type: 'STRING' },
        { name: 'status', type: 'STRING' },
        { name: 'total', type: 'NUMERIC' },
        { name: 'placed_at', type: 'TIMESTAMP' },
      ],
    });
    await dataset.table('orders').insert([
      { order_id: 'o1', status: 'completed', total: '10.00', placed_at: '2024-01-01T09:00:00Z' },
      { order_id: 'o2', status: 'cancelled', total: '25.50', placed_at: '2024-01-02T09:00:00Z' },
      { order_id: 'o3', status: 'completed', total: '7.25', placed_at: '2024-01-03T09:00:00Z' },
    ]);
  });
  after(() => bq.stop());

  const query = async (sql: string, options: Record<string, unknown> = {}) =>
    (
      await bq.client.query({ query: sql, defaultDataset: { datasetId: dataset.id }, ...options })
    )[0] as Record<string, unknown>[];

  it('binds named and positional parameters of every type', async () => {
    const [row] = await query(
      `SELECT @s AS s, @i AS i, @f AS f, @b AS b, @n AS n, @ts AS ts, @d AS d, @arr AS arr,
              @st.label AS label, ARRAY_LENGTH(@empty) AS empty, @nothing IS NULL AS missing`,
      {
        params: {
          s: "it's",
          i: 42,
          f: 1.5,
          b: true,
          n: BigQuery.int('7'),
          ts: BigQuery.timestamp('2024-01-02T03:04:05.123456Z'),
          d: BigQuery.date('2024-02-29'),
          arr: ['a', 'b'],
          st: { label: 'x', weight: 2 },
          empty: [],
          nothing: null,
        },
        types: { empty: ['STRING'], nothing: 'INT64' },
      },
    );
    assert.equal(row!.s, "it's");
    assert.equal(row!.i, 42);
    assert.equal(row!.f, 1.5);
    assert.equal(row!.b, true);
    assert.equal(row!.n, 7);
    assert.equal((row!.ts as { value: string }).value, '2024-01-02T03:04:05.123456000Z');
    assert.equal((row!.d as { value: string }).value, '2024-02-29');
    assert.deepEqual(row!.arr, ['a', 'b']);
    assert.equal(row!.label, 'x');
    assert.equal(row!.empty, 0);
    assert.equal(row!.missing, true);

    const rows = await query('SELECT order_id FROM orders WHERE status = ? AND total > ? ORDER BY order_id', {
      params: ['completed', 8],
    });
    assert.deepEqual(rows, [{ order_id: 'o1' }]);
    const inList = await query(
      'SELECT order_id FROM orders WHERE order_id IN UNNEST(@ids) ORDER BY order_id',
      {
        params: { ids: ['o3', 'o1', 'nope'] },
      },
    );
    assert.deepEqual(inList, [{ order_id: 'o1' }, { order_id: 'o3' }]);
    const structs = await query('SELECT s.k, s.v FROM UNNEST(@pairs) AS s ORDER BY s.k', {
      params: {
        pairs: [
          { k: 'b', v: 2 },
          { k: 'a', v: 1 },
        ],
      },
    });
    assert.deepEqual(structs, [
      { k: 'a', v: 1 },
      { k: 'b', v: 2 },
    ]);

    const missing = await rejection(query('SELECT @absent'));
    assert.equal(missing.code, 400);
    assert.match(missing.message, /Query parameter 'absent' not found at \[1:8\]/);
  });

  it('runs query jobs: jobs.insert, jobs.get, jobs.list, getQueryResults', async () => {
    const [job] = await bq.client.createQueryJob({
      query: `SELECT status, COUNT(*) AS orders FROM \`${TEST_PROJECT}.${dataset.id}.orders\` GROUP BY status ORDER BY status`,
      jobId: `report_${dataset.id}`,
      labels: { purpose: 'test' },
    });
    const [rows] = await job.getQueryResults();
    assert.deepEqual(rows, [
      { status: 'cancelled', orders: 1 },
      { status: 'completed', orders: 2 },
    ]);
    const [metadata] = await job.getMetadata();
    assert.equal(metadata.status.state, 'DONE');
    assert.equal(metadata.jobReference.jobId, `report_${dataset.id}`);
    assert.equal(metadata.configuration.jobType, 'QUERY');
    assert.equal(metadata.statistics.query.statementType, 'SELECT');
    const [jobs] = await bq.client.getJobs();
    assert.ok(jobs.some((j) => j.id === `report_${dataset.id}`));
    const again = await rejection(
      bq.client.createQueryJob({ query: 'SELECT 1', jobId: `report_${dataset.id}` }),
    );
    assert.equal(again.code, 409);
  });

  it('dry-runs a query: its schema, nothing executed', async () => {
    const [job] = await bq.client.createQueryJob({
      query: `SELECT order_id, total * 2 AS doubled, ERROR('never runs') AS boom FROM ${dataset.id}.orders`,
      dryRun: true,
    });
    const schema = (
      job.metadata as { statistics: { query: { schema: { fields: { name: string; type: string }[] } } } }
    ).statistics.query.schema.fields;
    assert.deepEqual(
      schema.map((f) => [f.name, f.type]),
      [
        ['order_id', 'STRING'],
        ['doubled', 'NUMERIC'],
        ['boom', 'INTEGER'],
      ],
    );
    assert.equal((job.metadata as { status: { state: string } }).status.state, 'DONE');
  });

  it('refuses legacy SQL clearly', async () => {
    // jobs.insert accepts the job and fails it; the client rejects with the job's error.
    const viaJobs = await rejection(bq.client.createQueryJob({ query: 'SELECT 1', useLegacySql: true }));
    assert.equal(viaJobs.errors[0]!.reason, 'invalidQuery');
    assert.match(viaJobs.message, /Legacy SQL is not supported by the BigQuery emulator/);
    const raw = await bq.request('POST', `/projects/${TEST_PROJECT}/queries`, { query: 'SELECT 1' });
    assert.equal(raw.status, 400, 'jobs.query defaults to legacy SQL, as the API does');
    const standard = await bq.request('POST', `/projects/${TEST_PROJECT}/queries`, {
      query: '#standardSQL\nSELECT 1 AS one',
    });
    assert.equal(standard.status, 200);
  });

  it('writes query results to destination tables with the write dispositions', async () => {
    const destination = dataset.table('summary');
    const summary = `SELECT status, SUM(total) AS revenue FROM ${dataset.id}.orders GROUP BY status`;
    const run = async (writeDisposition?: string) => {
      const [job] = await bq.client.createQueryJob({
        query: summary,
        destination,
        ...(writeDisposition ? { writeDisposition } : {}),
      });
      await job.getQueryResults();
    };
    await run();
    const [metadata] = await destination.getMetadata();
    assert.deepEqual(
      (metadata.schema.fields as { name: string; type: string }[]).map((f) => [f.name, f.type]),
      [
        ['status', 'STRING'],
        ['revenue', 'NUMERIC'],
      ],
    );
    const notEmpty = await rejection(run());
    assert.equal(notEmpty.errors[0]!.reason, 'duplicate', 'WRITE_EMPTY refuses a table with rows');
    await run('WRITE_APPEND');
    assert.equal((await destination.getRows())[0].length, 4);
    await run('WRITE_TRUNCATE');
    assert.equal((await destination.getRows())[0].length, 2);
  });

  it('runs DDL and DML statements and reports what they did', async () => {
    const ds = dataset.id!;
    await query(`CREATE TABLE ${ds}.events (
        event_id STRING NOT NULL OPTIONS(description = 'id'),
        event_time TIMESTAMP,
        type STRING,
        order_id STRING,
        payload JSON,
        lines ARRAY<STRUCT<sku STRING, qty INT64>>
      )
      PARTITION BY DATE(event_time)
      CLUSTER BY type, order_id
      OPTIONS (description = 'order events', labels = [('team', 'data')])`);
    const [metadata] = await dataset.table('events').getMetadata();
    assert.deepEqual(metadata.timePartitioning, { type: 'DAY', field: 'event_time' });
    assert.deepEqual(metadata.clustering, { fields: ['type', 'order_id'] });
    assert.equal(metadata.description, 'order events');
    assert.deepEqual(metadata.labels, { team: 'data' });
    assert.deepEqual(metadata.schema.fields[0], {
      name: 'event_id',
      type: 'STRING',
      mode: 'REQUIRED',
      description: 'id',
    });
    assert.equal(metadata.schema.fields[5].mode, 'REPEATED');

    const [insert] = await bq.client.createQueryJob({
      query: `INSERT INTO ${ds}.events (event_id, event_time, type, order_id, payload, lines)
              VALUES ('e1', TIMESTAMP '2024-01-01 00:00:00 UTC', 'order.created.v1', 'o1', JSON '{"total": 5}', [STRUCT('a' AS sku, 2 AS qty)]),
                     ('e2', TIMESTAMP '2024-01-01 00:01:00 UTC', 'order.completed.v1', 'o1', NULL, [])`,
    });
    await insert.getQueryResults();
    const [insertMetadata] = await insert.getMetadata();
    assert.equal(insertMetadata.statistics.query.statementType, 'INSERT');
    assert.equal(insertMetadata.statistics.query.numDmlAffectedRows, '2');

    await query(`UPDATE ${ds}.events SET type = 'order.done.v1' WHERE event_id = 'e2'`);
    await query(`DELETE FROM ${ds}.events WHERE type = 'order.done.v1'`);
    await query(`MERGE ${ds}.events t USING (SELECT 'e3' AS event_id) s ON t.event_id = s.event_id
                 WHEN NOT MATCHED THEN INSERT (event_id, type) VALUES (s.event_id, 'order.cancelled.v1')`);
    assert.deepEqual(
      await query(
        `SELECT event_id, type, lines[SAFE_OFFSET(0)].qty AS qty FROM ${ds}.events ORDER BY event_id`,
      ),
      [
        { event_id: 'e1', type: 'order.created.v1', qty: 2 },
        { event_id: 'e3', type: 'order.cancelled.v1', qty: null },
      ],
    );

    await query(
      `CREATE OR REPLACE VIEW ${ds}.event_types AS SELECT type, COUNT(*) AS n FROM ${ds}.events GROUP BY type`,
    );
    assert.equal((await dataset.table('event_types').getMetadata())[0].type, 'VIEW');
    await query(`CREATE TABLE IF NOT EXISTS ${ds}.events (x STRING)`);
    await query(`ALTER TABLE ${ds}.events ADD COLUMN IF NOT EXISTS source STRING`);
    const [altered] = await dataset.table('events').getMetadata();
    assert.equal((altered.schema.fields as { name: string }[]).at(-1)?.name, 'source');
    await query(`CREATE TABLE ${ds}.copy AS SELECT event_id, lines FROM ${ds}.events`);
    assert.equal((await dataset.table('copy').getRows())[0].length, 2);
    await query(`DROP VIEW ${ds}.event_types`);
    await query(`DROP TABLE IF EXISTS ${ds}.nothing_here`);
    assert.equal((await dataset.table('event_types').exists())[0], false);
    const dropped = await rejection(query(`DROP TABLE ${ds}.nothing_here`));
    assert.equal(dropped.code, 404);
  });

  it('fails jobs with BigQuery’s job error and answers getQueryResults with it', async () => {
    const failed = await rejection(bq.client.createQueryJob({ query: 'SELECT * FROM nowhere.at_all' }));
    assert.equal(failed.errors[0]!.reason, 'notFound');
    assert.match(failed.message, /Not found: Dataset conveyor-test:nowhere/);
    const viaJobsQuery = await rejection(bq.client.query('SELECT * FROM nowhere.at_all'));
    assert.equal(viaJobsQuery.code, 404, 'jobs.query answers with the HTTP status of the error');

    const raw = await bq.request('POST', `/projects/${TEST_PROJECT}/jobs`, {
      jobReference: { jobId: `broken_${dataset.id}` },
      configuration: { query: { query: 'SELECT 1 +', useLegacySql: false } },
    });
    assert.equal(raw.status, 200, 'jobs.insert accepts the job and fails it');
    const job = raw.body as {
      status: { state: string; errorResult: { reason: string; message: string; location: string } };
    };
    assert.equal(job.status.state, 'DONE');
    assert.equal(job.status.errorResult.reason, 'invalidQuery');
    assert.equal(job.status.errorResult.location, 'query');
    assert.match(job.status.errorResult.message, /^Syntax error: .* at \[1:\d+\]$/);
    const results = await bq.request('GET', `/projects/${TEST_PROJECT}/queries/broken_${dataset.id}`);
    assert.equal(results.status, 400);
    assert.equal(
      (results.body as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason,
      'invalidQuery',
    );
  });
});
