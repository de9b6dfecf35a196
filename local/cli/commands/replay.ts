/**
 * `conveyor replay --from … --to … [--consumer analytics] [--types a,b] [--order <id>]`: asks the
 * API for a replay (POST /v1/replays, admin key) and follows it with a progress bar until it ends.
 * `--id <replay>` follows an existing one; `--no-wait` returns once it is accepted; `--json` prints
 * the replay as JSON (no bar). Exit 0 completed, 1 failed or cancelled, 2 refused, 3 unreachable,
 * 130 interrupted (the replay goes on in the API).
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { Option } from 'commander';
import cliProgress from 'cli-progress';
import { apiClientFrom, type ApiClient } from '../api.ts';
import { CliError, EXIT_CODE, parseTime, say, type CliContext } from '../output.ts';

/** What the CLI reads of a replay (the API's Replay schema). */
export interface ReplayView {
  id: string;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
  consumer: string;
  request: { from: string; to: string; types?: string[]; orderId?: string; consumer: string };
  progress: {
    published: number;
    total: number | null;
    percent: number | null;
    eventsPerSecond: number | null;
    etaSeconds: number | null;
  };
  lastError?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface ReplayRequestBody {
  from: string;
  to: string;
  types?: string[];
  orderId?: string;
  consumer: string;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** POSTs a replay; the Idempotency-Key makes a retried POST the same replay. */
export function requestReplay(api: ApiClient, body: ReplayRequestBody, idempotencyKey = randomUUID()) {
  return api.request<ReplayView>('POST', '/v1/replays', {
    body,
    headers: { 'idempotency-key': idempotencyKey },
  });
}

/**
 * Polls the replay until it ends (or the user interrupts), drawing a progress bar on a terminal
 * (a line now and then otherwise; nothing with `quiet`). Resolves with the last view.
 */
export async function followReplay(
  api: ApiClient,
  id: string,
  context: CliContext,
  options: { quiet: boolean; pollMs: number; label?: string },
): Promise<ReplayView | 'interrupted'> {
  const { stderr } = context;
  const tty = stderr.isTTY === true && !options.quiet;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream: stderr,
          format: `${options.label ?? `replay ${id.slice(0, 8)}`} |{bar}| {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta}s | {status}`,
          hideCursor: true,
          barsize: 30,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let interrupted = false;
  void context.interrupted.then(() => (interrupted = true));
  let started = false;
  let lastLine = 0;
  try {
    for (;;) {
      const replay = await api.request<ReplayView>('GET', `/v1/replays/${id}`);
      const { published, total, eventsPerSecond, etaSeconds } = replay.progress;
      const payload = { rate: eventsPerSecond ?? '-', eta: etaSeconds ?? '-', status: replay.status };
      if (bar) {
        if (!started) bar.start(total ?? 0, published, payload);
        else {
          if (total !== null) bar.setTotal(total);
          bar.update(published, payload);
        }
        started = true;
      } else if (!options.quiet && (Date.now() - lastLine > 5_000 || FINISHED.has(replay.status))) {
        lastLine = Date.now();
        say(
          stderr,
          `replay ${replay.id}: ${replay.status}, ${published}/${total ?? '?'} events${eventsPerSecond ? `, ${eventsPerSecond} events/s` : ''}`,
        );
      }
      if (FINISHED.has(replay.status)) return replay;
      if (interrupted) return 'interrupted';
      await Promise.race([
        new Promise((resolve) => setTimeout(resolve, options.pollMs)),
        context.interrupted,
      ]);
      if (interrupted) return 'interrupted';
    }
  } finally {
    bar?.stop();
  }
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function register(program: Command, context: CliContext): void {
  program
    .command('replay')
    .description('Replay history from the event store to one consumer, and follow its progress')
    .option('--from <time>', 'first event time to replay (2024-03-01 or 2024-03-01T12:00:00Z)')
    .option('--to <time>', 'replay events before this time (exclusive)')
    .addOption(
      new Option('--consumer <name>', 'the one consumer to replay to')
        .choices(['analytics', 'saga', 'notifier'])
        .default('analytics'),
    )
    .option(
      '--types <types>',
      'only these event types, comma-separated (e.g. order.created.v1,order.completed.v1)',
      list,
    )
    .option('--order <id>', "only this order's events")
    .option('--id <replay>', 'follow an existing replay instead of starting one')
    .option('--no-wait', 'return once the replay is accepted')
    .option('--json', 'print the replay as JSON on stdout, no progress bar')
    .addOption(
      new Option('--poll-ms <ms>', 'how often to ask for progress').default(500).argParser(Number).hideHelp(),
    )
    .action(
      async (options: {
        from?: string;
        to?: string;
        consumer: string;
        types?: string[];
        order?: string;
        id?: string;
        wait: boolean;
        json?: boolean;
        pollMs: number;
      }) => {
        const api = apiClientFrom(context.env);
        let replay: ReplayView;
        if (options.id) {
          replay = await api.request<ReplayView>('GET', `/v1/replays/${encodeURIComponent(options.id)}`);
        } else {
          if (!options.from || !options.to)
            throw new CliError('--from and --to are required (or --id to follow a replay)', EXIT_CODE.usage);
          replay = await requestReplay(api, {
            from: parseTime(options.from, 'from'),
            to: parseTime(options.to, 'to'),
            ...(options.types ? { types: options.types } : {}),
            ...(options.order ? { orderId: options.order } : {}),
            consumer: options.consumer,
          });
          if (!options.json)
            say(context.stderr, `replay ${replay.id} accepted (${api.baseUrl}/v1/replays/${replay.id})`);
        }
        if (options.wait) {
          const followed = await followReplay(api, replay.id, context, {
            quiet: options.json === true,
            pollMs: options.pollMs,
          });
          if (followed === 'interrupted') {
            say(context.stderr, `stopped following; the replay goes on: conveyor replay --id ${replay.id}`);
            context.setExitCode(EXIT_CODE.interrupted);
            return;
          }
          replay = followed;
        }
        if (options.json) say(context.stdout, JSON.stringify(replay, null, 2));
        else if (FINISHED.has(replay.status)) {
          const { published, total, eventsPerSecond } = replay.progress;
          say(
            context.stdout,
            `replay ${replay.id} ${replay.status}: ${published}/${total ?? '?'} events to ${replay.consumer}` +
              `${eventsPerSecond ? ` at ${eventsPerSecond} events/s` : ''}${replay.lastError && replay.status !== 'completed' ? `\n  ${replay.lastError}` : ''}`,
          );
        }
        context.setExitCode(
          replay.status === 'failed' || replay.status === 'cancelled' ? EXIT_CODE.failed : EXIT_CODE.ok,
        );
      },
    );
}
