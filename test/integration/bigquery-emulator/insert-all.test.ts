import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Dataset } from '@google-cloud/bigquery';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

const WINDOW_MS = 60_000;

describe('BigQuery emulator: tabledata.insertAll', () => {
  let bq: EmulatedBigQuery;
  let now = Date.parse('2024-05-01T00:00:00Z');
  let dataset: Dataset;
  before(async () => {
    bq = await startEmulatedBigQuery({ insertIdWindowMs: WINDOW_MS, clock: () => now });
    [dataset] = await bq.client.createDataset(datasetName('insert'));
  });
  after(() => bq.stop());

  const insertAll = (table: string, body: unknown) =>
    bq.request('POST', `/projects/${TEST_PROJECT}/datasets/${dataset.id}/tables/${table}/insertAll`, body);
  const ids = async (table: string) => {
    const [rows] = await bq.client.query(`SELECT id FROM ${dataset.id}.${table} ORDER BY id`);
    return rows.map((r: { id: string }) => r.id);
  };
  const makeTable = async (name: string) => {
    await dataset.createTable(name, {
      schema: [
        { name: 'id', type: 'STRING', mode: 'REQUIRED' },
        { name: 'n', type: 'INTEGER' },
        { name: 'at', type: 'TIMESTAMP' },
        { name: 'payload', type: 'JSON' },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
        {
          name: 'line',
          type: 'RECORD',
          fields: [
            { name: 'sku', type: 'STRING' },
            { name: 'qty', type: 'INTEGER' },
          ],
        },
      ],
    });
  };

  it('drops rows whose insertId was seen within the window, and only within it', async () => {
    await makeTable('dedup');
    const row = (id: string) => ({ insertId: `ins-${id}`, json: { id } });
    assert.deepEqual((await insertAll('dedup', { rows: [row('a'), row('b')] })).body, {
      kind: 'bigquery#tableDataInsertAllResponse',
    });
    // A retry of the same batch plus a new row, and a duplicate inside one request.
    await insertAll('dedup', { rows: [row('a'), row('b'), row('c')] });
    await insertAll('dedup', { rows: [row('d'), row('d')] });
    assert.deepEqual(await ids('dedup'), ['a', 'b', 'c', 'd']);

    now += WINDOW_MS - 1;
    await insertAll('dedup', { rows: [row('a')] });
    assert.deepEqual(await ids('dedup'), ['a', 'b', 'c', 'd'], 'still inside the window');

    now += 2;
    await insertAll('dedup', { rows: [row('b')] });
    assert.deepEqual(await ids('dedup'), ['a', 'b', 'b', 'c', 'd'], 'the window has passed for b');

    await insertAll('dedup', { rows: [{ json: { id: 'e' } }, { json: { id: 'e' } }] });
    assert.deepEqual(
      await ids('dedup'),
      ['a', 'b', 'b', 'c', 'd', 'e', 'e'],
      'rows without insertId are never de-duplicated',
    );
  });

  it('keeps one copy when concurrent requests carry the same insertIds', async () => {
    await makeTable('concurrent');
    const rows = Array.from({ length: 50 }, (_, i) => ({
      insertId: `c-${i}`,
      json: { id: `r${String(i).padStart(2, '0')}` },
    }));
    await Promise.all(Array.from({ length: 8 }, () => insertAll('concurrent', { rows })));
    assert.equal((await ids('concurrent')).length, 50);
  });

  it('reports per-row errors as BigQuery does and inserts nothing unless skipInvalidRows', async () => {
    await makeTable('errors');
    const rows = [
      { insertId: '1', json: { id: 'bad-int', n: 'x' } },
      { insertId: '2', json: { id: 'ok' } },
      { insertId: '3', json: { id: 'unknown', extra: 1, line: { sku: 's', size: 'L' } } },
      { insertId: '4', json: { n: 1 } },
      {
        insertId: '5',
        json: { id: 'shapes', tags: 'not-a-list', line: 'not-a-record', at: 'yesterday', payload: '{oops' },
      },
    ];
    const { status, body } = await insertAll('errors', { rows });
    assert.equal(status, 200);
    const invalid = (location: string, message: string) => ({
      reason: 'invalid',
      location,
      debugInfo: '',
      message,
    });
    assert.deepEqual(body, {
      kind: 'bigquery#tableDataInsertAllResponse',
      insertErrors: [
        { index: 0, errors: [invalid('n', 'Cannot convert value to integer (bad value): x')] },
        { index: 1, errors: [{ reason: 'stopped', location: '', debugInfo: '', message: '' }] },
        {
          index: 2,
          errors: [
            invalid('extra', 'no such field: extra.'),
            invalid('line.size', 'no such field: line.size.'),
          ],
        },
        { index: 3, errors: [invalid('id', 'Missing required field: id.')] },
        {
          index: 4,
          errors: [
            invalid(
              'at',
              "Could not parse 'yesterday' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]",
            ),
            invalid('payload', 'Invalid JSON string: {oops'),
            invalid('tags', 'Repeated field must be imported as a JSON array. Field: tags.'),
            invalid('line', 'This field: line is not a record.'),
          ],
        },
      ],
    });
    assert.deepEqual(await ids('errors'), [], 'a failing request inserts nothing');

    const skipped = await insertAll('errors', { rows, skipInvalidRows: true });
    const errors = (skipped.body as { insertErrors: { index: number }[] }).insertErrors;
    assert.deepEqual(
      errors.map((e) => e.index),
      [0, 2, 3, 4],
      'only the invalid rows are reported',
    );
    assert.deepEqual(await ids('errors'), ['ok']);

    const objectForJson = await insertAll('errors', { rows: [{ json: { id: 'j', payload: { a: 1 } } }] });
    assert.deepEqual((objectForJson.body as { insertErrors: unknown[] }).insertErrors, [
      {
        index: 0,
        errors: [
          invalid(
            'payload',
            'Cannot convert value to JSON: a JSON column takes JSON text (a string), got {"a":1}',
          ),
        ],
      },
    ]);

    const lenient = await insertAll('errors', { rows: [rows[2]], ignoreUnknownValues: true });
    assert.deepEqual(lenient.body, { kind: 'bigquery#tableDataInsertAllResponse' });
    assert.deepEqual(await ids('errors'), ['ok', 'unknown']);
  });

  it('surfaces per-row errors through the client as a PartialFailureError', async () => {
    await makeTable('client');
    await assert.rejects(
      dataset.table('client').insert(
        [
          { id: 'a', n: 1 },
          { id: 'b', n: 'many' },
        ],
        { partialRetries: 0 },
      ),
      (error: {
        name: string;
        errors: { errors: { reason: string; message: string }[]; row: unknown }[];
      }) => {
        assert.equal(error.name, 'PartialFailureError');
        assert.deepEqual(
          error.errors.map((e) => [e.row, e.errors[0]!.reason]),
          [
            [{ id: 'a', n: 1 }, 'stopped'],
            [{ id: 'b', n: 'many' }, 'invalid'],
          ],
        );
        return true;
      },
    );
    await dataset.table('client').insert([{ id: 'c', n: 2 }], { skipInvalidRows: true });
    assert.deepEqual(await ids('client'), ['c']);
  });

  it('answers malformed requests in BigQuery’s error shape', async () => {
    await makeTable('malformed');
    const cases: [string, unknown, number, string, RegExp][] = [
      ['no rows', {}, 400, 'invalid', /^No rows present in the request\.$/],
      ['empty rows', { rows: [] }, 400, 'invalid', /^No rows present in the request\.$/],
      ['rows not a list', { rows: { json: {} } }, 400, 'invalid', /Invalid value at 'rows'/],
      [
        'unknown request field',
        { rows: [{ json: {} }], upsert: true },
        400,
        'invalid',
        /Unknown name "upsert"/,
      ],
      [
        'unknown row field',
        { rows: [{ json: { id: 'x' }, data: {} }] },
        400,
        'invalid',
        /Unknown name "data" at 'rows\[0\]'/,
      ],
      ['json not an object', { rows: [{ json: [1, 2] }] }, 400, 'invalid', /rows\[0\]\.json/],
      ['not JSON at all', '{"rows": [', 400, 'parseError', /^Invalid JSON payload received\./],
    ];
    for (const [name, body, status, reason, message] of cases) {
      const response = await insertAll('malformed', body);
      assert.equal(response.status, status, name);
      const error = (
        response.body as {
          error: {
            code: number;
            message: string;
            status: string;
            errors: { reason: string; message: string; domain: string }[];
          };
        }
      ).error;
      assert.equal(error.code, status, name);
      assert.equal(error.status, 'INVALID_ARGUMENT', name);
      assert.equal(error.errors[0]!.reason, reason, name);
      assert.equal(error.errors[0]!.domain, 'global', name);
      assert.match(error.message, message, name);
      assert.equal(error.errors[0]!.message, error.message, name);
    }
    const missing = await insertAll('no_such_table', { rows: [{ json: {} }] });
    assert.equal(missing.status, 404);
    assert.match(
      (missing.body as { error: { message: string } }).error.message,
      new RegExp(`^Not found: Table ${TEST_PROJECT}:${dataset.id}\\.no_such_table`),
    );
    assert.deepEqual(await ids('malformed'), []);
  });
});
