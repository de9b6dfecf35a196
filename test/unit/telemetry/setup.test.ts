import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { parseTelemetryConfig } from '#shared/telemetry/config.ts';
import { currentTraceparent, parseTraceparent } from '#shared/telemetry/context.ts';
import { withEventCreation } from '#shared/telemetry/messaging.ts';
import { cloudMonitoringMetrics, METRICS } from '#shared/telemetry/metrics-catalogue.ts';
import { disabledTelemetry, onlyMetrics, startTelemetry } from '#shared/telemetry/setup.ts';
import { localTelemetry, PROJECT } from './helpers.ts';

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('startTelemetry', () => {
  it('with tracing off still passes the caller’s context on to the events it writes', async () => {
    const telemetry = await startTelemetry({
      service: 'api',
      projectId: PROJECT,
      config: parseTelemetryConfig({ CONVEYOR_TRACE_EXPORTER: 'none', CONVEYOR_METRICS_EXPORTER: 'none' }),
    });
    try {
      const caller = trace.setSpanContext(ROOT_CONTEXT, parseTraceparent(CALLER)!);
      const traceparent = await context.with(caller, () =>
        withEventCreation(telemetry, { orderId: 'o-1', correlationId: 'c-1' }, (value) =>
          Promise.resolve(value),
        ),
      );
      assert.equal(traceparent, CALLER);
      assert.equal(telemetry.spans, undefined);
      // Metrics are still there for /metrics, whatever the exporter.
      telemetry.metrics.published('order-events', 'order.created.v1');
      assert.match(await telemetry.prometheus(), /^conveyor_events_published_total\{.*\} 1$/m);
    } finally {
      await telemetry.shutdown();
    }
  });

  it('unregisters on shutdown only the globals it registered', async () => {
    const first = await localTelemetry({ service: 'first' });
    const second = await localTelemetry({ service: 'second' });
    await second.shutdown();
    await first.tracer.startActiveSpan('still traced', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      assert.equal(
        currentTraceparent()?.split('-')[2],
        span.spanContext().spanId,
        'context still follows awaits',
      );
      span.end();
    });
    await first.shutdown();
    assert.equal(currentTraceparent(), undefined);
  });

  it('sends Cloud Monitoring only the metrics Google does not measure itself', async () => {
    const exported: string[][] = [];
    const exporter: PushMetricExporter = {
      export(metrics: ResourceMetrics, done) {
        exported.push(
          metrics.scopeMetrics.flatMap((scope) => scope.metrics.map((metric) => metric.descriptor.name)),
        );
        done({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const telemetry = await startTelemetry({
      service: 'api',
      projectId: PROJECT,
      config: parseTelemetryConfig({ CONVEYOR_TRACE_EXPORTER: 'none', CONVEYOR_METRICS_EXPORTER: 'none' }),
      registerGlobals: false,
      metricExporter: onlyMetrics(exporter, new Set(cloudMonitoringMetrics().map((metric) => metric.name))),
      gauges: [() => ({ outbox: { backlog: 1, oldestAgeSeconds: 2 }, subscriptionLag: { saga: 3 } })],
    });
    await telemetry.flush();
    await telemetry.shutdown();
    const names = exported.flat();
    assert.ok(names.includes(METRICS.outboxBacklog.name));
    assert.ok(!names.includes(METRICS.subscriptionOldestUnackedAge.name));
  });
});

describe('disabledTelemetry', () => {
  it('records nothing and still renders an empty /metrics', async () => {
    const telemetry = disabledTelemetry();
    telemetry.metrics.consumed('saga', 'order.created.v1', 'processed', 1);
    const span = telemetry.tracer.startSpan('nothing');
    assert.equal(span.isRecording(), false);
    span.end();
    assert.doesNotMatch(await telemetry.prometheus(), /^conveyor_events_consumed_total\{/m);
    await telemetry.shutdown();
  });
});
