import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError } from '#shared/errors.ts';
import { parseConfig } from '#shared/config/index.ts';
import {
  parseTelemetryConfig,
  telemetryConfigFrom,
  telemetryEnv,
  type TelemetryConfig,
} from '#shared/telemetry/config.ts';

describe('telemetry config', () => {
  const cases: { name: string; env: Record<string, string>; expect: Partial<Record<string, unknown>> }[] = [
    {
      name: 'nothing set: everything local, every trace sampled, metrics every minute',
      env: {},
      expect: {
        'traces.exporter': 'local',
        'traces.otlpUrl': undefined,
        'traces.sampleRatio': 1,
        'metrics.exporter': 'local',
        'metrics.exportIntervalMs': 60_000,
        storeSpans: 20_000,
      },
    },
    {
      name: 'an OTLP endpoint alone: both signals go there, at the spec paths',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:8080/' },
      expect: {
        'traces.exporter': 'otlp',
        'traces.otlpUrl': 'http://127.0.0.1:8080/v1/traces',
        'metrics.exporter': 'otlp',
        'metrics.otlpUrl': 'http://127.0.0.1:8080/v1/metrics',
      },
    },
    {
      name: 'production: Cloud Trace at 10 %, Cloud Monitoring',
      env: {
        CONVEYOR_TRACE_EXPORTER: 'cloud-trace',
        CONVEYOR_METRICS_EXPORTER: 'cloud-monitoring',
        CONVEYOR_TRACE_SAMPLE_RATIO: '0.1',
      },
      expect: {
        'traces.exporter': 'cloud-trace',
        'traces.sampleRatio': 0.1,
        'metrics.exporter': 'cloud-monitoring',
        'metrics.otlpUrl': undefined,
      },
    },
    {
      name: 'an endpoint set but the exporters chosen otherwise: no OTLP URL',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com',
        CONVEYOR_TRACE_EXPORTER: 'none',
        CONVEYOR_METRICS_EXPORTER: 'local',
      },
      expect: { 'traces.exporter': 'none', 'traces.otlpUrl': undefined, 'metrics.otlpUrl': undefined },
    },
    {
      name: 'the local stack: functions send to the API every 5 s',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:3000', OTEL_METRIC_EXPORT_INTERVAL: '5000' },
      expect: { 'metrics.exportIntervalMs': 5_000, 'metrics.otlpUrl': 'http://localhost:3000/v1/metrics' },
    },
    {
      name: 'empty strings count as unset',
      env: { CONVEYOR_TRACE_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '', CONVEYOR_TRACE_SAMPLE_RATIO: '' },
      expect: { 'traces.exporter': 'local', 'traces.sampleRatio': 1 },
    },
    {
      name: 'sampling nothing is allowed',
      env: { CONVEYOR_TRACE_SAMPLE_RATIO: '0' },
      expect: { 'traces.sampleRatio': 0 },
    },
  ];
  for (const { name, env, expect } of cases) {
    it(name, () => {
      const config = parseTelemetryConfig(env);
      for (const [path, value] of Object.entries(expect)) assert.equal(read(config, path), value, path);
    });
  }

  const bad: { name: string; env: Record<string, string>; problems: RegExp[] }[] = [
    {
      name: 'unknown exporters and a ratio out of range, all at once',
      env: {
        CONVEYOR_TRACE_EXPORTER: 'jaeger',
        CONVEYOR_METRICS_EXPORTER: 'statsd',
        CONVEYOR_TRACE_SAMPLE_RATIO: '2',
      },
      problems: [
        /^CONVEYOR_TRACE_EXPORTER:/,
        /^CONVEYOR_METRICS_EXPORTER:/,
        /^CONVEYOR_TRACE_SAMPLE_RATIO: expected a number from 0 to 1/,
      ],
    },
    {
      name: 'a ratio that is not a number',
      env: { CONVEYOR_TRACE_SAMPLE_RATIO: 'all' },
      problems: [/^CONVEYOR_TRACE_SAMPLE_RATIO:/],
    },
    {
      name: 'an endpoint that is not http(s)',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' },
      problems: [/^OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/],
    },
    {
      name: 'otlp without an endpoint, for both signals',
      env: { CONVEYOR_TRACE_EXPORTER: 'otlp', CONVEYOR_METRICS_EXPORTER: 'otlp' },
      problems: [
        /^CONVEYOR_TRACE_EXPORTER: otlp needs OTEL_EXPORTER_OTLP_ENDPOINT/,
        /^CONVEYOR_METRICS_EXPORTER: otlp needs/,
      ],
    },
    {
      name: 'Cloud Monitoring more often than it accepts points',
      env: { CONVEYOR_METRICS_EXPORTER: 'cloud-monitoring', OTEL_METRIC_EXPORT_INTERVAL: '5000' },
      problems: [/^OTEL_METRIC_EXPORT_INTERVAL: Cloud Monitoring needs at least 10000 ms/],
    },
    {
      name: 'a span store too small to hold a trace',
      env: { CONVEYOR_TRACE_STORE_SPANS: '10' },
      problems: [/^CONVEYOR_TRACE_STORE_SPANS:/],
    },
  ];
  for (const { name, env, problems } of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => parseTelemetryConfig(env),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.problems.length, problems.length, error.problems.join('\n'));
          for (const problem of problems)
            assert.ok(
              error.problems.some((p) => problem.test(p)),
              `${String(problem)} in ${error.problems.join('; ')}`,
            );
          return true;
        },
      );
    });
  }

  it('spreads into a deployable schema as the other shared variable groups do', () => {
    const schema = z.object({ PORT: z.coerce.number() }).extend(telemetryEnv.shape);
    const parsed = parseConfig(schema, { PORT: '8080', CONVEYOR_TRACE_EXPORTER: 'none' });
    assert.equal(telemetryConfigFrom(parsed).traces.exporter, 'none');
  });
});

function read(config: TelemetryConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], config);
}
