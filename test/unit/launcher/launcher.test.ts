/**
 * The launcher's pure parts: each deployable's local environment is infra's (same names, every value
 * set) plus the local endpoints; the tick is the scheduler's message; the seed file is valid; logs
 * become one prefixed line (errors with their stack).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEPLOYABLE, DEPLOYABLES } from '../../../infra/deployables.ts';
import { TICK } from '../../../infra/constructs/scheduler.ts';
import { deployableEnv, inheritedEnv, type LocalSettings } from '../../../local/launcher/environment.ts';
import { createLogPrinter } from '../../../local/launcher/logs.ts';
import { readSeed } from '../../../local/launcher/seed.ts';
import { LOCAL_TICK } from '../../../local/launcher/ticks.ts';
import { LOCAL_FUNCTIONS } from '../../../local/launcher/local-stack.ts';
import { FUNCTION } from '#shared/contracts/catalogue.ts';

const local: LocalSettings = {
  projectId: 'conveyor-local',
  logLevel: 'info',
  databaseUrl: 'postgres://postgres:pw@127.0.0.1:54329/conveyor',
  pubsubHost: '127.0.0.1:8085',
  bigqueryUrl: 'http://127.0.0.1:9050',
  paymentUrl: 'http://127.0.0.1:4010',
  shippingUrl: 'http://127.0.0.1:4020',
  approvalThresholdMinor: 100_000,
  poolMax: { api: 10, functions: 5 },
  apiUrl: 'http://127.0.0.1:8080',
  secrets: {
    paymentWebhook: 'whsec_payment_0123456789abcdef',
    shippingWebhook: 'whsec_shipping_0123456789abcdef',
    notifierSigning: 'whsec_notifier_0123456789abcdef',
  },
};

describe('launcher: the environment of each deployable', () => {
  for (const name of Object.values(DEPLOYABLE)) {
    it(`${name}: every variable infra gives it, each with a local value`, () => {
      const env = deployableEnv(name, local);
      for (const variable of Object.keys(DEPLOYABLES[name].env)) {
        assert.ok(variable in env, `${variable} is set`);
        assert.ok(env[variable] && !env[variable].includes('undefined'), `${variable}=${env[variable]}`);
      }
      assert.equal(env.PUBSUB_EMULATOR_HOST, local.pubsubHost);
      assert.equal(
        env.BIGQUERY_API_ENDPOINT,
        DEPLOYABLES[name].bigqueryDataEditor ? local.bigqueryUrl : undefined,
      );
      if ('DATABASE_URL' in DEPLOYABLES[name].env) assert.equal(env.DATABASE_URL, local.databaseUrl);
      // Telemetry goes to the local collector in the API, never to Google.
      if ('CONVEYOR_TRACE_EXPORTER' in DEPLOYABLES[name].env) {
        assert.deepEqual(
          [env.CONVEYOR_TRACE_EXPORTER, env.CONVEYOR_METRICS_EXPORTER, env.OTEL_EXPORTER_OTLP_ENDPOINT],
          name === 'api' ? ['local', 'local', undefined] : ['otlp', 'otlp', local.apiUrl],
        );
      }
    });
  }

  it('runs every function infra deploys', () => {
    assert.deepEqual([...LOCAL_FUNCTIONS].sort(), Object.values(FUNCTION).sort());
  });

  it('keeps the machine basics and leaves the rest of the launcher environment out', () => {
    const env = inheritedEnv({
      PATH: '/usr/bin',
      HOME: '/home/a',
      DATABASE_URL: 'postgres://elsewhere',
      BIGQUERY_EMULATOR_HOST: 'http://x',
      GOOGLE_APPLICATION_CREDENTIALS: '/secret.json',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    });
    assert.deepEqual(env, {
      PATH: '/usr/bin',
      HOME: '/home/a',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      METADATA_SERVER_DETECTION: 'none',
    });
  });
});

describe('launcher: ticks', () => {
  it('publishes the message the Cloud Scheduler job publishes', () => {
    assert.deepEqual(LOCAL_TICK.data, TICK.data);
    assert.deepEqual(LOCAL_TICK.attributes, TICK.attributes);
  });
});

describe('launcher: seed', () => {
  it('is a valid seed with unique SKUs, one of them above the approval threshold', async () => {
    const seed = await readSeed();
    const skus = seed.items.map((item) => item.sku);
    assert.equal(new Set(skus).size, skus.length);
    assert.ok(seed.items.some((item) => item.unitPriceMinor > 100_000));
    assert.ok(
      seed.items.some((item) => item.sku === 'BOOK-1'),
      'the README orders BOOK-1',
    );
  });
});

describe('launcher: logs', () => {
  const printed = () => {
    const out: string[] = [];
    return { out, print: createLogPrinter({ write: (text) => out.push(text), color: false, width: 6 }) };
  };

  it('turns a JSON log line into one line with the component, time, severity and fields', () => {
    const { out, print } = printed();
    print(
      'saga',
      JSON.stringify({
        severity: 'WARNING',
        time: '2024-03-01T12:00:00.123Z',
        service: 'saga',
        message: 'provider circuit changed',
        state: 'open',
        'logging.googleapis.com/trace': 'projects/p/traces/t',
      }),
    );
    assert.equal(out.length, 1);
    assert.match(
      out[0]!,
      /^saga {3}│ \[\d\d:\d\d:\d\d\.123\] WARNING: provider circuit changed \{"state":"open"\}\n$/,
    );
  });

  it('shows an error with its stack, every line prefixed', () => {
    const { out, print } = printed();
    print(
      'api',
      JSON.stringify({
        severity: 'ERROR',
        time: '2024-03-01T12:00:00.000Z',
        message: 'request failed',
        error: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at handler (api/app.ts:1:1)' },
      }),
    );
    const lines = out.join('').trimEnd().split('\n');
    assert.ok(lines.length > 2);
    assert.ok(lines.every((line) => line.startsWith('api    │ ')));
    assert.ok(lines.some((line) => line.includes('at handler (api/app.ts:1:1)')));
  });

  it('passes other lines through under the prefix', () => {
    const { out, print } = printed();
    print('saga', 'Serving function...');
    print('saga', '   ');
    assert.deepEqual(out, ['saga   │ Serving function...\n']);
  });
});
