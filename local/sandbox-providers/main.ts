/**
 * Starts the sandbox payment and shipping providers until SIGINT or SIGTERM.
 *
 *   node local/sandbox-providers/main.ts --payment-webhook-url http://127.0.0.1:8080/v1/webhooks/payments \
 *     --shipping-webhook-url http://127.0.0.1:8080/v1/webhooks/shipping --decline-rate 0.1
 *
 * Every option can also come from the environment variable named in --help (the webhook secret
 * best does, so that it is not visible in the process list).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Faults } from './faults.ts';
import { startPaymentSandbox } from './payment.ts';
import { startShippingSandbox } from './shipping.ts';

function number(kind: 'rate' | 'ms' | 'int' | 'port') {
  return (value: string): number => {
    const parsed = Number(value);
    const ok =
      value.trim() !== '' &&
      (kind === 'rate'
        ? parsed >= 0 && parsed <= 1
        : Number.isInteger(parsed) && parsed >= 0 && (kind !== 'port' || parsed <= 65_535));
    if (!ok) {
      throw new InvalidArgumentError(
        kind === 'rate'
          ? 'expected a number from 0 to 1'
          : kind === 'port'
            ? 'expected a port'
            : 'expected a whole number ≥ 0',
      );
    }
    return parsed;
  };
}

const program = new Command('sandbox-providers')
  .description('Sandbox payment and shipping providers with failure injection')
  .addOption(new Option('--host <host>', 'address to listen on').env('SANDBOX_HOST').default('127.0.0.1'))
  .addOption(
    new Option('--payment-port <port>', 'payment sandbox port (0: any free port)')
      .env('SANDBOX_PAYMENT_PORT')
      .argParser(number('port'))
      .default(4010),
  )
  .addOption(
    new Option('--shipping-port <port>', 'shipping sandbox port (0: any free port)')
      .env('SANDBOX_SHIPPING_PORT')
      .argParser(number('port'))
      .default(4020),
  )
  .addOption(
    new Option('--payment-webhook-url <url>', 'where payment outcomes are POSTed').env(
      'SANDBOX_PAYMENT_WEBHOOK_URL',
    ),
  )
  .addOption(
    new Option('--shipping-webhook-url <url>', 'where shipment progress is POSTed').env(
      'SANDBOX_SHIPPING_WEBHOOK_URL',
    ),
  )
  .addOption(
    new Option(
      '--webhook-secret <secrets>',
      'signing secret; comma-separated to sign with several (rotation)',
    ).env('SANDBOX_WEBHOOK_SECRET'),
  )
  .addOption(new Option('--seed <n>', 'seed of every random choice').argParser(number('int')).default(1))
  .addOption(new Option('--decline-rate <rate>', 'share of charges declined').argParser(number('rate')))
  .addOption(
    new Option('--shipment-failure-rate <rate>', 'share of shipments that fail').argParser(number('rate')),
  )
  .addOption(new Option('--error-rate <rate>', 'share of API calls answered 5xx').argParser(number('rate')))
  .addOption(
    new Option('--timeout-rate <rate>', 'share of API calls never answered').argParser(number('rate')),
  )
  .addOption(new Option('--hang-ms <ms>', 'how long an unanswered call hangs').argParser(number('ms')))
  .addOption(new Option('--latency-ms <ms>', 'added to every API answer').argParser(number('ms')))
  .addOption(new Option('--webhook-delay-ms <ms>', 'until each webhook').argParser(number('ms')))
  .addOption(
    new Option('--duplicate-rate <rate>', 'share of webhooks delivered twice').argParser(number('rate')),
  )
  .addOption(
    new Option('--reorder-rate <rate>', 'share of shipments reported delivered before dispatched').argParser(
      number('rate'),
    ),
  );

program.parse();
const options = program.opts<
  Partial<Faults> & {
    host: string;
    paymentPort: number;
    shippingPort: number;
    paymentWebhookUrl?: string;
    shippingWebhookUrl?: string;
    webhookSecret?: string;
  }
>();

const FAULT_KEYS = [
  'seed',
  'declineRate',
  'shipmentFailureRate',
  'errorRate',
  'timeoutRate',
  'hangMs',
  'latencyMs',
  'webhookDelayMs',
  'duplicateRate',
  'reorderRate',
] as const satisfies readonly (keyof Faults)[];
const faults: Partial<Faults> = Object.fromEntries(
  FAULT_KEYS.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]),
);
const webhookSecret = options.webhookSecret
  ?.split(',')
  .map((secret) => secret.trim())
  .filter(Boolean);

try {
  const payment = await startPaymentSandbox({
    host: options.host,
    port: options.paymentPort,
    ...(options.paymentWebhookUrl ? { webhookUrl: options.paymentWebhookUrl } : {}),
    ...(webhookSecret ? { webhookSecret } : {}),
    faults,
  });
  const shipping = await startShippingSandbox({
    host: options.host,
    port: options.shippingPort,
    ...(options.shippingWebhookUrl ? { webhookUrl: options.shippingWebhookUrl } : {}),
    ...(webhookSecret ? { webhookSecret } : {}),
    faults,
  }).catch(async (error: unknown) => {
    await payment.stop();
    throw error;
  });
  console.log(`Payment sandbox listening on ${payment.url}`);
  console.log(`Shipping sandbox listening on ${shipping.url}`);
  for (const [name, url] of [
    ['payment', options.paymentWebhookUrl],
    ['shipping', options.shippingWebhookUrl],
  ] as const) {
    if (!url) console.log(`(no ${name} webhook URL: ${name} outcomes are counted in the ledger, not sent)`);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the sandbox providers`);
    void Promise.all([payment.stop(), shipping.stop()]).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('stopping failed:', error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(
    `sandbox providers failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
}
