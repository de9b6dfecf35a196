/**
 * The BigQuery client every Conveyor component builds: Application Default Credentials in Google
 * Cloud; against the local BigQuery emulator (BIGQUERY_API_ENDPOINT=http://host:port) an auth
 * client that adds no headers, so that nothing looks for credentials or probes the metadata server.
 *
 * Not BIGQUERY_EMULATOR_HOST: @google-cloud/bigquery reads that variable itself, from
 * process.env, and takes its value verbatim as the base URL of every request (ahead of any
 * apiEndpoint), so it must stay unset in Conveyor's processes.
 */
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';

export interface BigQueryClientOptions {
  projectId: string;
  /** URL of the BigQuery emulator (http://127.0.0.1:9050); unset in Google Cloud. */
  apiEndpoint?: string | undefined;
  /** Let the client retry 5xx and rate-limit answers itself (default true, as the library does). */
  autoRetry?: boolean;
}

const NO_CREDENTIALS = {
  getRequestHeaders: () => Promise.resolve(new Headers()),
} as unknown as BigQueryOptions['authClient'];

export function createBigQueryClient(options: BigQueryClientOptions): BigQuery {
  return new BigQuery({
    projectId: options.projectId,
    ...(options.autoRetry === false ? { autoRetry: false } : {}),
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint, authClient: NO_CREDENTIALS } : {}),
  });
}
