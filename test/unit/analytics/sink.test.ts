/**
 * The BigQuery sink against a scripted insertAll: which rows it retries, which it reports invalid,
 * how it splits requests. (test/integration/analytics/sink.test.ts runs it against the emulator.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BigQuery } from '@google-cloud/bigquery';
import type { StreamRow } from '#shared/analytics/rows.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';

interface Request {
  rows: StreamRow[];
  skipInvalidRows: boolean;
}
type Answer = { insertErrors?: { index: number; errors: { reason: string; message?: string }[] }[] } | Error;

/** A BigQuery client whose insertAll answers come from `script`, recording every request. */
function scripted(script: (request: Request, call: number) => Answer) {
  const requests: Request[] = [];
  const bigquery = {
    dataset: (dataset: string) => ({
      table: (table: string) => ({
        request: (options: { method: string; uri: string; json: Request }) => {
          assert.equal(
            `${dataset}.${table} ${options.method} ${options.uri}`,
            'analytics.events POST /insertAll',
          );
          requests.push(options.json);
          const answer = script(options.json, requests.length);
          return answer instanceof Error ? Promise.reject(answer) : Promise.resolve([answer]);
        },
      }),
    }),
  } as unknown as BigQuery;
  return { bigquery, requests };
}

const httpError = (code: number, message: string) => Object.assign(new Error(message), { code });
const rows = (n: number): StreamRow[] =>
  Array.from({ length: n }, (_, i) => ({ insertId: `e${i}`, json: { event_id: `e${i}` } }));
const ids = (request: Request) => request.rows.map((row) => row.insertId);
const noSleep = () => Promise.resolve();

describe('BigQuery sink', () => {
  it('retries only the rows BigQuery did not take, with their insertIds; never an invalid row', async () => {
    const { bigquery, requests } = scripted((_request, call) =>
      call === 1
        ? {
            insertErrors: [
              { index: 1, errors: [{ reason: 'invalid', message: 'no such field: extra.' }] },
              { index: 2, errors: [{ reason: 'backendError' }] },
              { index: 4, errors: [{ reason: 'timeout' }] },
            ],
          }
        : {},
    );
    const sink = createBigQuerySink({ bigquery, dataset: 'analytics', sleep: noSleep });
    const outcomes = await sink.insert('events', rows(5));
    assert.deepEqual(outcomes, [
      { status: 'inserted' },
      { status: 'invalid', reason: 'invalid: no such field: extra.' },
      { status: 'inserted' },
      { status: 'inserted' },
      { status: 'inserted' },
    ]);
    assert.deepEqual(requests.map(ids), [
      ['e0', 'e1', 'e2', 'e3', 'e4'],
      ['e2', 'e4'],
    ]);
    assert.equal(requests[0]!.skipInvalidRows, true);
  });

  it('retries rows reported `stopped` (a request refused because of another row)', async () => {
    const { bigquery, requests } = scripted((_request, call) =>
      call === 1
        ? {
            insertErrors: [
              { index: 0, errors: [{ reason: 'stopped' }] },
              { index: 1, errors: [{ reason: 'invalid', message: 'Missing required field: type.' }] },
            ],
          }
        : {},
    );
    const sink = createBigQuerySink({ bigquery, dataset: 'analytics', sleep: noSleep });
    const outcomes = await sink.insert('events', rows(2));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['inserted', 'invalid'],
    );
    assert.deepEqual(requests.map(ids), [['e0', 'e1'], ['e0']]);
  });

  it('retries a request that failed as a whole, then reports its rows failed after maxAttempts', async () => {
    const delays: number[] = [];
    const { bigquery, requests } = scripted(() => httpError(503, 'Service Unavailable'));
    const sink = createBigQuerySink({
      bigquery,
      dataset: 'analytics',
      maxAttempts: 4,
      initialBackoffMs: 100,
      sleep: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
    });
    const outcomes = await sink.insert('events', rows(2));
    assert.equal(requests.length, 4);
    assert.deepEqual(outcomes, [
      { status: 'failed', reason: 'insertAll failed (503): Service Unavailable' },
      { status: 'failed', reason: 'insertAll failed (503): Service Unavailable' },
    ]);
    assert.equal(delays.length, 3);
    delays.forEach((delay, i) => {
      const base = 100 * 2 ** i;
      assert.ok(delay >= base / 2 && delay <= base, `backoff ${delay} within [${base / 2}, ${base}]`);
    });
  });

  it('splits a request refused with 400 until the row it objects to stands alone', async () => {
    const { bigquery, requests } = scripted((request) =>
      ids(request).includes('e5') ? httpError(400, 'Invalid value at rows[5].json') : {},
    );
    const sink = createBigQuerySink({ bigquery, dataset: 'analytics', sleep: noSleep });
    const outcomes = await sink.insert('events', rows(8));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['inserted', 'inserted', 'inserted', 'inserted', 'inserted', 'invalid', 'inserted', 'inserted'],
    );
    assert.match((outcomes[5] as { reason: string }).reason, /400.*rows\[5\]/);
    const accepted = requests.map(ids).filter((r) => !r.includes('e5'));
    assert.deepEqual(accepted.flat().sort(), ['e0', 'e1', 'e2', 'e3', 'e4', 'e6', 'e7'], 'each once');
    assert.ok(requests.length <= 1 + 2 * Math.ceil(Math.log2(8)), 'halving, not row by row');
  });

  it('keeps each request within the row and byte limits, in order', async () => {
    const { bigquery, requests } = scripted(() => ({}));
    const sink = createBigQuerySink({
      bigquery,
      dataset: 'analytics',
      maxRowsPerRequest: 3,
      maxBytesPerRequest: 200,
    });
    const big = { insertId: 'big', json: { payload: 'x'.repeat(150) } };
    await sink.insert('events', [...rows(4), big, ...rows(1).map((r) => ({ ...r, insertId: 'last' }))]);
    assert.deepEqual(requests.map(ids), [['e0', 'e1', 'e2'], ['e3'], ['big'], ['last']]);
  });
});
