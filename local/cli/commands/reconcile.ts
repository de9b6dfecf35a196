/**
 * `conveyor reconcile --from … --to … [--repair]`: events per day and type in the event store
 * (DATABASE_URL) against BigQuery (CONVEYOR_PROJECT_ID, BIGQUERY_DATASET, BIGQUERY_API_ENDPOINT
 * for the emulator), counted by distinct event id. Reports the days where BigQuery misses events or holds
 * extra ones. With --repair, replays each day that misses events to analytics through the API
 * (CONVEYOR_API_URL, CONVEYOR_API_KEY), follows the replays, then checks again until the counts
 * agree or --verify-timeout passes. Exit 0 no gaps (or repaired), 1 gaps remain, 2 bad arguments,
 * 3 unreachable.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import Table from 'cli-table3';
import { createBigQueryClient } from '#shared/analytics/client.ts';
import {
  countBigQueryEvents,
  countStoredEvents,
  reconcile,
  repairPlan,
  type ReconciliationReport,
  type TimeRange,
} from '#shared/analytics/reconcile.ts';
import { BIGQUERY, LOCAL_PROJECT_ID } from '#shared/contracts/catalogue.ts';
import { createPool } from '#shared/store/pool.ts';
import { apiClientFrom } from '../api.ts';
import { CliError, EXIT_CODE, parseTime, required, say, type CliContext } from '../output.ts';
import { followReplay, requestReplay, type ReplayView } from './replay.ts';

interface Options {
  from: string;
  to: string;
  repair?: boolean;
  json?: boolean;
  dataset?: string;
  verifyTimeoutMs: number;
  pollMs: number;
}

export function register(program: Command, context: CliContext): void {
  program
    .command('reconcile')
    .description(
      'Compare events per day in the event store with BigQuery; --repair replays what BigQuery misses',
    )
    .requiredOption('--from <time>', 'first day or time to compare (2024-03-01 or an RFC 3339 time)')
    .requiredOption('--to <time>', 'compare up to this day or time (exclusive)')
    .option('--repair', 'replay the days BigQuery misses events of to analytics, then check again')
    .option('--json', 'print the report (and repairs) as JSON on stdout')
    .option('--dataset <id>', 'BigQuery dataset (default: BIGQUERY_DATASET or analytics)')
    .addOption(
      new Option('--verify-timeout-ms <ms>', 'after a repair, how long to wait for BigQuery to agree')
        .default(120_000)
        .argParser(Number),
    )
    .addOption(new Option('--poll-ms <ms>').default(1_000).argParser(Number).hideHelp())
    .action(async (options: Options) => {
      const range: TimeRange = { from: parseTime(options.from, 'from'), to: parseTime(options.to, 'to') };
      if (Date.parse(range.from) >= Date.parse(range.to))
        throw new CliError('--from must be before --to', EXIT_CODE.usage);
      const env = context.env;
      const pool = createPool({
        url: required(env, 'DATABASE_URL', 'the event store to compare with'),
        applicationName: 'conveyor-cli',
        max: 2,
      });
      const bigquery = createBigQueryClient({
        projectId: env.CONVEYOR_PROJECT_ID ?? LOCAL_PROJECT_ID,
        apiEndpoint: env.BIGQUERY_API_ENDPOINT,
      });
      const dataset = options.dataset ?? env.BIGQUERY_DATASET ?? BIGQUERY.dataset;
      const side = async <T>(name: string, work: Promise<T>): Promise<T> => {
        try {
          return await work;
        } catch (error) {
          throw new CliError(
            `${name}: ${error instanceof Error ? error.message : String(error)}`,
            EXIT_CODE.unavailable,
          );
        }
      };
      const check = async (): Promise<ReconciliationReport> => {
        const [stored, inBigQuery] = await Promise.all([
          side('event store', countStoredEvents(pool, range)),
          side('BigQuery', countBigQueryEvents(bigquery, dataset, range)),
        ]);
        return reconcile(range, stored, inBigQuery);
      };
      try {
        const report = await check();
        if (!options.json) print(context, report);
        if (!options.repair || report.missing === 0) {
          if (options.json) say(context.stdout, JSON.stringify({ report }, null, 2));
          context.setExitCode(report.gaps.length === 0 ? EXIT_CODE.ok : EXIT_CODE.failed);
          return;
        }
        const api = apiClientFrom(env);
        const replays: ReplayView[] = [];
        for (const request of repairPlan(report)) {
          const replay = await requestReplay(api, request);
          if (!options.json)
            say(
              context.stderr,
              `repair: replay ${replay.id} of ${request.from.slice(0, 10)} (${request.types?.join(', ')})`,
            );
          const followed = await followReplay(api, replay.id, context, {
            quiet: options.json === true,
            pollMs: options.pollMs,
            label: `repair ${request.from.slice(0, 10)}`,
          });
          if (followed === 'interrupted') {
            context.setExitCode(EXIT_CODE.interrupted);
            return;
          }
          replays.push(followed);
          if (followed.status !== 'completed')
            throw new CliError(
              `repair replay ${followed.id} ${followed.status}: ${followed.lastError ?? ''}`,
              EXIT_CODE.failed,
            );
        }
        // Published is not yet landed: the analytics function streams the replay in; wait for it.
        const deadline = Date.now() + options.verifyTimeoutMs;
        let after = await check();
        while (after.missing > 0 && Date.now() < deadline) {
          await Promise.race([
            new Promise((resolve) => setTimeout(resolve, options.pollMs)),
            context.interrupted,
          ]);
          after = await check();
        }
        if (options.json) say(context.stdout, JSON.stringify({ report, repairs: replays, after }, null, 2));
        else {
          say(
            context.stdout,
            after.missing === 0 ? 'repaired: BigQuery has every event of the store' : 'after the repair:',
          );
          if (after.missing > 0) print(context, after);
        }
        context.setExitCode(after.gaps.length === 0 ? EXIT_CODE.ok : EXIT_CODE.failed);
      } finally {
        await pool.end();
      }
    });
}

function print(context: CliContext, report: ReconciliationReport): void {
  const out = context.stdout;
  say(
    out,
    `${report.range.from} – ${report.range.to}: ${report.stored} events in the store, ${report.inBigQuery} in BigQuery` +
      ` (${report.missing} missing, ${report.extra} extra)`,
  );
  if (report.gaps.length === 0) {
    say(out, 'no gaps');
    return;
  }
  const table = new Table({ head: ['day', 'type', 'store', 'BigQuery', 'missing', 'extra'] });
  for (const day of report.gaps) {
    table.push([day.day, 'all', day.stored, day.inBigQuery, day.missing, day.extra]);
    for (const type of day.types.filter((t) => t.missing > 0 || t.extra > 0))
      table.push(['', type.type, type.stored, type.inBigQuery, type.missing, type.extra]);
  }
  say(out, table.toString());
}
