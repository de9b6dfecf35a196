/**
 * `conveyor bq query "<SQL>"`: GoogleSQL against the analytics dataset, on the BigQuery emulator
 * (BIGQUERY_API_ENDPOINT) or on BigQuery with Application Default Credentials
 * (CONVEYOR_PROJECT_ID). Unqualified tables resolve in the dataset (--dataset, BIGQUERY_DATASET, or
 * analytics): `SELECT type, COUNT(*) AS n FROM events GROUP BY type`. A table for people, `--json`
 * (an array of rows) for scripts. Exit 0 done, 2 the query was refused (syntax, unknown table),
 * 3 BigQuery unreachable.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { createBigQueryClient } from '#shared/analytics/client.ts';
import { BIGQUERY, LOCAL_PROJECT_ID } from '#shared/contracts/catalogue.ts';
import { CliError, EXIT_CODE, say, type CliContext } from '../output.ts';
import { createTable } from '../table.ts';

/** A cell as a person reads it: BigQuery's wrapped values (timestamps, numerics) unwrapped. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && entries[0]![0] === 'value') return entries[0]![1];
  if (value.constructor?.name === 'Big') return (value as { toString(): string }).toString();
  return Object.fromEntries(entries.map(([key, inner]) => [key, plain(inner)]));
}

/** One table cell. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString();
  return JSON.stringify(value);
}

export function register(program: Command, context: CliContext): void {
  const bq = program.command('bq').description('Query the analytics dataset in BigQuery (or its emulator)');
  bq.command('query')
    .description('Run a GoogleSQL query; unqualified tables are in the analytics dataset')
    .argument('<sql>', 'the query, e.g. "SELECT type, COUNT(*) AS n FROM events GROUP BY type"')
    .option('--dataset <id>', 'default dataset (default: BIGQUERY_DATASET or analytics)')
    .addOption(new Option('--max-rows <n>', 'print at most this many rows').default(1_000).argParser(Number))
    .option('--json', 'print the rows as a JSON array')
    .action(async (sql: string, options: { dataset?: string; maxRows: number; json?: boolean }) => {
      const env = context.env;
      const projectId = env.CONVEYOR_PROJECT_ID ?? LOCAL_PROJECT_ID;
      // The emulator is local: retrying a refused connection for seconds helps nobody.
      const bigquery = createBigQueryClient({
        projectId,
        apiEndpoint: env.BIGQUERY_API_ENDPOINT,
        ...(env.BIGQUERY_API_ENDPOINT ? { autoRetry: false } : {}),
      });
      let rows: Record<string, unknown>[];
      try {
        [rows] = (await bigquery.query({
          query: sql,
          useLegacySql: false,
          defaultDataset: {
            projectId,
            datasetId: options.dataset ?? env.BIGQUERY_DATASET ?? BIGQUERY.dataset,
          },
          maxResults: options.maxRows,
        })) as unknown as [Record<string, unknown>[]];
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const refused = typeof code === 'number' && code >= 400 && code < 500;
        throw new CliError(
          `BigQuery: ${error instanceof Error ? error.message : String(error)}`,
          refused ? EXIT_CODE.usage : EXIT_CODE.unavailable,
        );
      }
      const shown = rows.slice(0, options.maxRows).map((row) => plain(row) as Record<string, unknown>);
      if (options.json) {
        say(context.stdout, JSON.stringify(shown, null, 2));
        return;
      }
      if (shown.length === 0) {
        say(context.stdout, '(no rows)');
        return;
      }
      const columns = Object.keys(shown[0]!);
      const table = createTable(context, { head: columns });
      for (const row of shown) table.push(columns.map((column) => cell(row[column])));
      say(context.stdout, table.toString());
      say(context.stderr, `${rows.length} row${rows.length === 1 ? '' : 's'}`);
    });
}
