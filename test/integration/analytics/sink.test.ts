/**
 * The BigQuery sink through the real client against the BigQuery emulator, which answers
 * insertAll as BigQuery documents it (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll,
 * https://cloud.google.com/bigquery/docs/streaming-data-into-bigquery#dataconsistency):
 * insertId de-duplication, per-row `invalid` errors, a malformed request refused as a whole. Failures
 * BigQuery has and the emulator does not (5xx, `backendError` on some rows) come from a proxy.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ensureAnalyticsDataset } from '#shared/analytics/dataset.ts';
import { eventRow, eventStreamRow, type StreamRow } from '#shared/analytics/rows.ts';
import { createBigQuerySink } from '#shared/analytics/sink.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { sampleEvent } from '../../fixtures/events.ts';
import {
  bigQueryClient,
  datasetName,
  startEmulatedBigQuery,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

interface InsertAllBody {
  rows: StreamRow<Record<string, unknown>>[];
  skipInvalidRows?: boolean;
}

/**
 * Forwards to the emulator; `fault` may answer an insertAll itself (a status), or pass only some
 * rows on and report `backendError` for the others, as BigQuery does when a backend fails.
 */
async function startFaultProxy(target: string) {
  const seen: string[][] = [];
  let fault: ((body: InsertAllBody, call: number) => number | Set<string> | undefined) | undefined;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        let body = Buffer.concat(chunks).toString('utf8');
        let failedIds = new Set<string>();
        let original: InsertAllBody | undefined;
        if (new URL(request.url ?? '/', 'http://proxy').pathname.endsWith('/insertAll')) {
          original = JSON.parse(body) as InsertAllBody;
          seen.push(original.rows.map((row) => row.insertId));
          const decision = fault?.(original, seen.length);
          if (typeof decision === 'number') {
            response.writeHead(decision, { 'content-type': 'application/json' });
            response.end(JSON.stringify({ error: { code: decision, message: 'injected', errors: [] } }));
            return;
          }
          if (decision) {
            failedIds = decision;
            body = JSON.stringify({
              ...original,
              rows: original.rows.filter((row) => !failedIds.has(row.insertId)),
            });
          }
        }
        if (original && original.rows.every((row) => failedIds.has(row.insertId))) {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ insertErrors: backendErrors(original, failedIds) }));
          return;
        }
        const upstream = await fetch(`${target}${request.url}`, {
          method: request.method!,
          headers: { 'content-type': 'application/json' },
          ...(request.method === 'GET' || request.method === 'DELETE' ? {} : { body }),
        });
        let text = await upstream.text();
        if (original && failedIds.size > 0) {
          text = JSON.stringify({ insertErrors: backendErrors(original, failedIds) });
        }
        response.writeHead(upstream.status, { 'content-type': 'application/json' });
        response.end(text);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    set fault(next: typeof fault) {
      fault = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function backendErrors(body: InsertAllBody, failed: Set<string>) {
  return body.rows.flatMap((row, index) =>
    failed.has(row.insertId) ? [{ index, errors: [{ reason: 'backendError', message: 'injected' }] }] : [],
  );
}

const rowOf = (type = EVENT_TYPE.orderCreated) => {
  const event = sampleEvent(type);
  return eventStreamRow(eventRow(event, { publishTime: event.time, attributes: { 'ce-id': event.id } }));
};

describe('BigQuery sink on the emulator', () => {
  let bq: EmulatedBigQuery;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  const dataset = datasetName('sink');
  const noSleep = () => Promise.resolve();

  before(async () => {
    bq = await startEmulatedBigQuery();
    proxy = await startFaultProxy(bq.url);
    await ensureAnalyticsDataset(bq.client, { dataset });
  });
  after(async () => {
    await proxy.close();
    await bq.stop();
  });
  beforeEach(() => {
    proxy.fault = undefined;
    proxy.seen.length = 0;
  });

  const sink = (options: { maxAttempts?: number } = {}) =>
    createBigQuerySink({ bigquery: bigQueryClient(proxy.url), dataset, sleep: noSleep, ...options });
  const countOf = async (ids: string[]) => {
    const [rows] = await bq.client.query({
      query: `SELECT COUNT(*) AS n FROM ${dataset}.events WHERE event_id IN UNNEST(@ids)`,
      params: { ids },
    });
    return (rows as { n: number }[])[0]!.n;
  };

  it('de-duplicates by insertId: the same rows sent twice are stored once', async () => {
    const rows = [rowOf(), rowOf(), rowOf()];
    const ids = rows.map((row) => row.insertId);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(
        (await sink().insert('events', rows)).map((outcome) => outcome.status),
        ['inserted', 'inserted', 'inserted'],
      );
    }
    assert.equal(await countOf(ids), 3);
  });

  it('reports rows BigQuery calls invalid, with its reason, and inserts the others', async () => {
    const good = [rowOf(), rowOf()];
    const notJson = rowOf();
    notJson.json = { ...notJson.json, payload: '{oops' };
    const missing = rowOf();
    missing.json = { ...missing.json, type: null as unknown as string };
    const outcomes = await sink().insert('events', [good[0]!, notJson, missing, good[1]!]);
    assert.deepEqual(outcomes[0], { status: 'inserted' });
    assert.deepEqual(outcomes[3], { status: 'inserted' });
    assert.deepEqual(outcomes[1], {
      status: 'invalid',
      reason: 'invalid at payload: Invalid JSON string: {oops',
    });
    assert.deepEqual(outcomes[2], {
      status: 'invalid',
      reason: 'invalid at type: Missing required field: type.',
    });
    assert.equal(proxy.seen.length, 1, 'invalid rows are not retried');
    assert.equal(await countOf(good.map((row) => row.insertId)), 2);
    assert.equal(await countOf([notJson.insertId, missing.insertId]), 0);
  });

  it('a malformed row that makes BigQuery refuse the whole request is isolated; the others go in', async () => {
    const good = [rowOf(), rowOf(), rowOf()];
    const malformed = { insertId: 'malformed', json: [1, 2] as unknown as object };
    const outcomes = await sink().insert('events', [good[0]!, malformed, good[1]!, good[2]!]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['inserted', 'invalid', 'inserted', 'inserted'],
    );
    assert.match((outcomes[1] as { reason: string }).reason, /^insertAll failed \(400\): .*json/);
    assert.equal(await countOf(good.map((row) => row.insertId)), 3);
  });

  it('retries a request that failed with 5xx and stores its rows once', async () => {
    proxy.fault = (_body, call) => (call === 1 ? 503 : undefined);
    const rows = [rowOf(), rowOf()];
    const outcomes = await sink().insert('events', rows);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['inserted', 'inserted'],
    );
    assert.equal(proxy.seen.length, 2);
    assert.equal(await countOf(rows.map((row) => row.insertId)), 2);
  });

  it('retries only the rows that failed (backendError), with the same insertIds', async () => {
    const rows = [rowOf(), rowOf(), rowOf(), rowOf()];
    const flaky = new Set([rows[1]!.insertId, rows[3]!.insertId]);
    proxy.fault = (_body, call) => (call === 1 ? flaky : undefined);
    const outcomes = await sink().insert('events', rows);
    assert.ok(outcomes.every((outcome) => outcome.status === 'inserted'));
    assert.deepEqual(proxy.seen, [rows.map((row) => row.insertId), [...flaky]]);
    assert.equal(await countOf(rows.map((row) => row.insertId)), 4);
  });

  it('gives up after maxAttempts and says the rows failed (never that they went in)', async () => {
    const rows = [rowOf(), rowOf()];
    proxy.fault = () => new Set([rows[0]!.insertId]);
    const outcomes = await sink({ maxAttempts: 3 }).insert('events', rows);
    assert.deepEqual(outcomes, [
      { status: 'failed', reason: 'backendError: injected' },
      { status: 'inserted' },
    ]);
    assert.equal(proxy.seen.length, 3);
    assert.equal(await countOf([rows[0]!.insertId]), 0);
  });
});
