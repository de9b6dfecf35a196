/**
 * startTelemetry: tracing and metrics for one deployable, set up once by its entry file.
 *
 * Traces (W3C trace context, parent-based sampling) go to Cloud Trace, to an OTLP/HTTP endpoint,
 * to the local span store, or nowhere; metrics go to Cloud Monitoring, to OTLP/HTTP, or only to
 * this process's /metrics rendering (always available). The returned handle is what instrumented
 * code is given (instrumentConsumer, instrumentPublisher, withEventCreation, the Fastify hooks);
 * the OpenTelemetry globals (context manager, propagator, providers) are registered too, so that
 * context follows async calls and libraries using the global API join the same traces.
 */
import { randomUUID } from 'node:crypto';
import {
  context as contextApi,
  diag,
  DiagLogLevel,
  metrics as metricsApi,
  propagation,
  ProxyTracerProvider,
  trace,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '#shared/logging/index.ts';
import { INHERITED_ATTRIBUTES, SERVICE_INSTANCE_ID, SERVICE_NAMESPACE_ATTRIBUTE } from './attributes.ts';
import type { TelemetryConfig } from './config.ts';
import { propagator } from './context.ts';
import { createTracedFetch } from './http-client.ts';
import { createConveyorMetrics, NOOP_METRICS, type ConveyorMetrics, type GaugeSource } from './metrics.ts';
import { cloudMonitoringMetrics, SERVICE_NAMESPACE } from './metrics-catalogue.ts';
import type { LocalCollector } from './otlp.ts';
import { renderPrometheus, type MetricSource } from './prometheus.ts';
import { createSpanStore, createSpanStoreExporter, type SpanStore } from './span-store.ts';

/** Instrumentation scope of every Conveyor span and metric. */
export const INSTRUMENTATION_SCOPE = 'conveyor';

export interface TelemetryOptions {
  /** service.name: the deployable (`api`, `saga`, …). */
  service: string;
  version?: string;
  /** The Google Cloud project (Cloud Trace, Cloud Monitoring, and the log fields' trace path). */
  projectId: string;
  config: TelemetryConfig;
  /** service.instance.id; default a random UUID (one per process). */
  instanceId?: string;
  /** cloud.region: becomes the `location` of the generic_task metrics are written against. */
  region?: string;
  /**
   * The API's local collector: with the `local` exporter this process's spans go into its store,
   * and the metrics other processes sent it are part of prometheus().
   */
  collector?: LocalCollector;
  /** Gauges this deployable can read (Postgres, the emulator), read at each collection. */
  gauges?: readonly GaugeSource[];
  /** A gauge source slower than this is left out of that collection; default 5 s. */
  gaugeTimeoutMs?: number;
  /** Where exporter and gauge failures are reported. */
  logger?: Logger;
  /** Register the OpenTelemetry globals (context manager, propagator, providers). Default true. */
  registerGlobals?: boolean;
  /** Replaces the configured trace exporter (tests). */
  spanExporter?: SpanExporter;
  /** Replaces the configured metric exporter (tests). */
  metricExporter?: PushMetricExporter;
}

export interface Telemetry {
  readonly service: string;
  readonly instanceId: string;
  readonly projectId: string;
  readonly tracer: Tracer;
  readonly metrics: ConveyorMetrics;
  /** The spans kept in this process (`local` exporter), for the console; undefined otherwise. */
  readonly spans: SpanStore | undefined;
  /** fetch with a client span and the caller's trace context in `traceparent` (provider calls, webhooks). */
  readonly fetch: typeof fetch;
  /** This process's metrics, and those the collector received from others. */
  metricSources(): Promise<MetricSource[]>;
  /** The text of /metrics (Prometheus format): metricSources() rendered. */
  prometheus(): Promise<string>;
  /** Exports what is buffered (call before a function instance may be frozen, and on shutdown). */
  flush(): Promise<void>;
  /** Flushes, stops the exporters and unregisters the globals this handle registered. */
  shutdown(): Promise<void>;
}

export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const { config, logger } = options;
  const instanceId = options.instanceId ?? randomUUID();
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: options.service,
    [SERVICE_NAMESPACE_ATTRIBUTE]: SERVICE_NAMESPACE,
    [SERVICE_INSTANCE_ID]: instanceId,
    ...(options.version ? { [ATTR_SERVICE_VERSION]: options.version } : {}),
    ...(options.region ? { 'cloud.region': options.region } : {}),
  });

  const local =
    config.traces.exporter === 'local'
      ? (options.collector?.spans ?? createSpanStore({ maxSpans: config.storeSpans }))
      : undefined;
  const spanExporter = options.spanExporter ?? (await createSpanExporter(options, local));
  const tracerProvider = spanExporter
    ? new BasicTracerProvider({
        resource,
        sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.traces.sampleRatio) }),
        spanProcessors: [
          createInheritingProcessor(),
          new BatchSpanProcessor(spanExporter, {
            // Locally, spans should reach the console within a moment; Cloud Trace is billed per call.
            scheduledDelayMillis: config.traces.exporter === 'cloud-trace' ? 5_000 : 500,
            maxQueueSize: 8_192,
            maxExportBatchSize: 512,
          }),
        ],
      })
    : undefined;
  // Without an exporter no span is recorded, but context still propagates: the no-op tracer's
  // spans carry their parent's context, so traceparents pass through unchanged.
  const tracer = (tracerProvider ?? new ProxyTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);

  const pull = new PullMetricReader();
  const metricExporter = options.metricExporter ?? (await createMetricExporter(options));
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      pull,
      ...(metricExporter
        ? [
            new PeriodicExportingMetricReader({
              exporter: metricExporter,
              exportIntervalMillis: config.metrics.exportIntervalMs,
              exportTimeoutMillis: Math.min(30_000, config.metrics.exportIntervalMs),
            }),
          ]
        : []),
    ],
  });
  let lastGaugeError = 0;
  const metrics = createConveyorMetrics(meterProvider.getMeter(INSTRUMENTATION_SCOPE), {
    ...(options.gauges ? { gauges: options.gauges } : {}),
    ...(options.gaugeTimeoutMs ? { gaugeTimeoutMs: options.gaugeTimeoutMs } : {}),
    onGaugeError: (error) => {
      // Once a minute at most: a database that is down would otherwise log at every collection.
      if (Date.now() - lastGaugeError < 60_000) return;
      lastGaugeError = Date.now();
      logger?.warn({ error }, 'a metrics gauge source failed; its gauges are missing from this collection');
    },
  });

  // What this handle registered, so that shutdown unregisters that and nothing another set up.
  const registered = { context: false, propagation: false, trace: false, metrics: false, diag: false };
  if (options.registerGlobals ?? true) {
    registered.context = contextApi.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    registered.propagation = propagation.setGlobalPropagator(propagator);
    registered.trace = tracerProvider ? trace.setGlobalTracerProvider(tracerProvider) : false;
    registered.metrics = metricsApi.setGlobalMeterProvider(meterProvider);
    registered.diag = logger ? diag.setLogger(diagLogger(logger), DiagLogLevel.WARN) : false;
  }

  async function metricSources(): Promise<MetricSource[]> {
    const { resourceMetrics, errors } = await pull.collect();
    if (errors.length > 0) logger?.warn({ errors }, 'some metrics could not be collected');
    const own: MetricSource = {
      service: options.service,
      instance: instanceId,
      metrics: resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics),
    };
    const others = (options.collector?.metricSources() ?? []).filter(
      (source) => !(source.service === options.service && source.instance === instanceId),
    );
    return [own, ...others];
  }

  let stopped: Promise<void> | undefined;
  return {
    service: options.service,
    instanceId,
    projectId: options.projectId,
    tracer,
    metrics,
    spans: local,
    fetch: createTracedFetch(tracer),
    metricSources,
    prometheus: async () => renderPrometheus(await metricSources()),
    async flush() {
      await Promise.all([tracerProvider?.forceFlush(), meterProvider.forceFlush()]);
    },
    shutdown() {
      stopped ??= (async () => {
        await Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]);
        if (registered.trace) trace.disable();
        if (registered.metrics) metricsApi.disable();
        if (registered.propagation) propagation.disable();
        if (registered.context) contextApi.disable();
        if (registered.diag) diag.disable();
      })();
      return stopped;
    },
  };
}

