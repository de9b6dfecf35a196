/**
 * Google's `bq` CLI against the emulator, where it is installed. bq builds its client from the
 * endpoint's discovery document (`--api`); `--oauth_access_token` gives the gcloud wrapper a token
 * so it does not look for an account, and CLOUDSDK_CONFIG points it at an empty configuration so
 * nothing of the user's gcloud setup is read or changed.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

const run = promisify(execFile);
const probe = spawnSync('bq', ['version'], { encoding: 'utf8', timeout: 60_000 });
const missing =
  probe.error || probe.status !== 0
    ? `bq CLI is not installed (${probe.error?.message ?? probe.stderr.trim()}); skipping`
    : false;

describe('BigQuery emulator with the bq CLI', { skip: missing }, () => {
  let bq: EmulatedBigQuery;
  let home: string;
  let dataset: string;
  before(async () => {
    bq = await startEmulatedBigQuery();
    home = await mkdtemp(path.join(os.tmpdir(), 'conveyor-bq-cli-'));
    dataset = datasetName('bqcli');
  });
  after(async () => {
    await bq.stop();
    await rm(home, { recursive: true, force: true });
  });

  const cli = async (...args: string[]) => {
    const { stdout } = await run(
      'bq',
      [
        `--api=${bq.url}`,
        `--project_id=${TEST_PROJECT}`,
        '--oauth_access_token=unused',
        '--bigqueryrc=/dev/null',
        '--format=json',
        ...args,
      ],
      { env: { ...process.env, CLOUDSDK_CONFIG: path.join(home, 'gcloud'), HOME: home }, timeout: 120_000 },
    );
    return stdout;
  };
  const failure = async (...args: string[]) => {
    try {
      await cli(...args);
    } catch (error) {
      return (
        String((error as { stdout?: string }).stdout ?? '') +
        String((error as { stderr?: string }).stderr ?? '')
      );
    }
    assert.fail(`bq ${args.join(' ')} should have failed`);
  };

  it('creates a dataset and a table, streams rows, reads them back and queries them', async () => {
    await cli('mk', '--dataset', `${TEST_PROJECT}:${dataset}`);
    await cli('mk', '--table', `${dataset}.orders`, 'order_id:STRING,total:NUMERIC,placed_at:TIMESTAMP');
    const rows = path.join(home, 'rows.json');
    await writeFile(
      rows,
      [
        { order_id: 'o1', total: '10.50', placed_at: '2024-01-01 09:00:00' },
        { order_id: 'o2', total: '4.25', placed_at: '2024-01-02 09:00:00' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    await cli('insert', `${dataset}.orders`, rows);

    const listed = JSON.parse(await cli('ls')) as { datasetReference: { datasetId: string } }[];
    assert.ok(listed.some((d) => d.datasetReference.datasetId === dataset));
    const shown = JSON.parse(await cli('show', `${dataset}.orders`)) as {
      schema: { fields: { name: string; type: string }[] };
      numRows: string;
    };
    assert.deepEqual(
      shown.schema.fields.map((f) => [f.name, f.type]),
      [
        ['order_id', 'STRING'],
        ['total', 'NUMERIC'],
        ['placed_at', 'TIMESTAMP'],
      ],
    );
    assert.equal(shown.numRows, '2');
    const head = JSON.parse(await cli('head', `${dataset}.orders`)) as { order_id: string }[];
    assert.deepEqual(head.map((r) => r.order_id).sort(), ['o1', 'o2']);

    const result = JSON.parse(
      await cli(
        'query',
        '--use_legacy_sql=false',
        `SELECT COUNT(*) AS orders, SUM(total) AS revenue, MIN(DATE(placed_at)) AS first_day FROM ${dataset}.orders`,
      ),
    ) as Record<string, string>[];
    assert.deepEqual(result, [{ orders: '2', revenue: '14.75', first_day: '2024-01-01' }]);

    const parameterised = JSON.parse(
      await cli(
        'query',
        '--use_legacy_sql=false',
        '--parameter=min:NUMERIC:5',
        `SELECT order_id FROM ${dataset}.orders WHERE total > @min`,
      ),
    ) as { order_id: string }[];
    assert.deepEqual(parameterised, [{ order_id: 'o1' }]);
  });

  it('shows BigQuery’s errors: unknown names and legacy SQL', async () => {
    assert.match(
      await failure('query', '--use_legacy_sql=false', 'SELECT nope'),
      /Unrecognized\s+name:\s+nope\s+at\s+\[1:8\]/,
    );
    assert.match(
      await failure('query', '--use_legacy_sql=true', 'SELECT 1'),
      /Legacy\s+SQL\s+is\s+not\s+supported\s+by\s+the\s+BigQuery\s+emulator/,
    );
    assert.match(await failure('show', `${dataset}_missing`), /Not\s+found:\s+Dataset/);
  });
});
