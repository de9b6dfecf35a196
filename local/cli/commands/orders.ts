/**
 * `conveyor orders create|get|events`: place an order through the API (with an Idempotency-Key,
 * optionally waiting until it finishes), read one, read its history. Tables for people, `--json`
 * for scripts. Exit 0 done (`create --wait`: completed), 1 `create --wait` ended otherwise
 * (cancelled, or still waiting at the timeout), 2 refused (bad arguments, 4xx: unknown order,
 * unknown SKU), 3 unreachable, 130 interrupted.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { createTable } from '../table.ts';
import { apiClientFrom, type ApiClient } from '../api.ts';
import { CliError, EXIT_CODE, say, type CliContext } from '../output.ts';

/** What the CLI reads of an order (the API's Order schema). */
export interface OrderView {
  id: string;
  status: string;
  version: number;
  customerId: string;
  currency: string;
  lines: { sku: string; quantity: number; unitPriceMinor: number }[];
  totalMinor: number;
  createdAt: string;
  updatedAt: string;
  payment?: { paymentId: string; status: string };
  shipment?: { shipmentId: string; carrier: string; status: string; trackingNumber?: string };
  approval?: { decision?: string; escalated: boolean; expiresAt: string };
  cancellation?: { reasonCode: string; reason: string };
  completedAt?: string;
  cancelledAt?: string;
}

interface HistoryView {
  orderId: string;
  events: {
    position: number;
    recordedAt: string;
    event: { id: string; type: string; time: string; sequence: number; data?: unknown };
  }[];
}

/** Statuses after which nothing more happens to an order (and awaiting approval, which waits on a person). */
const FINISHED = new Set(['completed', 'cancelled']);

const DEFAULT_ADDRESS = {
  name: 'Ada Lovelace',
  line1: '1 Analytical St',
  city: 'London',
  postalCode: 'N1 9GU',
  country: 'GB',
};

function line(value: string, previous: { sku: string; quantity: number }[] = []) {
  const match = /^([^:\s]+)(?::(\d+))?$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected SKU or SKU:QUANTITY, e.g. BOOK-1:2');
  return [...previous, { sku: match[1]!, quantity: Number(match[2] ?? 1) }];
}

export const money = (minor: number, currency: string) => `${(minor / 100).toFixed(2)} ${currency}`;