/** A handle that records nothing and registers nothing: for code run without telemetry (tests, tools). */
export function disabledTelemetry(service = 'conveyor', projectId = 'conveyor-local'): Telemetry {
  const tracer = new ProxyTracerProvider().getTracer(INSTRUMENTATION_SCOPE);
  return {
    service,
    instanceId: 'none',
    projectId,
    tracer,
    metrics: NOOP_METRICS,
    spans: undefined,
    fetch: createTracedFetch(tracer),
    metricSources: () => Promise.resolve([]),
    prometheus: () => Promise.resolve(renderPrometheus([])),
    flush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

async function createSpanExporter(
  options: TelemetryOptions,
  local: SpanStore | undefined,
): Promise<SpanExporter | undefined> {
  const { traces } = options.config;
  switch (traces.exporter) {
    case 'cloud-trace': {
      const { TraceExporter } = await import('@google-cloud/opentelemetry-cloud-trace-exporter');
      return new TraceExporter({ projectId: options.projectId });
    }
    case 'otlp': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      return new OTLPTraceExporter({ url: traces.otlpUrl });
    }
    case 'local':
      return createSpanStoreExporter(local ?? createSpanStore());
    case 'none':
      return undefined;
  }
}

async function createMetricExporter(options: TelemetryOptions): Promise<PushMetricExporter | undefined> {
  const { metrics } = options.config;
  switch (metrics.exporter) {
    case 'cloud-monitoring': {
      const { MetricExporter } = await import('@google-cloud/opentelemetry-cloud-monitoring-exporter');
      // infra/constructs/monitoring.ts declares the descriptors from the catalogue; the exporter
      // would otherwise derive them from the first data point it sees (labels and all).
      const exporter = new MetricExporter({
        projectId: options.projectId,
        disableCreateMetricDescriptors: true,
      });
      return onlyMetrics(exporter, new Set(cloudMonitoringMetrics().map((metric) => metric.name)));
    }
    case 'otlp': {
      const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
      return new OTLPMetricExporter({ url: metrics.otlpUrl });
    }
    case 'local':
    case 'none':
      return undefined;
  }
}

/** An exporter that passes on only the metrics named in `names` (Cloud Monitoring: not the built-in ones). */
export function onlyMetrics(exporter: PushMetricExporter, names: ReadonlySet<string>): PushMetricExporter {
  return {
    export(resourceMetrics: ResourceMetrics, done: (result: ExportResult) => void) {
      const scopeMetrics = resourceMetrics.scopeMetrics
        .map((scope) => ({
          ...scope,
          metrics: scope.metrics.filter((metric) => names.has(metric.descriptor.name)),
        }))
        .filter((scope) => scope.metrics.length > 0);
      if (scopeMetrics.length === 0) return done({ code: ExportResultCode.SUCCESS });
      exporter.export({ ...resourceMetrics, scopeMetrics }, done);
    },
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
    ...(exporter.selectAggregationTemporality
      ? { selectAggregationTemporality: exporter.selectAggregationTemporality.bind(exporter) }
      : {}),
  };
}

/** The reader behind /metrics: collects on demand, exports nothing. */
class PullMetricReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Copies the correlation and order ids of a span to the spans started under it in this process,
 * so that every span of an order's flow carries them (DB and HTTP client spans included).
 */
function createInheritingProcessor(): SpanProcessor {
  return {
    onStart(span: Span, parentContext: Context) {
      const parent = trace.getSpan(parentContext) as Partial<ReadableSpan> | undefined;
      const inherited = parent?.attributes;
      if (!inherited) return;
      for (const key of INHERITED_ATTRIBUTES) {
        const value = inherited[key];
        if (value !== undefined && span.attributes[key] === undefined) span.setAttribute(key, value);
      }
    },
    onEnd: () => undefined,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

function diagLogger(logger: Logger) {
  const log =
    (level: 'error' | 'warn' | 'info' | 'debug') =>
    (message: string, ...args: unknown[]) =>
      logger[level]({ component: 'opentelemetry', ...(args.length > 0 ? { args } : {}) }, message);
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    verbose: log('debug'),
  };
}
