/**
 * /metrics: the metrics of this process and of every process that sent its own to the local
 * collector, in Prometheus text format (0.0.4), rendered by OpenTelemetry's PrometheusSerializer.
 *
 * Several processes report the same metric (events published by the API's relay and by the saga's),
 * so their data points are merged into one family each, every series labelled with the process it
 * came from (service_name, service_instance_id: the resource attributes, as the OpenTelemetry →
 * Prometheus rules name them). Family names come from the catalogue (unit suffix, `_total`), and
 * every catalogued family is listed (HELP and TYPE) even before it has a sample.
 */
import { ValueType, type Attributes } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { SERVICE_INSTANCE_ID } from './attributes.ts';
import { METRIC_LIST, METRIC_KIND, prometheusBaseName, type MetricSpec } from './metrics-catalogue.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One process's metrics, as collected by its SDK or received over OTLP. */
export interface MetricSource {
  service: string;
  instance: string;
  metrics: readonly MetricData[];
}

const SCOPE = { name: 'conveyor' };
const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
const CATALOGUE = new Map<string, MetricSpec>(METRIC_LIST.map((spec) => [spec.name, spec]));

/** The text of /metrics for these sources. */
export function renderPrometheus(sources: readonly MetricSource[]): string {
  const families = new Map<string, MetricData>();
  for (const spec of METRIC_LIST) families.set(prometheusBaseName(spec), emptyFamily(spec));
  for (const source of sources) {
    const origin: Attributes = { 'service.name': source.service, [SERVICE_INSTANCE_ID]: source.instance };
    for (const metric of source.metrics) {
      const spec = CATALOGUE.get(metric.descriptor.name);
      const name = spec ? prometheusBaseName(spec) : metric.descriptor.name;
      let family = families.get(name);
      if (!family) {
        family = { ...metric, descriptor: { ...metric.descriptor, name }, dataPoints: [] };
        families.set(name, family);
      }
      // A family has one type; a process reporting the same name as something else is left out.
      if (family.dataPointType !== metric.dataPointType) continue;
      const points = family.dataPoints as DataPoint<unknown>[];
      for (const point of metric.dataPoints as DataPoint<unknown>[])
        points.push({ ...point, attributes: { ...point.attributes, ...origin } });
    }
  }
  const resourceMetrics: ResourceMetrics = {
    resource: resourceFromAttributes({}),
    scopeMetrics: [{ scope: SCOPE, metrics: [...families.values()] }],
  };
  return serializer.serialize(resourceMetrics);
}

function emptyFamily(spec: MetricSpec): MetricData {
  const descriptor = {
    name: prometheusBaseName(spec),
    description: spec.description,
    unit: spec.unit,
    valueType: spec.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE,
  };
  const common = { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE };
  switch (spec.kind) {
    case METRIC_KIND.counter:
      return { ...common, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: [] };
    case METRIC_KIND.histogram:
      return { ...common, dataPointType: DataPointType.HISTOGRAM, dataPoints: [] };
    case METRIC_KIND.gauge:
      return { ...common, dataPointType: DataPointType.GAUGE, dataPoints: [] };
  }
}
