import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscription } from '#shared/contracts/catalogue.ts';
import { parseConfig } from '#shared/config/index.ts';
import { ConfigError, ValidationError } from '#shared/errors.ts';
import type { ReceivedMessage } from '#shared/messaging/codec.ts';
import { DEFAULT_RETRY } from '#shared/providers/index.ts';
import { notifierConfigSchema } from '../../../functions/notifier/config.ts';
import { sagaConfigSchema } from '../../../functions/saga/config.ts';
import { SAGA_PROVIDER_RETRY, SAGA_PROVIDER_TIMEOUT_MS } from '../../../functions/saga/handler.ts';
import { parseTick } from '../../../functions/timeouts/handler.ts';
import { TICK, tickPublishRequest } from '../../../infra/constructs/scheduler.ts';

const DATABASE_URL = 'postgres://u:p@localhost:5432/conveyor';

describe('saga: a step fits its time limits', () => {
  it('the worst provider call ends before the ack deadline and the idle-in-transaction timeout', () => {
    const retry = { ...DEFAULT_RETRY, ...SAGA_PROVIDER_RETRY };
    // The last attempt may start just before maxElapsed, then wait its backoff and time out.
    const worstMs = retry.maxElapsedMs + retry.maxDelayMs + SAGA_PROVIDER_TIMEOUT_MS;
    assert.ok(worstMs < subscription('saga').ackDeadlineSeconds * 1000, `${worstMs} ms`);
    assert.ok(worstMs < 30_000, 'the pool closes connections idle in a transaction for 30 s');
  });
});

describe('timeouts: ticks as Cloud Scheduler publishes them', () => {
  const message = (data: unknown, attributes: Record<string, string> = {}): ReceivedMessage => ({
    messageId: '1',
    publishTime: new Date().toISOString(),
    subscription: 'projects/p/subscriptions/timeouts',
    deliveryAttempt: 1,
    orderingKey: undefined,
    attributes,
    data: Buffer.from(JSON.stringify(data)),
    json: data,
  });

  it('reads the tick infra publishes', () => {
    const [published] = (
      JSON.parse(tickPublishRequest()) as { messages: { data: string; attributes: Record<string, string> }[] }
    ).messages;
    const data = JSON.parse(Buffer.from(published!.data, 'base64').toString('utf8')) as unknown;
    assert.deepEqual(parseTick(message(data, published!.attributes)), {
      name: TICK.data.tick,
      messageId: '1',
    });
    assert.deepEqual(parseTick(message(data)), { name: 'every-minute', messageId: '1' }, 'by its data alone');
  });

  it('refuses anything else (dead-lettered)', () => {
    assert.throws(() => parseTick(message({ hello: 'world' })), ValidationError);
  });
});

describe('function configs', () => {
  const saga = {
    DATABASE_URL,
    PAYMENT_PROVIDER_URL: 'http://pay',
    SHIPPING_PROVIDER_URL: 'http://ship',
    APPROVAL_THRESHOLD_MINOR: '100000',
  };
  const cases: [string, () => unknown, RegExp | undefined][] = [
    ['the saga with what infra sets', () => parseConfig(sagaConfigSchema, saga), undefined],
    [
      'the saga without its providers',
      () => parseConfig(sagaConfigSchema, { DATABASE_URL }),
      /PAYMENT_PROVIDER_URL[\s\S]*SHIPPING_PROVIDER_URL[\s\S]*APPROVAL_THRESHOLD_MINOR/,
    ],
    [
      'the notifier with a subscriber list',
      () =>
        parseConfig(notifierConfigSchema, {
          DATABASE_URL,
          NOTIFIER_SIGNING_SECRET: 'x'.repeat(32),
          NOTIFIER_SUBSCRIBERS: '[{"id":"shop-a","url":"https://shop.example/hook"}]',
        }),
      undefined,
    ],
    [
      'the notifier with a list that is not JSON',
      () =>
        parseConfig(notifierConfigSchema, {
          DATABASE_URL,
          NOTIFIER_SIGNING_SECRET: 'x'.repeat(32),
          NOTIFIER_SUBSCRIBERS: '[{',
        }),
      /NOTIFIER_SUBSCRIBERS: expected a JSON array/,
    ],
    [
      'the notifier announcing an event its subscription never delivers',
      () =>
        parseConfig(notifierConfigSchema, {
          DATABASE_URL,
          NOTIFIER_SIGNING_SECRET: 'x'.repeat(32),
          NOTIFIER_EVENTS: 'order.completed.v1,payment.failed.v1',
        }),
      /NOTIFIER_EVENTS: expected event types of order\.completed, order\.cancelled, order\.approval_escalated/,
    ],
    [
      'the notifier with a short secret',
      () => parseConfig(notifierConfigSchema, { DATABASE_URL, NOTIFIER_SIGNING_SECRET: 'short' }),
      /NOTIFIER_SIGNING_SECRET/,
    ],
  ];
  for (const [name, parse, problem] of cases) {
    it(problem ? `refuses ${name}` : `accepts ${name}`, () => {
      if (!problem) return void parse();
      assert.throws(parse, (error: unknown) => error instanceof ConfigError && problem.test(error.message));
    });
  }

  it('defaults: announced events, approval deadlines', () => {
    const notifier = parseConfig(notifierConfigSchema, {
      DATABASE_URL,
      NOTIFIER_SIGNING_SECRET: 'x'.repeat(32),
    });
    assert.deepEqual(notifier.NOTIFIER_EVENTS, [
      'order.completed.v1',
      'order.cancelled.v2',
      'order.approval_escalated.v1',
    ]);
    assert.deepEqual(notifier.NOTIFIER_SUBSCRIBERS, []);
    const parsed = parseConfig(sagaConfigSchema, saga);
    assert.deepEqual(
      [parsed.APPROVAL_ESCALATE_AFTER_MS, parsed.APPROVAL_EXPIRE_AFTER_MS],
      [3_600_000, 86_400_000],
    );
  });
});
