/**
 * `conveyor dead-letters list|show|redrive|discard` (admin key): what consumers gave up on, why,
 * and what an operator does about it, through /v1/dead-letters. Tables for people, `--json` for
 * scripts. Exit 0 done, 1 `redrive --all` left some not redriven, 2 refused (unknown id, already
 * closed: 409), 3 unreachable.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { createTable } from '../table.ts';
import { apiClientFrom } from '../api.ts';
import { CliError, EXIT_CODE, say, type CliContext } from '../output.ts';

/** What the CLI reads of a dead letter (the API's DeadLetter schema). */
export interface DeadLetterView {
  id: string;
  status: 'open' | 'redriven' | 'discarded';
  statusReason?: string;
  sourceSubscription: string;
  sourceTopic?: string;
  messageId: string;
  eventId?: string;
  eventType?: string;
  orderId?: string;
  orderingKey?: string;
  attempts: number;
  lastError?: string;
  attributes: Record<string, string>;
  data: string;
  payload?: unknown;
  deadLetteredAt: string;
  updatedAt: string;
}

const shorten = (text: string | undefined, length: number) =>
  !text ? '' : text.length > length ? `${text.slice(0, length - 1)}…` : text;

export function register(program: Command, context: CliContext): void {
  const letters = program
    .command('dead-letters')
    .description('Inspect, redrive or discard dead letters (admin)');

  letters
    .command('list')
    .description('List dead letters, newest first')
    .addOption(
      new Option('--status <status>', 'only these')
        .choices(['open', 'redriven', 'discarded'])
        .default('open'),
    )
    .option('--subscription <name>', 'only those of this subscription (saga, notifier, …)')
    .option('--order <id>', 'only those of this order')
    .option('--type <type>', 'only those of this event type')
    .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser(Number))
    .option('--json', 'print them as JSON')
    .action(
      async (options: {
        status: string;
        subscription?: string;
        order?: string;
        type?: string;
        limit: number;
        json?: boolean;
      }) => {
        const api = apiClientFrom(context.env);
        const query = new URLSearchParams({ status: options.status, limit: String(options.limit) });
        if (options.subscription) query.set('subscription', options.subscription);
        if (options.order) query.set('orderId', options.order);
        if (options.type) query.set('eventType', options.type);
        const page = await api.request<{ items: DeadLetterView[]; nextCursor?: string }>(
          'GET',
          `/v1/dead-letters?${query.toString()}`,
        );
        if (options.json) {
          say(context.stdout, JSON.stringify(page.items, null, 2));
          return;
        }
        if (page.items.length === 0) {
          say(context.stdout, `no ${options.status} dead letters`);
          return;
        }
        const table = createTable(context, {
          head: ['id', 'subscription', 'event type', 'order', 'attempts', 'dead-lettered', 'last error'],
        });
        for (const letter of page.items) {
          table.push([
            letter.id,
            letter.sourceSubscription,
            letter.eventType ?? '',
            letter.orderId ?? '',
            letter.attempts,
            letter.deadLetteredAt,
            shorten(letter.lastError, 60),
          ]);
        }
        say(context.stdout, table.toString());
        if (page.nextCursor) say(context.stderr, `(more than ${options.limit}: use --limit or a filter)`);
      },
    );

  letters
    .command('show')
    .description('Show one dead letter: the message, its attributes, why it died')
    .argument('<id>', 'the dead letter id')
    .option('--json', 'print it as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const api = apiClientFrom(context.env);
      const letter = await api.request<DeadLetterView>('GET', `/v1/dead-letters/${encodeURIComponent(id)}`);
      if (options.json) {
        say(context.stdout, JSON.stringify(letter, null, 2));
        return;
      }
      const table = createTable(context);
      const rows: [string, string][] = [
        ['id', letter.id],
        ['status', `${letter.status}${letter.statusReason ? ` (${letter.statusReason})` : ''}`],
        ['subscription', letter.sourceSubscription],
        ['source topic', letter.sourceTopic ?? ''],
        ['message id', letter.messageId],
        ['event', `${letter.eventType ?? '?'} ${letter.eventId ?? ''}`],
        ['order', letter.orderId ?? ''],
        ['attempts', String(letter.attempts)],
        ['dead-lettered', letter.deadLetteredAt],
        ['last error', letter.lastError ?? ''],
        [
          'attributes',
          Object.entries(letter.attributes)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n'),
        ],
        [
          'payload',
          letter.payload === undefined
            ? `(not JSON) ${Buffer.from(letter.data, 'base64').toString('utf8')}`
            : JSON.stringify(letter.payload, null, 2),
        ],
      ];
      for (const [name, value] of rows) table.push({ [name]: value });
      say(context.stdout, table.toString());
    });

  letters
    .command('redrive')
    .description('Republish dead letters to their source topic, with their original event ids')
    .argument('[id]', 'the dead letter to redrive')
    .option('--all', 'every open one matching the filters instead (oldest first, up to --limit)')
    .option('--subscription <name>', 'with --all: only those of this subscription')
    .option('--order <id>', 'with --all: only those of this order')
    .option('--type <type>', 'with --all: only those of this event type')
    .addOption(new Option('--limit <n>', 'with --all: at most this many').default(100).argParser(Number))
    .option('--reason <text>', 'why (the fix), for the audit log')
    .option('--json', 'print the outcome as JSON')
    .action(
      async (
        id: string | undefined,
        options: {
          all?: boolean;
          subscription?: string;
          order?: string;
          type?: string;
          limit: number;
          reason?: string;
          json?: boolean;
        },
      ) => {
        if (Boolean(id) === Boolean(options.all)) {
          throw new CliError('redrive: give a dead letter id, or --all (with filters)', EXIT_CODE.usage);
        }
        const api = apiClientFrom(context.env);
        if (id) {
          const result = await api.request<{ deadLetter: DeadLetterView; messageId: string }>(
            'POST',
            `/v1/dead-letters/${encodeURIComponent(id)}/redrive`,
            { body: options.reason ? { reason: options.reason } : {} },
          );
          if (options.json) say(context.stdout, JSON.stringify(result, null, 2));
          else
            say(
              context.stdout,
              `redriven ${result.deadLetter.id} to ${result.deadLetter.sourceTopic ?? 'its topic'} as message ${result.messageId}`,
            );
          return;
        }
        const filter = {
          ...(options.subscription ? { subscription: options.subscription } : {}),
          ...(options.order ? { orderId: options.order } : {}),
          ...(options.type ? { eventType: options.type } : {}),
        };
        const result = await api.request<{
          redriven: { id: string; messageId: string }[];
          failed: { id: string; error: string }[];
        }>('POST', '/v1/dead-letters/redrive', {
          body: { filter, limit: options.limit, ...(options.reason ? { reason: options.reason } : {}) },
        });
        if (options.json) say(context.stdout, JSON.stringify(result, null, 2));
        else {
          say(context.stdout, `redriven ${result.redriven.length}, failed ${result.failed.length}`);
          for (const failure of result.failed) say(context.stdout, `  ${failure.id}: ${failure.error}`);
        }
        context.setExitCode(result.failed.length === 0 ? EXIT_CODE.ok : EXIT_CODE.failed);
      },
    );

  letters
    .command('discard')
    .description('Drop a dead letter, saying why (kept, closed, for the audit log)')
    .argument('<id>', 'the dead letter id')
    .requiredOption('--reason <text>', 'why it is dropped')
    .option('--json', 'print the closed dead letter as JSON')
    .action(async (id: string, options: { reason: string; json?: boolean }) => {
      const api = apiClientFrom(context.env);
      const letter = await api.request<DeadLetterView>(
        'POST',
        `/v1/dead-letters/${encodeURIComponent(id)}/discard`,
        { body: { reason: options.reason } },
      );
      if (options.json) say(context.stdout, JSON.stringify(letter, null, 2));
      else say(context.stdout, `discarded ${letter.id}: ${letter.statusReason ?? options.reason}`);
    });
}
