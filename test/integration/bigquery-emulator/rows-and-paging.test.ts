import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BigQuery, type Dataset } from '@google-cloud/bigquery';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

interface TableDataList {
  kind: string;
  totalRows: string;
  pageToken?: string;
  rows?: { f: { v: unknown }[] }[];
}

describe('BigQuery emulator: row values and paging', () => {
  let bq: EmulatedBigQuery;
  let dataset: Dataset;
  before(async () => {
    bq = await startEmulatedBigQuery();
    [dataset] = await bq.client.createDataset(datasetName('rows'));
    await dataset.createTable('typed', {
      schema: [
        { name: 'id', type: 'INTEGER' },
        { name: 'name', type: 'STRING' },
        { name: 'ratio', type: 'FLOAT' },
        { name: 'ok', type: 'BOOLEAN' },
        { name: 'amount', type: 'NUMERIC' },
        { name: 'big', type: 'BIGNUMERIC' },
        { name: 'at', type: 'TIMESTAMP' },
        { name: 'day', type: 'DATE' },
        { name: 'local', type: 'DATETIME' },
        { name: 'clock', type: 'TIME' },
        { name: 'raw', type: 'BYTES' },
        { name: 'payload', type: 'JSON' },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
        {
          name: 'order',
          type: 'RECORD',
          fields: [
            { name: 'order_id', type: 'STRING' },
            {
              name: 'lines',
              type: 'RECORD',
              mode: 'REPEATED',
              fields: [
                { name: 'sku', type: 'STRING' },
                { name: 'qty', type: 'INTEGER' },
              ],
            },
          ],
        },
      ],
    });
    await dataset.table('typed').insert([
      {
        id: 9007199254740993n.toString(),
        name: 'first',
        ratio: 0.25,
        ok: true,
        amount: '1234.5',
        big: '12345678901234567890.123456789012345678',
        at: BigQuery.timestamp('2024-03-01T10:20:30.123456Z'),
        day: BigQuery.date('2024-03-01'),
        local: BigQuery.datetime('2024-03-01 10:20:30.5'),
        clock: BigQuery.time('10:20:30'),
        raw: Buffer.from('conveyor'),
        payload: JSON.stringify({ total: '12.50', lines: [{ sku: 'a' }] }),
        tags: ['x', 'y'],
        order: {
          order_id: 'o-1',
          lines: [
            { sku: 'a', qty: 2 },
            { sku: 'b', qty: 1 },
          ],
        },
      },
      { id: 2, name: null, ratio: 'NaN', tags: [], order: null },
    ]);
    await dataset.createTable('numbers', { schema: [{ name: 'n', type: 'INTEGER' }] });
    await dataset.table('numbers').insert(Array.from({ length: 25 }, (_, n) => ({ n })));
  });
  after(() => bq.stop());

  const tableData = async (table: string, query = '') =>
    (await bq.request('GET', `/projects/${TEST_PROJECT}/datasets/${dataset.id}/tables/${table}/data${query}`))
      .body as TableDataList;

  it('round-trips every column type through the client', async () => {
    const [rows] = await dataset.table('typed').getRows({ wrapIntegers: true });
    const first = rows[0];
    assert.equal(first.id.value, '9007199254740993');
    assert.equal(first.name, 'first');
    assert.equal(first.ratio, 0.25);
    assert.equal(first.ok, true);
    assert.equal(String(first.amount), '1234.5');
    assert.equal(String(first.big), '12345678901234567890.123456789012345678');
    assert.equal(first.at.value, '2024-03-01T10:20:30.123456000Z');
    assert.equal(first.day.value, '2024-03-01');
    assert.equal(first.local.value, '2024-03-01T10:20:30.500000');
    assert.equal(first.clock.value, '10:20:30');
    assert.equal(Buffer.from(first.raw).toString(), 'conveyor');
    assert.deepEqual(JSON.parse(first.payload as string), { total: '12.50', lines: [{ sku: 'a' }] });
    assert.deepEqual(first.tags, ['x', 'y']);
    assert.deepEqual(JSON.parse(JSON.stringify(first.order)), {
      order_id: 'o-1',
      lines: [
        { sku: 'a', qty: { type: 'BigQueryInt', value: '2' } },
        { sku: 'b', qty: { type: 'BigQueryInt', value: '1' } },
      ],
    });
    const second = rows[1];
    assert.equal(second.name, null);
    assert.ok(Number.isNaN(second.ratio));
    assert.deepEqual(second.tags, []);
    assert.equal(second.order, null);

    const [queried] = await bq.client.query(`SELECT * FROM ${dataset.id}.typed ORDER BY id DESC`);
    assert.equal(queried[0].at.value, '2024-03-01T10:20:30.123456000Z');
    assert.equal(String(queried[0].amount), '1234.5');
    assert.deepEqual(queried[0].order, {
      order_id: 'o-1',
      lines: [
        { sku: 'a', qty: 2 },
        { sku: 'b', qty: 1 },
      ],
    });
  });

  it('renders rows in BigQuery’s {f: [{v}]} format, nested for RECORD and REPEATED', async () => {
    const int64 = await tableData('typed', '?formatOptions.useInt64Timestamp=true&maxResults=1');
    const cells = int64.rows![0]!.f.map((c) => c.v);
    assert.deepEqual(cells, [
      '9007199254740993',
      'first',
      '0.25',
      'true',
      '1234.5',
      '12345678901234567890.123456789012345678',
      '1709288430123456',
      '2024-03-01',
      '2024-03-01T10:20:30.500000',
      '10:20:30',
      Buffer.from('conveyor').toString('base64'),
      '{"total":"12.50","lines":[{"sku":"a"}]}',
      [{ v: 'x' }, { v: 'y' }],
      {
        f: [
          { v: 'o-1' },
          {
            v: [{ v: { f: [{ v: 'a' }, { v: '2' }] } }, { v: { f: [{ v: 'b' }, { v: '1' }] } }],
          },
        ],
      },
    ]);
    const seconds = await tableData('typed', '?maxResults=1');
    assert.equal(seconds.rows![0]!.f[6]!.v, '1.709288430123456E9', 'float seconds without useInt64Timestamp');
    assert.equal(seconds.totalRows, '2');
  });

  it('pages tabledata.list with maxResults, pageToken and startIndex', async () => {
    const values = (list: TableDataList) => (list.rows ?? []).map((r) => Number(r.f[0]!.v));
    const first = await tableData('numbers', '?maxResults=10');
    assert.equal(first.totalRows, '25');
    assert.deepEqual(values(first), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const second = await tableData('numbers', `?maxResults=10&pageToken=${first.pageToken}`);
    assert.deepEqual(values(second), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const third = await tableData('numbers', `?maxResults=10&pageToken=${second.pageToken}`);
    assert.deepEqual(values(third), [20, 21, 22, 23, 24]);
    assert.equal(third.pageToken, undefined);
    assert.deepEqual(values(await tableData('numbers', '?startIndex=22')), [22, 23, 24]);

    const [all] = await dataset.table('numbers').getRows({ maxResults: 7 });
    assert.equal(all.length, 7);
    const [everything] = await dataset.table('numbers').getRows();
    assert.deepEqual(
      everything.map((r: { n: number }) => r.n),
      Array.from({ length: 25 }, (_, n) => n),
    );
    const [selected] = await dataset.table('typed').getRows({ selectedFields: 'id,name', maxResults: 1 });
    assert.deepEqual(Object.keys(selected[0] as object).sort(), ['id', 'name']);
  });

  it('pages query results through jobs.query and jobs.getQueryResults', async () => {
    const query = `SELECT n FROM \`${TEST_PROJECT}.${dataset.id}.numbers\` ORDER BY n`;
    const [viaJobsQuery] = await bq.client.query({ query, maxResults: 4 });
    assert.deepEqual(
      viaJobsQuery.map((r: { n: number }) => r.n),
      Array.from({ length: 25 }, (_, n) => n),
      'the client follows page tokens',
    );

    const [job] = await bq.client.createQueryJob({ query });
    const pages: number[][] = [];
    let options: Record<string, unknown> | null = { maxResults: 10, autoPaginate: false };
    while (options) {
      const [rows, next] = (await job.getQueryResults(options)) as unknown as [
        { n: number }[],
        Record<string, unknown> | null,
      ];
      pages.push(rows.map((r) => r.n));
      options = next;
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [10, 10, 5],
    );
    const [fromIndex] = await job.getQueryResults({ startIndex: '23', maxResults: 10, autoPaginate: false });
    assert.deepEqual(
      fromIndex.map((r: { n: number }) => r.n),
      [23, 24],
    );

    const raw = (await bq.request('GET', `/projects/${TEST_PROJECT}/queries/${job.id}?maxResults=2`))
      .body as TableDataList & {
      jobComplete: boolean;
      schema: unknown;
    };
    assert.equal(raw.jobComplete, true);
    assert.equal(raw.totalRows, '25');
    assert.deepEqual(raw.schema, { fields: [{ name: 'n', type: 'INTEGER', mode: 'NULLABLE' }] });
    assert.deepEqual(raw.rows, [{ f: [{ v: '0' }] }, { f: [{ v: '1' }] }]);
    assert.ok(raw.pageToken);
  });
});
