/**
 * Telemetry for one test: the `local` exporters (spans into an in-memory store, metrics pulled),
 * the OpenTelemetry globals registered so context follows async calls, and shut down (globals
 * unregistered) by the test's `after`.
 */
import { createLocalCollector, type LocalCollector } from '#shared/telemetry/otlp.ts';
import { parseTelemetryConfig } from '#shared/telemetry/config.ts';
import type { GaugeSource } from '#shared/telemetry/metrics.ts';
import { startTelemetry, type Telemetry } from '#shared/telemetry/setup.ts';
import type { StoredSpan } from '#shared/telemetry/span-store.ts';

export const PROJECT = 'conveyor-local';

export async function localTelemetry(
  options: {
    service?: string;
    collector?: LocalCollector;
    gauges?: GaugeSource[];
    gaugeTimeoutMs?: number;
    instanceId?: string;
  } = {},
): Promise<Telemetry & { finished(): Promise<StoredSpan[]> }> {
  const collector = options.collector ?? createLocalCollector();
  const telemetry = await startTelemetry({
    service: options.service ?? 'test',
    projectId: PROJECT,
    config: parseTelemetryConfig({ CONVEYOR_TRACE_EXPORTER: 'local', CONVEYOR_METRICS_EXPORTER: 'local' }),
    collector,
    ...(options.gauges ? { gauges: options.gauges } : {}),
    ...(options.gaugeTimeoutMs ? { gaugeTimeoutMs: options.gaugeTimeoutMs } : {}),
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
  });
  return Object.assign(telemetry, {
    /** Every span stored so far (after exporting what is buffered), oldest first. */
    async finished(): Promise<StoredSpan[]> {
      await telemetry.flush();
      return collector.spans
        .traces({ limit: 1_000 })
        .flatMap((summary) => collector.spans.trace(summary.traceId))
        .sort((a, b) => a.startTime - b.startTime);
    },
  });
}

/** The one span named `name`; fails when there are none or several. */
export function only(spans: readonly StoredSpan[], name: string): StoredSpan {
  const found = spans.filter((span) => span.name === name);
  if (found.length !== 1)
    throw new Error(
      `expected one span ${name}, found ${found.length}: ${spans.map((s) => s.name).join(', ')}`,
    );
  return found[0]!;
}
