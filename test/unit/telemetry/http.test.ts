import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { httpTelemetry, requestSpan } from '#shared/telemetry/fastify.ts';
import { createTracedFetch } from '#shared/telemetry/http-client.ts';
import { instrumentPool } from '#shared/telemetry/db.ts';
import { CONVEYOR_ATTRIBUTE } from '#shared/telemetry/attributes.ts';
import { localTelemetry, only } from './helpers.ts';

const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('HTTP server spans (Fastify)', () => {
  let telemetry: Awaited<ReturnType<typeof localTelemetry>>;
  let app: FastifyInstance;
  let seen: { active?: string; afterAwait?: string } = {};
  let address: string;

  before(async () => {
    telemetry = await localTelemetry({ service: 'api' });
    app = Fastify({ bodyLimit: 1024 * 1024 });
    httpTelemetry(app, { telemetry });
    app.post('/orders/:id/approve', async (request) => {
      seen.active = trace.getActiveSpan()?.spanContext().spanId;
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.afterAwait = trace.getActiveSpan()?.spanContext().spanId;
      requestSpan(request)?.setAttribute(CONVEYOR_ATTRIBUTE.orderId, 'o-1');
      return { ok: true, body: request.body };
    });
    app.get('/boom', () => Promise.reject(new Error('exploded')));
    app.get('/healthz', () => ({ status: 'ok' }));
    address = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    await telemetry.shutdown();
  });
  beforeEach(() => {
    telemetry.spans?.clear();
    seen = {};
  });

  it('continues the caller’s trace, named by route, active in the handler after the body is read', async () => {
    // Over a real socket: the body arrives on socket events, outside the request's async context.
    const response = await fetch(`${address}/orders/o-1/approve?x=1`, {
      method: 'POST',
      headers: { traceparent: CALLER, 'user-agent': 'shop/1.0', 'content-type': 'application/json' },
      body: JSON.stringify({ note: 'x'.repeat(100_000) }),
    });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    const spans = await telemetry.finished();
    const server = only(spans, 'POST /orders/:id/approve');
    assert.equal(server.kind, 'server');
    assert.equal(server.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(server.parentSpanId, '00f067aa0ba902b7');
    assert.equal(seen.active, server.spanId);
    assert.equal(seen.afterAwait, server.spanId);
    assert.deepEqual(server.attributes, {
      'http.request.method': 'POST',
      'url.path': '/orders/o-1/approve',
      'http.route': '/orders/:id/approve',
      'user_agent.original': 'shop/1.0',
      'http.response.status_code': 200,
      [CONVEYOR_ATTRIBUTE.orderId]: 'o-1',
    });
    assert.equal(server.status.code, 'unset');
  });

  it('starts a new trace without a caller context, marks 5xx as errors and not 4xx', async () => {
    await app.inject({ method: 'GET', url: '/boom' });
    await app.inject({ method: 'GET', url: '/nowhere' });
    const spans = await telemetry.finished();
    const boom = only(spans, 'GET /boom');
    assert.equal(boom.parentSpanId, undefined);
    assert.equal(boom.status.code, 'error');
    assert.equal(boom.attributes['error.type'], '500');
    assert.ok(boom.events.some((event) => event.name === 'exception'));
    const missing = only(spans, 'GET');
    assert.equal(missing.attributes['http.response.status_code'], 404);
    assert.equal(missing.attributes['http.route'], undefined);
    assert.equal(missing.status.code, 'unset');
  });

  it('leaves probes untraced and unmeasured', async () => {
    await app.inject({ method: 'GET', url: '/healthz' });
    assert.deepEqual(await telemetry.finished(), []);
    assert.ok(!(await telemetry.prometheus()).includes('http_route="/healthz"'));
  });

  it('measures requests by route and status', async () => {
    await app.inject({ method: 'POST', url: '/orders/o-2/approve', payload: {} });
    const text = await telemetry.prometheus();
    assert.match(
      text,
      /^http_server_request_duration_seconds_count\{http_request_method="POST",http_route="\/orders\/:id\/approve",http_response_status_code="200",[^}]*\} [1-9]\d*$/m,
    );
  });
});

