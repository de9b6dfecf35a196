/**
 * The BigQuery client every Conveyor component builds: Application Default Credentials in Google
 * Cloud; against the local BigQuery emulator (BIGQUERY_EMULATOR_HOST=host:port) an auth client
 * that adds no headers, so that nothing looks for credentials or probes the metadata server.
 */
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';

export interface BigQueryClientOptions {
  projectId: string;
  /** host:port of the BigQuery emulator; unset in Google Cloud. */
  emulatorHost?: string | undefined;
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
    ...(options.emulatorHost
      ? {
          apiEndpoint: options.emulatorHost.includes('://')
            ? options.emulatorHost
            : `http://${options.emulatorHost}`,
          authClient: NO_CREDENTIALS,
        }
      : {}),
  });
}
