import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTypeLabeller, type GaugeReadings } from '#shared/telemetry/metrics.ts';
import {
  METRIC_LIST,
  METRICS,
  cloudMonitoringLabel,
  cloudMonitoringMetrics,
  cloudMonitoringType,
  prometheusBaseName,
  prometheusLabel,
  prometheusName,
} from '#shared/telemetry/metrics-catalogue.ts';
import { renderPrometheus } from '#shared/telemetry/prometheus.ts';
import { localTelemetry } from './helpers.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition, and its HELP and TYPE lines by family. */
function parse(text: string) {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      assert.ok(!types.has(name!), `one TYPE line per family: ${name}`);
      types.set(name!, type!);
    } else if (line.startsWith('# HELP ')) {
      const [name, ...words] = line.slice('# HELP '.length).split(' ');
      help.set(name!, words.join(' '));
    } else if (line && !line.startsWith('#')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match, `a valid sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
          m[1]!,
          m[2]!,
        ]),
      );
      samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }
  return { samples, types, help };
}

function value(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, v]) => sample.labels[key] === v),
  );
  assert.ok(found.length <= 1, `at most one sample ${name} ${JSON.stringify(labels)}: ${found.length}`);
  return found[0]?.value;
}

describe('the metric catalogue', () => {
  it('names every metric once, in every naming scheme', () => {
    for (const names of [
      METRIC_LIST.map((m) => m.name),
      METRIC_LIST.map(prometheusBaseName),
      METRIC_LIST.map(cloudMonitoringType),
    ])
      assert.equal(new Set(names).size, METRIC_LIST.length, names.join(', '));
  });

  it('derives Prometheus names by the OpenTelemetry compatibility rules', () => {
    assert.equal(prometheusName(METRICS.eventsPublished), 'conveyor_events_published_total');
    assert.equal(prometheusName(METRICS.processingDuration), 'conveyor_consumer_duration_seconds');
    assert.equal(prometheusName(METRICS.outboxOldestAge), 'conveyor_outbox_oldest_age_seconds');
    assert.equal(prometheusName(METRICS.outboxBacklog), 'conveyor_outbox_backlog');
    assert.equal(prometheusName(METRICS.httpServerDuration), 'http_server_request_duration_seconds');
    assert.equal(prometheusLabel('http.response.status_code'), 'http_response_status_code');
  });

  it('derives Cloud Monitoring types and label keys as the exporter writes them', () => {
    assert.equal(
      cloudMonitoringType(METRICS.orderDuration),
      'workload.googleapis.com/conveyor.order.duration',
    );
    assert.equal(cloudMonitoringLabel('http.route'), 'http_route');
    assert.equal(cloudMonitoringLabel('9lives'), 'key_9lives');
    assert.ok(
      !cloudMonitoringMetrics().includes(METRICS.subscriptionOldestUnackedAge),
      'Pub/Sub measures lag itself',
    );
  });

  it('gives histograms ascending buckets, with the 1 s objective as a bound', () => {
    for (const metric of METRIC_LIST.filter((m) => m.kind === 'histogram')) {
      const buckets = metric.buckets ?? [];
      assert.ok(buckets.length > 3, metric.name);
      assert.ok(
        buckets.every((bound, i) => i === 0 || bound > buckets[i - 1]!),
        metric.name,
      );
    }
    assert.ok(METRICS.orderDuration.buckets.includes(1));
  });

  it('uses label keys valid everywhere and never the per-process ones /metrics adds', () => {
    for (const metric of METRIC_LIST)
      for (const label of metric.labels) {
        assert.match(label, /^[a-z][a-z0-9_.]*$/, `${metric.name}: ${label}`);
        assert.ok(!['service_name', 'service_instance_id', 'le'].includes(prometheusLabel(label)));
      }
  });

  it('caps the event types used as label values', () => {
    const label = createTypeLabeller(2);
    assert.equal(label('order.created.v1'), 'order.created.v1');
    assert.equal(label(undefined), 'none');
    assert.equal(label('partner.thing.v1'), 'partner.thing.v1');
    assert.equal(label('partner.other.v1'), 'partner.other.v1');
    assert.equal(label('partner.third.v1'), 'other');
    assert.equal(label('partner.thing.v1'), 'partner.thing.v1');
    assert.equal(label('payment.processed.v1'), 'payment.processed.v1', 'known types are never capped');
  });
});

describe('/metrics after recording every catalogued metric', () => {
  let telemetry: Awaited<ReturnType<typeof localTelemetry>>;
  let readings: GaugeReadings;
  let parsed: ReturnType<typeof parse>;

  before(async () => {
    readings = {
      outbox: { backlog: 3, oldestAgeSeconds: 1.5 },
      deadLettersOpen: { saga: 2, analytics: 0 },
      eventStoreEvents: 42,
      subscriptionLag: { saga: 0.25, notifier: 12 },
    };
    telemetry = await localTelemetry({
      service: 'api',
      instanceId: 'api-1',
      gaugeTimeoutMs: 200,
      gauges: [
        () => readings,
        () => Promise.reject(new Error('the emulator is not there')),
        () => new Promise<GaugeReadings>(() => undefined), // never answers
      ],
    });
    const { metrics } = telemetry;
    metrics.published('order-events', 'order.created.v1', 2);
    metrics.published('order-events', 'inventory.reserved.v1');
    metrics.consumed('saga', 'order.created.v1', 'processed', 0.03);
    metrics.consumed('saga', 'order.created.v1', 'processed', 0.04);
    metrics.consumed('saga', 'order.created.v1', 'retry', 0.3);
    metrics.orderEnded('completed', {
      acceptedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T00:00:00.800Z',
    });
    metrics.orderEnded('completed', {
      acceptedAt: new Date('2026-01-01T00:00:00.000Z'),
      endedAt: new Date('2026-01-01T00:00:02.000Z'),
    });
    metrics.orderEnded('cancelled', {
      acceptedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T01:00:00.000Z',
    });
    metrics.httpRequest('POST', '/orders', 202, 0.012);
    metrics.httpRequest('GET', undefined, 404, 0.001);
    metrics.breakerState('payment', 'closed');
    metrics.breakerState('payment', 'open');
    metrics.breakerState('shipping', 'half-open');
    parsed = parse(await telemetry.prometheus());
  });
  after(() => telemetry.shutdown());

  it('lists every catalogued family with its type and description', () => {
    for (const metric of METRIC_LIST) {
      const name = prometheusName(metric);
      const type = { counter: 'counter', histogram: 'histogram', gauge: 'gauge' }[metric.kind];
      assert.equal(parsed.types.get(name), type, name);
      assert.equal(parsed.help.get(name), metric.description, name);
      assert.ok(
        parsed.samples.some((sample) => sample.name.startsWith(name)),
        `${name} has samples`,
      );
    }
  });

  it('labels every sample with the process that reported it', () => {
    for (const sample of parsed.samples)
      assert.deepEqual([sample.labels.service_name, sample.labels.service_instance_id], ['api', 'api-1']);
  });

  it('counts events published and consumed', () => {
    const { samples } = parsed;
    assert.equal(
      value(samples, 'conveyor_events_published_total', { type: 'order.created.v1', topic: 'order-events' }),
      2,
    );
    assert.equal(value(samples, 'conveyor_events_published_total', { type: 'inventory.reserved.v1' }), 1);
    assert.equal(
      value(samples, 'conveyor_events_consumed_total', { consumer: 'saga', outcome: 'processed' }),
      2,
    );
    assert.equal(value(samples, 'conveyor_events_consumed_total', { consumer: 'saga', outcome: 'retry' }), 1);
  });

  it('keeps processing latency as a histogram per consumer (p50/p95/p99 derivable)', () => {
    const { samples } = parsed;
    const labels = { consumer: 'saga', type: 'order.created.v1', outcome: 'processed' };
    const bucket = (le: string) =>
      value(samples, 'conveyor_consumer_duration_seconds_bucket', { ...labels, le });
    assert.equal(value(samples, 'conveyor_consumer_duration_seconds_count', labels), 2);
    assert.ok(Math.abs(value(samples, 'conveyor_consumer_duration_seconds_sum', labels)! - 0.07) < 1e-9);
    assert.deepEqual(['0.025', '0.05', '0.1', '+Inf'].map(bucket), [0, 2, 2, 2]);
  });

  it('measures orders end to end against the 1 s objective', () => {
    const { samples } = parsed;
    const completed = (le: string) =>
      value(samples, 'conveyor_order_duration_seconds_bucket', { outcome: 'completed', le });
    assert.deepEqual([completed('0.75'), completed('1'), completed('2.5'), completed('+Inf')], [0, 1, 2, 2]);
    assert.equal(value(samples, 'conveyor_order_duration_seconds_sum', { outcome: 'completed' }), 2.8);
    assert.equal(value(samples, 'conveyor_order_duration_seconds_count', { outcome: 'cancelled' }), 1);
  });

  it('records HTTP requests by method, route and status, without a route when none matched', () => {
    const { samples } = parsed;
    assert.equal(
      value(samples, 'http_server_request_duration_seconds_count', {
        http_request_method: 'POST',
        http_route: '/orders',
        http_response_status_code: '202',
      }),
      1,
    );
    const unmatched = samples.find(
      (s) =>
        s.name === 'http_server_request_duration_seconds_count' &&
        s.labels.http_response_status_code === '404',
    );
    assert.equal(unmatched?.labels.http_route, undefined);
  });

  it('reads the gauges from their sources, skipping a failing and a silent one', () => {
    const { samples } = parsed;
    assert.equal(value(samples, 'conveyor_outbox_backlog'), 3);
    assert.equal(value(samples, 'conveyor_outbox_oldest_age_seconds'), 1.5);
    assert.equal(value(samples, 'conveyor_event_store_events'), 42);
    assert.equal(value(samples, 'conveyor_dead_letters_open', { subscription: 'saga' }), 2);
    assert.equal(value(samples, 'conveyor_dead_letters_open', { subscription: 'analytics' }), 0);
    assert.equal(
      value(samples, 'conveyor_subscription_oldest_unacked_age_seconds', { subscription: 'notifier' }),
      12,
    );
  });

  it('reports each provider’s circuit: 0 closed, 1 half-open, 2 open', () => {
    const { samples } = parsed;
    assert.equal(value(samples, 'conveyor_provider_circuit_state', { provider: 'payment' }), 2);
    assert.equal(value(samples, 'conveyor_provider_circuit_state', { provider: 'shipping' }), 1);
  });

  it('reads gauges afresh at every collection', async () => {
    readings = { ...readings, outbox: { backlog: 0, oldestAgeSeconds: 0 } };
    const again = parse(await telemetry.prometheus());
    assert.equal(value(again.samples, 'conveyor_outbox_backlog'), 0);
  });
});

describe('/metrics with nothing recorded', () => {
  it('still lists every catalogued family, so scrapers and readers see the whole catalogue', () => {
    const { types, samples } = parse(renderPrometheus([]));
    assert.deepEqual([...types.keys()].sort(), METRIC_LIST.map(prometheusName).sort());
    assert.deepEqual(samples, []);
  });
});