describe('HTTP client spans', () => {
  let telemetry: Awaited<ReturnType<typeof localTelemetry>>;
  let server: Server;
  let url: string;
  let received: IncomingHttpHeaders[] = [];

  before(async () => {
    telemetry = await localTelemetry({ service: 'saga' });
    server = createServer((request, response) => {
      received.push(request.headers);
      response.writeHead(request.url === '/v1/charges' ? 201 : 503).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await telemetry.shutdown();
  });
  beforeEach(() => {
    telemetry.spans?.clear();
    received = [];
  });

  it('sends the trace context and records the call under the active span', async () => {
    const fetch = createTracedFetch(telemetry.tracer, { peerService: 'payment' });
    await telemetry.tracer.startActiveSpan('process inventory.reserved.v1', async (parent) => {
      parent.setAttribute(CONVEYOR_ATTRIBUTE.correlationId, 'c-1');
      const ok = await fetch(`${url}/v1/charges`, {
        method: 'POST',
        body: '{}',
        headers: { 'idempotency-key': 'k' },
      });
      assert.equal(ok.status, 201);
      await fetch(`${url}/down?secret=1`);
      parent.end();
    });
    const spans = await telemetry.finished();
    const [charge, down] = spans.filter((span) => span.kind === 'client');
    assert.equal(charge?.name, 'POST payment');
    assert.equal(charge?.parentSpanId, only(spans, 'process inventory.reserved.v1').spanId);
    assert.equal(received[0]?.traceparent, `00-${charge?.traceId}-${charge?.spanId}-01`);
    assert.equal(received[0]?.['idempotency-key'], 'k', 'the caller’s headers go too');
    assert.deepEqual(
      [
        charge?.attributes['http.response.status_code'],
        charge?.attributes['peer.service'],
        charge?.attributes[CONVEYOR_ATTRIBUTE.correlationId],
      ],
      [201, 'payment', 'c-1'],
    );
    assert.equal(down?.attributes['url.full'], `${url}/down`, 'no query string (it may hold secrets)');
    assert.equal(down?.status.code, 'error');
  });

  it('is plain fetch outside a trace', async () => {
    await createTracedFetch(telemetry.tracer)(`${url}/v1/charges`, { method: 'POST' });
    assert.equal(received[0]?.traceparent, undefined);
    assert.deepEqual(await telemetry.finished(), []);
  });

  it('records a failed connection as an error', async () => {
    const fetch = createTracedFetch(telemetry.tracer, { peerService: 'shipping' });
    await telemetry.tracer.startActiveSpan('step', async (parent) => {
      await assert.rejects(fetch('http://127.0.0.1:1/'));
      parent.end();
    });
    const client = only(await telemetry.finished(), 'GET shipping');
    assert.equal(client.status.code, 'error');
    assert.equal(client.attributes['error.type'], 'TypeError');
  });
});

describe('Postgres query spans', () => {
  let telemetry: Awaited<ReturnType<typeof localTelemetry>>;
  before(async () => {
    telemetry = await localTelemetry({ service: 'saga' });
  });
  after(() => telemetry.shutdown());

  /** Enough of pg.Pool: query, connect, and members that are not traced. */
  function fakePool() {
    const calls: unknown[][] = [];
    const client = {
      query: (...args: unknown[]) => {
        calls.push(args);
        return String(args[0]).includes('fail')
          ? Promise.reject(new Error('syntax error'))
          : Promise.resolve({ rows: [] });
      },
      release: () => undefined,
    };
    const pool = {
      totalCount: 3,
      query: client.query,
      connect: (): Promise<typeof client> => Promise.resolve(client),
      end() {
        return this.totalCount;
      },
    };
    return { pool, calls };
  }

  it('traces queries inside a trace, by statement name or verb, also on connected clients', async () => {
    const { pool, calls } = fakePool();
    const traced = instrumentPool(pool, telemetry.tracer);
    await traced.query('SELECT 1');
    await telemetry.tracer.startActiveSpan('step', async (step) => {
      await traced.query({
        name: 'conveyor.append.create',
        text: 'WITH o AS (INSERT …) SELECT 1',
        values: [],
      });
      const client = await traced.connect();
      await client.query('  update orders set x = 1');
      await assert.rejects(client.query('fail please'));
      client.release();
      step.end();
    });
    assert.equal(calls.length, 4, 'every query reached the pool');
    assert.equal(traced.totalCount, 3);
    assert.equal(traced.end(), 3, 'other members are the pool’s own');
    const spans = (await telemetry.finished()).filter((span) => span.kind === 'client');
    assert.deepEqual(
      spans.map((span) => [span.name, span.attributes['db.operation.name'], span.status.code]),
      [
        ['conveyor.append.create', 'WITH', 'unset'],
        ['UPDATE', 'UPDATE', 'unset'],
        ['FAIL', 'FAIL', 'error'],
      ],
    );
    assert.equal(spans[0]?.attributes['db.system.name'], 'postgresql');
    assert.equal(spans[1]?.attributes['db.query.text'], 'update orders set x = 1');
  });
});
