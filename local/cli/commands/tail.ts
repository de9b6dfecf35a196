/**
 * `conveyor tail`: the live stream of order events, as they are published. It creates a temporary
 * subscription on order-events (ordered per order, expiring by itself after a day should the CLI be
 * killed), prints each event as it arrives, and deletes the subscription when it ends (Ctrl-C,
 * --count or --timeout-ms). Against the emulator with PUBSUB_EMULATOR_HOST; against Pub/Sub with
 * Application Default Credentials and CONVEYOR_PROJECT_ID. Exit 0 done, 1 --count not reached
 * before --timeout-ms, 3 Pub/Sub unreachable, 130 interrupted (Ctrl-C: the normal way to stop).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Command } from 'commander';
import { Option } from 'commander';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { LOCAL_PROJECT_ID, TOPIC } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { CliError, EXIT_CODE, say, type CliContext } from '../output.ts';

interface Options {
  order?: string;
  type?: string;
  count?: number;
  timeoutMs?: number;
  json?: boolean;
  connectTimeoutMs: number;
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A client for the emulator at PUBSUB_EMULATOR_HOST, or for Pub/Sub with ADC. */
export function pubsubFrom(env: CliContext['env']): PubSub {
  const projectId = env.PUBSUB_PROJECT_ID ?? env.CONVEYOR_PROJECT_ID ?? LOCAL_PROJECT_ID;
  const emulator = env.PUBSUB_EMULATOR_HOST;
  return emulator
    ? new PubSub({ projectId, apiEndpoint: emulator, emulatorMode: true, universeDomain: 'googleapis.com' })
    : new PubSub({ projectId });
}

export function register(program: Command, context: CliContext): void {
  program
    .command('tail')
    .description('Follow the live order events (a temporary subscription on order-events, deleted on exit)')
    .option('--order <id>', "only this order's events")
    .option('--type <prefix>', 'only event types starting with this (order.completed, payment.)')
    .addOption(new Option('--count <n>', 'stop after this many events').argParser(Number))
    .addOption(new Option('--timeout-ms <ms>', 'stop after this long').argParser(Number))
    .option('--json', 'one JSON event per line (the CloudEvents envelope)')
    .addOption(new Option('--connect-timeout-ms <ms>').default(10_000).argParser(Number).hideHelp())
    .action(async (options: Options) => {
      const pubsub = pubsubFrom(context.env);
      const name = `conveyor-tail-${os.userInfo().username.replace(/[^\w-]/g, '')}-${randomBytes(4).toString('hex')}`;
      let subscription;
      try {
        // The client retries an unreachable server for minutes; an operator wants to know now.
        [subscription] = await withTimeout(
          pubsub.topic(TOPIC.orderEvents).createSubscription(name, {
            enableMessageOrdering: true,
            ackDeadlineSeconds: 10,
            // The minimums: should this process die without deleting it, it goes away by itself.
            expirationPolicy: { ttl: { seconds: 24 * 3600 } },
            messageRetentionDuration: { seconds: 600 },
          }),
          options.connectTimeoutMs,
          'no answer',
        );
      } catch (error) {
        await pubsub.close().catch(() => undefined);
        throw new CliError(
          `cannot subscribe to ${TOPIC.orderEvents}: ${error instanceof Error ? error.message : String(error)}`,
          EXIT_CODE.unavailable,
        );
      }
      say(context.stderr, `tailing ${TOPIC.orderEvents} (subscription ${name}); Ctrl-C stops`);
      let seen = 0;
      let failure: Error | undefined;
      const outcome = await new Promise<'count' | 'timeout' | 'interrupted' | 'error'>((resolve) => {
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => resolve('timeout'), options.timeoutMs);
        void context.interrupted.then(() => resolve('interrupted'));
        subscription.on('error', (error: Error) => {
          failure = error;
          resolve('error');
        });
        subscription.on('message', (message: Message) => {
          message.ack();
          const type = message.attributes[ATTRIBUTE.type] ?? '';
          const orderId = message.attributes[ATTRIBUTE.subject] ?? '';
          if (options.order && orderId !== options.order) return;
          if (options.type && !type.startsWith(options.type)) return;
          seen++;
          if (options.json) say(context.stdout, message.data.toString('utf8'));
          else {
            const time = message.attributes[ATTRIBUTE.time] ?? message.publishTime.toISOString();
            const replay = message.attributes[ATTRIBUTE.replay] ? '  (replay)' : '';
            say(
              context.stdout,
              `${time.slice(11, 23)}  ${type.padEnd(34)} ${orderId}  #${message.attributes[ATTRIBUTE.sequence] ?? '?'}${replay}`,
            );
          }
          if (options.count !== undefined && seen >= options.count) {
            clearTimeout(timer);
            resolve('count');
          }
        });
      });
      subscription.removeAllListeners('message');
      await subscription.close().catch(() => undefined);
      await subscription
        .delete()
        .catch((error: unknown) =>
          say(
            context.stderr,
            `could not delete subscription ${name} (it expires by itself): ${String(error)}`,
          ),
        );
      await pubsub.close().catch(() => undefined);
      if (outcome === 'error')
        throw new CliError(`Pub/Sub: ${failure?.message ?? 'subscriber failed'}`, EXIT_CODE.unavailable);
      if (!options.json) say(context.stderr, `${seen} events`);
      context.setExitCode(
        outcome === 'interrupted'
          ? EXIT_CODE.interrupted
          : outcome === 'timeout' && options.count !== undefined
            ? EXIT_CODE.failed
            : EXIT_CODE.ok,
      );
    });
}
