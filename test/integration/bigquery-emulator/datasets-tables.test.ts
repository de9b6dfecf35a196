import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

interface Field {
  name: string;
  type: string;
  mode: string;
  fields?: Field[];
}

/** The error the client rejects with: an ApiError carrying BigQuery's code and errors. */
async function apiError(
  promise: Promise<unknown>,
): Promise<{ code: number; message: string; errors: { reason: string }[] }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: number; message: string; errors: { reason: string }[] };
  }
  assert.fail('expected the call to fail');
}

describe('BigQuery emulator: datasets and tables', () => {
  let bq: EmulatedBigQuery;
  before(async () => (bq = await startEmulatedBigQuery()));
  after(() => bq.stop());

  it('creates, gets, lists, patches and deletes datasets', async () => {
    const names = [datasetName('ds_a'), datasetName('ds_b'), datasetName('ds_c')];
    for (const name of names)
      await bq.client.createDataset(name, { location: 'EU', labels: { team: 'ops' } });

    const [metadata] = await bq.client.dataset(names[0]!).getMetadata();
    assert.equal(metadata.id, `${TEST_PROJECT}:${names[0]}`);
    assert.deepEqual(metadata.datasetReference, { datasetId: names[0], projectId: TEST_PROJECT });
    assert.equal(metadata.location, 'EU');
    assert.deepEqual(metadata.labels, { team: 'ops' });

    const [all] = await bq.client.getDatasets();
    for (const name of names)
      assert.ok(
        all.some((d) => d.id === name),
        `${name} is listed`,
      );
    const [firstPage, next] = await bq.client.getDatasets({ maxResults: 1, autoPaginate: false });
    assert.equal(firstPage.length, 1);
    assert.ok(next?.pageToken, 'a page token for the rest');

    await bq.client
      .dataset(names[1]!)
      .setMetadata({ description: 'orders analytics', labels: { team: 'data' } });
    const [patched] = await bq.client.dataset(names[1]!).getMetadata();
    assert.equal(patched.description, 'orders analytics');
    assert.deepEqual(patched.labels, { team: 'data' });

    const duplicate = await apiError(bq.client.createDataset(names[2]!));
    assert.equal(duplicate.code, 409);
    assert.equal(duplicate.errors[0]!.reason, 'duplicate');

    await bq.client.dataset(names[2]!).delete();
    const [exists] = await bq.client.dataset(names[2]!).exists();
    assert.equal(exists, false);
    const missing = await apiError(bq.client.dataset(names[2]!).getMetadata());
    assert.equal(missing.code, 404);
    assert.equal(missing.errors[0]!.reason, 'notFound');
  });

  it('refuses to delete a dataset that still has tables unless told to delete its contents', async () => {
    const [dataset] = await bq.client.createDataset(datasetName('ds_inuse'));
    await dataset.createTable('t', { schema: [{ name: 'x', type: 'STRING' }] });
    const inUse = await apiError(dataset.delete());
    assert.equal(inUse.code, 400);
    assert.equal(inUse.errors[0]!.reason, 'resourceInUse');
    await dataset.delete({ force: true });
    assert.equal((await dataset.exists())[0], false);
  });

  it('reports schemas as BigQuery does: legacy type names, modes, nested records', async () => {
    const [dataset] = await bq.client.createDataset(datasetName('ds_schema'));
    const [table] = await dataset.createTable('events', {
      description: 'order events',
      schema: [
        { name: 'event_id', type: 'STRING', mode: 'REQUIRED', description: 'CloudEvents id' },
        { name: 'sequence', type: 'INT64' },
        { name: 'ratio', type: 'FLOAT64' },
        { name: 'flag', type: 'BOOL' },
        { name: 'amount', type: 'NUMERIC' },
        { name: 'big', type: 'BIGNUMERIC' },
        { name: 'event_time', type: 'TIMESTAMP' },
        { name: 'day', type: 'DATE' },
        { name: 'local', type: 'DATETIME' },
        { name: 'at', type: 'TIME' },
        { name: 'raw', type: 'BYTES' },
        { name: 'payload', type: 'JSON' },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
        {
          name: 'lines',
          type: 'STRUCT',
          mode: 'REPEATED',
          fields: [
            { name: 'sku', type: 'STRING' },
            { name: 'qty', type: 'INTEGER' },
            { name: 'price', type: 'RECORD', fields: [{ name: 'amount', type: 'NUMERIC' }] },
          ],
        },
      ],
    });
    const [metadata] = await table.getMetadata();
    const summary = (fields: Field[]): unknown =>
      fields.map((f) => [f.name, f.type, f.mode, ...(f.fields ? [summary(f.fields)] : [])]);
    assert.deepEqual(summary(metadata.schema.fields as Field[]), [
      ['event_id', 'STRING', 'REQUIRED'],
      ['sequence', 'INTEGER', 'NULLABLE'],
      ['ratio', 'FLOAT', 'NULLABLE'],
      ['flag', 'BOOLEAN', 'NULLABLE'],
      ['amount', 'NUMERIC', 'NULLABLE'],
      ['big', 'BIGNUMERIC', 'NULLABLE'],
      ['event_time', 'TIMESTAMP', 'NULLABLE'],
      ['day', 'DATE', 'NULLABLE'],
      ['local', 'DATETIME', 'NULLABLE'],
      ['at', 'TIME', 'NULLABLE'],
      ['raw', 'BYTES', 'NULLABLE'],
      ['payload', 'JSON', 'NULLABLE'],
      ['tags', 'STRING', 'REPEATED'],
      [
        'lines',
        'RECORD',
        'REPEATED',
        [
          ['sku', 'STRING', 'NULLABLE'],
          ['qty', 'INTEGER', 'NULLABLE'],
          ['price', 'RECORD', 'NULLABLE', [['amount', 'NUMERIC', 'NULLABLE']]],
        ],
      ],
    ]);
    assert.equal(metadata.schema.fields[0].description, 'CloudEvents id');
    assert.equal(metadata.description, 'order events');
    assert.equal(metadata.type, 'TABLE');
    assert.equal(metadata.numRows, '0');
    assert.equal(metadata.id, `${TEST_PROJECT}:${dataset.id}.events`);
  });

  it('accepts, stores and reports time partitioning and clustering', async () => {
    const [dataset] = await bq.client.createDataset(datasetName('ds_layout'));
    await dataset.createTable('events', {
      schema: [
        { name: 'event_id', type: 'STRING' },
        { name: 'type', type: 'STRING' },
        { name: 'order_id', type: 'STRING' },
        { name: 'event_time', type: 'TIMESTAMP' },
      ],
      timePartitioning: { type: 'DAY', field: 'event_time', expirationMs: '7776000000' },
      clustering: { fields: ['type', 'order_id'] },
      requirePartitionFilter: false,
    });
    const [metadata] = await dataset.table('events').getMetadata();
    assert.deepEqual(metadata.timePartitioning, {
      type: 'DAY',
      field: 'event_time',
      expirationMs: '7776000000',
    });
    assert.deepEqual(metadata.clustering, { fields: ['type', 'order_id'] });
    const [tables] = await dataset.getTables();
    assert.deepEqual(tables[0]!.metadata.clustering, { fields: ['type', 'order_id'] });

    const badField = await apiError(
      dataset.createTable('bad', {
        schema: [{ name: 'x', type: 'STRING' }],
        timePartitioning: { type: 'DAY', field: 'x' },
      }),
    );
    assert.equal(badField.code, 400);
    assert.match(badField.message, /TIMESTAMP, DATE or DATETIME/);
    const badCluster = await apiError(
      dataset.createTable('bad', {
        schema: [{ name: 'x', type: 'STRING' }],
        clustering: { fields: ['nope'] },
      }),
    );
    assert.equal(badCluster.code, 400);
    assert.match(badCluster.message, /clustering cannot be found/);

    await dataset.table('events').setMetadata({ clustering: { fields: ['order_id'] } });
    const [reclustered] = await dataset.table('events').getMetadata();
    assert.deepEqual(reclustered.clustering, { fields: ['order_id'] });
  });

  it('patches tables the way BigQuery allows: add columns, relax modes, never drop or retype', async () => {
    const [dataset] = await bq.client.createDataset(datasetName('ds_patch'));
    const [table] = await dataset.createTable('t', {
      schema: [
        { name: 'id', type: 'STRING', mode: 'REQUIRED' },
        { name: 'line', type: 'RECORD', fields: [{ name: 'sku', type: 'STRING' }] },
      ],
    });
    await table.insert([{ id: 'a', line: { sku: 's1' } }]);
    await table.setMetadata({
      description: 'patched',
      schema: [
        { name: 'id', type: 'STRING', mode: 'NULLABLE' },
        {
          name: 'line',
          type: 'RECORD',
          fields: [
            { name: 'sku', type: 'STRING' },
            { name: 'qty', type: 'INTEGER' },
          ],
        },
        { name: 'note', type: 'STRING' },
      ],
    });
    await table.insert([{ line: { sku: 's2', qty: 3 }, note: 'new columns work' }]);
    const [rows] = await table.getRows();
    assert.deepEqual(rows, [
      { id: 'a', line: { sku: 's1', qty: null }, note: null },
      { id: null, line: { sku: 's2', qty: 3 }, note: 'new columns work' },
    ]);

    const dropped = await apiError(table.setMetadata({ schema: [{ name: 'id', type: 'STRING' }] }));
    assert.equal(dropped.code, 400);
    assert.match(dropped.message, /Field line is missing in new schema/);
    const retyped = await apiError(
      table.setMetadata({
        schema: [
          { name: 'id', type: 'INTEGER' },
          {
            name: 'line',
            type: 'RECORD',
            fields: [
              { name: 'sku', type: 'STRING' },
              { name: 'qty', type: 'INTEGER' },
            ],
          },
          { name: 'note', type: 'STRING' },
        ],
      }),
    );
    assert.match(retyped.message, /Field id has changed type from STRING to INTEGER/);
  });

  it('creates views over translated GoogleSQL and reports their schema', async () => {
    const [dataset] = await bq.client.createDataset(datasetName('ds_view'));
    const [table] = await dataset.createTable('orders', {
      schema: [
        { name: 'order_id', type: 'STRING' },
        { name: 'total', type: 'NUMERIC' },
      ],
    });
    await table.insert([
      { order_id: 'o1', total: '10.50' },
      { order_id: 'o2', total: '4.50' },
    ]);
    const [view] = await dataset.createTable('order_totals', {
      view: `SELECT COUNT(*) AS orders, SUM(total) AS revenue FROM \`${TEST_PROJECT}.${dataset.id}.orders\``,
    });
    const [metadata] = await view.getMetadata();
    assert.equal(metadata.type, 'VIEW');
    assert.deepEqual(
      (metadata.schema.fields as Field[]).map((f) => [f.name, f.type]),
      [
        ['orders', 'INTEGER'],
        ['revenue', 'NUMERIC'],
      ],
    );
    assert.equal(metadata.view.useLegacySql, false);
    const [rows] = await bq.client.query(`SELECT orders, revenue FROM ${dataset.id}.order_totals`);
    assert.equal(rows[0].orders, 2);
    assert.equal(String(rows[0].revenue), '15');

    const legacy = await apiError(dataset.createTable('legacy', { view: { query: 'SELECT 1' } }));
    assert.equal(legacy.code, 400);
    assert.match(legacy.message, /Legacy SQL/);
    const broken = await apiError(
      dataset.createTable('broken', { view: 'SELECT nope FROM `' + dataset.id + '.orders`' }),
    );
    assert.equal(broken.code, 400);
    assert.equal(broken.errors[0]!.reason, 'invalidQuery');
    assert.match(broken.message, /Unrecognized name: nope at \[1:8\]/);
    const listing = await apiError(view.getRows());
    assert.match(listing.message, /Cannot list a table of type VIEW/);
  });

  it('deletes tables and answers 404 for tables and datasets that do not exist', async () => {
    const [dataset] = await bq.client.createDataset(datasetName('ds_delete'));
    const [table] = await dataset.createTable('t', { schema: [{ name: 'x', type: 'STRING' }] });
    await table.delete();
    assert.equal((await table.exists())[0], false);
    const gone = await apiError(table.delete());
    assert.equal(gone.code, 404);
    assert.match(gone.message, new RegExp(`Not found: Table ${TEST_PROJECT}:${dataset.id}.t`));
    const noDataset = await apiError(bq.client.dataset(datasetName('ds_missing')).table('t').getMetadata());
    assert.equal(noDataset.code, 404);
    assert.match(noDataset.message, /Not found: Dataset/);
  });
});
