/**
 * The BigQuery emulator in tests: one in-process emulator per test file, the real client pointed
 * at it, and run-scoped dataset names so tests never share datasets.
 *
 *   let bq: EmulatedBigQuery;
 *   before(async () => (bq = await startEmulatedBigQuery()));
 *   after(() => bq.stop());
 */
import { randomBytes } from 'node:crypto';
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import {
  startBigQueryEmulator,
  type BigQueryEmulator,
  type BigQueryEmulatorOptions,
} from '../../local/bigquery-emulator/index.ts';
import { RUN_ID_VARIABLE } from './processes.ts';

export const TEST_PROJECT = 'conveyor-test';

/**
 * Without credentials of its own the client would look for Application Default Credentials (and
 * probe the GCE metadata server); an auth client that adds no headers keeps every request local.
 */
export const NO_CREDENTIALS = {
  getRequestHeaders: () => Promise.resolve(new Headers()),
} as unknown as BigQueryOptions['authClient'];

export function bigQueryClient(url: string, projectId = TEST_PROJECT): BigQuery {
  return new BigQuery({ projectId, apiEndpoint: url, authClient: NO_CREDENTIALS, autoRetry: false });
}

/** A dataset name unique to this test run, e.g. `insert_3fa2c1d0_9b1e`. */
export function datasetName(prefix: string): string {
  const run = (process.env[RUN_ID_VARIABLE] ?? 'local').replace(/[^A-Za-z0-9]/g, '');
  return `${prefix}_${run}_${randomBytes(3).toString('hex')}`;
}

export interface EmulatedBigQuery {
  readonly emulator: BigQueryEmulator;
  readonly client: BigQuery;
  readonly url: string;
  /** Raw HTTP against the emulator's REST API (path after /bigquery/v2). */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

export async function startEmulatedBigQuery(
  options: BigQueryEmulatorOptions = {},
): Promise<EmulatedBigQuery> {
  const emulator = await startBigQueryEmulator(options);
  return {
    emulator,
    client: bigQueryClient(emulator.url),
    url: emulator.url,
    async request(method, path, body) {
      const response = await fetch(`${emulator.url}/bigquery/v2${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    stop: () => emulator.stop(),
  };
}