export function register(program: Command, context: CliContext): void {
  const orders = program.command('orders').description('Place and inspect orders through the API');

  orders
    .command('create')
    .description('Place an order (POST /v1/orders with an Idempotency-Key)')
    .requiredOption(
      '--line <sku[:quantity]>',
      'a line; repeat for more (e.g. --line BOOK-1:2 --line MUG-1)',
      line,
    )
    .option('--customer <id>', 'customer id', 'cli-customer')
    .option('--currency <code>', 'currency of the order', 'EUR')
    .option('--address <json>', 'shipping address as JSON (default: a sample address)')
    .option('--idempotency-key <key>', 'reuse a key to retry safely (default: a new UUID)')
    .option('--wait', 'wait until the order is completed or cancelled')
    .addOption(new Option('--timeout-ms <ms>', 'with --wait: how long').default(60_000).argParser(Number))
    .option('--json', 'print the order as JSON')
    .addOption(new Option('--poll-ms <ms>').default(250).argParser(Number).hideHelp())
    .action(
      async (options: {
        line: { sku: string; quantity: number }[];
        customer: string;
        currency: string;
        address?: string;
        idempotencyKey?: string;
        wait?: boolean;
        timeoutMs: number;
        json?: boolean;
        pollMs: number;
      }) => {
        let shippingAddress: unknown = DEFAULT_ADDRESS;
        if (options.address) {
          try {
            shippingAddress = JSON.parse(options.address);
          } catch {
            throw new CliError('--address: expected a JSON object', EXIT_CODE.usage);
          }
        }
        const api = apiClientFrom(context.env);
        const key = options.idempotencyKey ?? randomUUID();
        let order = await api.request<OrderView>('POST', '/v1/orders', {
          headers: { 'idempotency-key': key },
          body: {
            customerId: options.customer,
            currency: options.currency,
            lines: options.line,
            shippingAddress,
          },
        });
        if (!options.json) say(context.stderr, `order ${order.id} placed (Idempotency-Key ${key})`);
        if (options.wait) {
          const waited = await waitForOrder(api, order.id, context, options.timeoutMs, options.pollMs);
          if (waited === 'interrupted') {
            context.setExitCode(EXIT_CODE.interrupted);
            return;
          }
          order = waited;
          context.setExitCode(order.status === 'completed' ? EXIT_CODE.ok : EXIT_CODE.failed);
        }
        printOrder(context, order, options.json);
      },
    );

  orders
    .command('get')
    .description('Show an order (GET /v1/orders/{id})')
    .argument('<id>', 'the order id')
    .option('--json', 'print the order as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const api = apiClientFrom(context.env);
      printOrder(
        context,
        await api.request<OrderView>('GET', `/v1/orders/${encodeURIComponent(id)}`),
        options.json,
      );
    });

  orders
    .command('events')
    .description("Show an order's history, one event per row (GET /v1/orders/{id}/events)")
    .argument('<id>', 'the order id')
    .option('--json', 'print the history as JSON (every envelope in full)')
    .action(async (id: string, options: { json?: boolean }) => {
      const api = apiClientFrom(context.env);
      const history = await api.request<HistoryView>('GET', `/v1/orders/${encodeURIComponent(id)}/events`);
      if (options.json) {
        say(context.stdout, JSON.stringify(history, null, 2));
        return;
      }
      const table = createTable(context, { head: ['#', 'type', 'time', 'event id'] });
      for (const { event } of history.events) table.push([event.sequence, event.type, event.time, event.id]);
      say(context.stdout, table.toString());
    });
}

/** Polls the order until it is completed or cancelled, the timeout passes or the user interrupts. */
async function waitForOrder(
  api: ApiClient,
  id: string,
  context: CliContext,
  timeoutMs: number,
  pollMs: number,
): Promise<OrderView | 'interrupted'> {
  let interrupted = false;
  void context.interrupted.then(() => (interrupted = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const order = await api.request<OrderView>('GET', `/v1/orders/${encodeURIComponent(id)}`);
    if (FINISHED.has(order.status) || Date.now() > deadline) return order;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, pollMs)), context.interrupted]);
    if (interrupted) return 'interrupted';
  }
}

function printOrder(context: CliContext, order: OrderView, json?: boolean): void {
  if (json) {
    say(context.stdout, JSON.stringify(order, null, 2));
    return;
  }
  const table = createTable(context);
  const rows: [string, string][] = [
    ['id', order.id],
    ['status', order.status],
    ['version', String(order.version)],
    ['customer', order.customerId],
    ['total', money(order.totalMinor, order.currency)],
    [
      'lines',
      order.lines
        .map((l) => `${l.quantity} × ${l.sku} @ ${money(l.unitPriceMinor, order.currency)}`)
        .join('\n'),
    ],
    ['created', order.createdAt],
    ['updated', order.updatedAt],
  ];
  if (order.payment) rows.push(['payment', `${order.payment.paymentId} (${order.payment.status})`]);
  if (order.shipment)
    rows.push([
      'shipment',
      `${order.shipment.shipmentId} by ${order.shipment.carrier} (${order.shipment.status})${order.shipment.trackingNumber ? `, tracking ${order.shipment.trackingNumber}` : ''}`,
    ]);
  if (order.approval)
    rows.push([
      'approval',
      `${order.approval.decision ?? 'awaiting'}${order.approval.escalated ? ', escalated' : ''}`,
    ]);
  if (order.cancellation)
    rows.push(['cancelled', `${order.cancellation.reasonCode}: ${order.cancellation.reason}`]);
  for (const [name, value] of rows) table.push({ [name]: value });
  say(context.stdout, table.toString());
}
