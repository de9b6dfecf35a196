import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { parseTelemetryConfig } from '#shared/telemetry/config.ts';
import { parseTraceparent, formatTraceparent } from '#shared/telemetry/context.ts';
import { telemetryRoutes } from '#shared/telemetry/fastify.ts';
import { createLocalCollector, toHexId, type LocalCollector } from '#shared/telemetry/otlp.ts';
import { startTelemetry, type Telemetry } from '#shared/telemetry/setup.ts';
import { localTelemetry, only, PROJECT } from './helpers.ts';

describe('spans and metrics of several processes reach the API’s collector over OTLP/HTTP', () => {
  let collector: LocalCollector;
  let api: Awaited<ReturnType<typeof localTelemetry>>;
  let app: FastifyInstance;
  let saga: Telemetry;
  let endpoint: string;

  before(async () => {
    collector = createLocalCollector();
    api = await localTelemetry({ service: 'api', collector, instanceId: 'api-1' });
    app = Fastify();
    telemetryRoutes(app, { telemetry: api, collector });
    endpoint = await app.listen({ host: '127.0.0.1', port: 0 });
    // What a function under the launcher runs: the standard OTLP exporters, pointed at the API.
    saga = await startTelemetry({
      service: 'saga',
      projectId: PROJECT,
      instanceId: 'saga-1',
      config: parseTelemetryConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_METRIC_EXPORT_INTERVAL: '60000',
      }),
      registerGlobals: false,
    });
  });
  after(async () => {
    await saga.shutdown();
    await api.shutdown();
    await app.close();
  });

  it('puts another process’s spans in the same trees as the API’s', async () => {
    const request = api.tracer.startSpan('POST /orders', { kind: SpanKind.SERVER });
    const traceparent = formatTraceparent(request.spanContext());
    request.end();

    const parent = trace.setSpanContext(ROOT_CONTEXT, parseTraceparent(traceparent)!);
    const process = saga.tracer.startSpan(
      'process order.created.v1',
      {
        kind: SpanKind.CONSUMER,
        attributes: { 'conveyor.order_id': 'o-9', ratio: 0.5, ok: true, tags: ['a', 'b'] },
      },
      parent,
    );
    const call = saga.tracer.startSpan(
      'POST payment',
      { kind: SpanKind.CLIENT },
      trace.setSpan(ROOT_CONTEXT, process),
    );
    call.addEvent('retry', { attempt: 2 });
    call.setStatus({ code: 2, message: 'timed out' });
    call.end();
    process.end();
    await saga.flush();
    await api.flush();

    const spans = collector.spans.trace(request.spanContext().traceId);
    assert.deepEqual(spans.map((span) => [span.name, span.service]).sort(), [
      ['POST /orders', 'api'],
      ['POST payment', 'saga'],
      ['process order.created.v1', 'saga'],
    ]);
    const received = only(spans, 'process order.created.v1');
    assert.equal(received.parentSpanId, request.spanContext().spanId);
    assert.equal(received.kind, 'consumer');
    assert.equal(received.instance, 'saga-1');
    assert.deepEqual(received.attributes, {
      'conveyor.order_id': 'o-9',
      ratio: 0.5,
      ok: true,
      tags: ['a', 'b'],
    });
    assert.ok(received.durationMs >= 0 && received.startTime > Date.now() - 60_000, 'times in epoch ms');
    const client = only(spans, 'POST payment');
    assert.equal(client.parentSpanId, received.spanId);
    assert.equal(client.kind, 'client');
    assert.deepEqual(client.status, { code: 'error', message: 'timed out' });
    assert.deepEqual(
      client.events.map((e) => [e.name, e.attributes]),
      [['retry', { attempt: 2 }]],
    );
    assert.deepEqual(
      collector.spans.traces({ orderId: 'o-9' }).map((t) => t.root.name),
      ['POST /orders'],
    );
  });

  it('serves the other process’s metrics in /metrics, labelled with the process', async () => {
    saga.metrics.consumed('saga', 'order.created.v1', 'processed', 0.02);
    api.metrics.published('order-events', 'order.created.v1', 3);
    await saga.flush();
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    const lines = response.body.split('\n');
    assert.ok(
      lines.includes(
        'conveyor_events_consumed_total{consumer="saga",type="order.created.v1",outcome="processed",service_name="saga",service_instance_id="saga-1"} 1',
      ),
      response.body,
    );
    assert.ok(
      lines.includes(
        'conveyor_events_published_total{topic="order-events",type="order.created.v1",service_name="api",service_instance_id="api-1"} 3',
      ),
    );
    // One family: a single TYPE line however many processes report it.
    assert.equal(lines.filter((line) => line === '# TYPE conveyor_events_consumed_total counter').length, 1);
    assert.ok(
      lines.some(
        (line) =>
          line.startsWith('conveyor_consumer_duration_seconds_bucket{') &&
          line.includes('le="0.025"') &&
          line.includes('service_name="saga"') &&
          line.endsWith(' 1'),
      ),
    );
  });

  it('answers OTLP clients as the protocol says: 415 for protobuf, 400 for a non-request, partial success', async () => {
    const post = (url: string, body: string, type = 'application/json') =>
      app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload: body });
    assert.equal((await post('/v1/traces', 'binary', 'application/x-protobuf')).statusCode, 415);
    assert.equal((await post('/v1/traces', JSON.stringify({ resourceSpans: 'nope' }))).statusCode, 400);
    const good = {
      traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex').toString('base64'),
      spanId: 'b7ad6b7169203331',
      name: 'from a base64 client',
      kind: 'SPAN_KIND_SERVER',
      startTimeUnixNano: '1700000000000000000',
      // A number here loses precision below a microsecond or so; clients should send strings.
      endTimeUnixNano: 1700000000250000000,
      status: { code: 'STATUS_CODE_OK' },
    };
    const response = await post(
      '/v1/traces',
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partner' } }] },
            scopeSpans: [{ spans: [good, { ...good, spanId: 'short', name: 'bad' }] }],
          },
        ],
      }),
    );
    assert.equal(response.statusCode, 200);
    const answer = response.json<{ partialSuccess: { rejectedSpans: number; errorMessage: string } }>();
    assert.equal(answer.partialSuccess.rejectedSpans, 1);
    assert.match(answer.partialSuccess.errorMessage, /spanId/);
    const [stored] = collector.spans.trace('0af7651916cd43dd8448eb211c80319c');
    assert.deepEqual(
      [
        stored?.name,
        stored?.service,
        stored?.kind,
        stored?.status.code,
        stored?.startTime,
        Math.round(stored?.durationMs ?? 0),
      ],
      ['from a base64 client', 'partner', 'server', 'ok', 1_700_000_000_000, 250],
    );
    const empty = await post('/v1/metrics', JSON.stringify({}));
    assert.deepEqual([empty.statusCode, empty.json()], [200, {}]);
  });
});

describe('received metrics', () => {
  const request = (service: string, instance: string, value: number) => ({
    resourceMetrics: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: service } },
            { key: 'service.instance.id', value: { stringValue: instance } },
          ],
        },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'conveyor.outbox.backlog',
                unit: '{row}',
                gauge: { dataPoints: [{ timeUnixNano: '1700000000000000000', asInt: String(value) }] },
              },
              {
                name: 'conveyor.events.published',
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: [{ timeUnixNano: '1700000000000000000', asInt: 5 }],
                },
              },
            ],
          },
        ],
      },
    ],
  });

  it('keeps the latest export of each process, drops delta sums, and forgets processes gone quiet', () => {
    let now = 0;
    const collector = createLocalCollector({ staleAfterMs: 1_000, now: () => now });
    const first = collector.receive('metrics', request('saga', 's-1', 4));
    assert.deepEqual(first, {
      status: 200,
      body: {
        partialSuccess: {
          rejectedDataPoints: 1,
          errorMessage: 'conveyor.events.published: only cumulative temporality is kept here',
        },
      },
    });
    collector.receive('metrics', request('saga', 's-1', 7));
    now = 600;
    collector.receive('metrics', request('notifier', 'n-1', 1));
    const latest = () =>
      collector
        .metricSources()
        .map((source) => [
          source.service,
          source.metrics.map((m) => (m.dataPoints[0] as { value: number }).value),
        ]);
    assert.deepEqual(latest(), [
      ['saga', [7]],
      ['notifier', [1]],
    ]);
    now = 1_500;
    assert.deepEqual(latest(), [['notifier', [1]]]);
  });

  it('reads ids in hex or base64', () => {
    assert.equal(toHexId('0AF7651916CD43DD8448EB211C80319C', 16), '0af7651916cd43dd8448eb211c80319c');
    assert.equal(toHexId('t61rcWkgMzE=', 8), 'b7ad6b7169203331');
    assert.equal(toHexId('xyz', 8), undefined);
  });
});
