/**
 * The API process (api/server.ts, as `npm start` and the container run it) with its telemetry and
 * console: locally (no exporter configured) it is the collector, so /metrics is public and the
 * OTLP receiver takes other processes' spans, which the console's trace routes then serve, and
 * /console is the built console; with traces exported elsewhere (production) there is no
 * receiver and /metrics needs an admin key.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PubSub } from '@google-cloud/pubsub';
import { ensureConsoleBuilt } from '../../../api/console/build.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { parsePrometheus } from '../../helpers/prometheus.ts';
import { startApiProcess } from '../../helpers/api-process.ts';
import { startProcess, type ManagedProcess } from '../../helpers/processes.ts';
import { PROJECT_ID } from '../../helpers/pubsub.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('API process: telemetry and console', () => {
  let db: TestDatabase;
  let admin: string;
  const servers: ManagedProcess[] = [];

  async function startServer(env: Record<string, string> = {}): Promise<string> {
    const server = await startApiProcess(db.url, env);
    servers.push(server.process);
    return server.url;
  }

  before(async () => {
    db = await createTestDatabase();
    admin = (await createApiKey(db.pool, { name: 'ops', scopes: ['admin'] })).key;
    await ensureConsoleBuilt();
  });
  after(async () => {
    for (const server of servers) await server.stop();
    await db.drop();
  });

  it('locally: serves the console, public /metrics, and keeps the spans other processes send', async () => {
    const url = await startServer();
    const page = await fetch(`${url}/console/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app">/);

    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    // The API's own gauges (Postgres) are there, labelled with the process.
    assert.match(text, /conveyor_event_store_events\{service_name="api",service_instance_id="[^"]+"\} 0/);
    assert.match(text, /conveyor_outbox_backlog\{service_name="api"/);

    const traceId = '5b8efff798038103d269b633813fc60c';
    const exported = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'saga' } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId,
                    spanId: 'eee19b7ec3c1b174',
                    name: 'process order.created.v1',
                    kind: 5,
                    startTimeUnixNano: '1700000000000000000',
                    endTimeUnixNano: '1700000000005000000',
                    attributes: [{ key: 'conveyor.order_id', value: { stringValue: 'order-1' } }],
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    assert.equal(exported.status, 200);
    const trace = await fetch(`${url}/v1/operations/traces/${traceId}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(trace.status, 200);
    const { spans } = (await trace.json()) as { spans: { name: string; service: string }[] };
    assert.deepEqual(
      spans.map((span) => [span.service, span.name]),
      [['saga', 'process order.created.v1']],
    );
  });

  it("locally: reports consumer lag from the emulator's monitoring port", async () => {
    const emulator = startProcess(
      process.execPath,
      ['local/pubsub-emulator/main.ts', '--port', '0', '--monitoring-port', '0'],
      {
        cwd: ROOT,
      },
    );
    servers.push(emulator);
    const [, monitoring] = await emulator.waitFor(/Pub\/Sub emulator monitoring on (http:\/\/\S+)/);
    const [, address] = await emulator.waitFor(/Pub\/Sub emulator listening on (\S+)/);
    const pubsub = new PubSub({ projectId: PROJECT_ID, apiEndpoint: address!, emulatorMode: true });
    try {
      const [topic] = await pubsub.createTopic('order-events');
      await topic.createSubscription('saga');
      await topic.publishMessage({ data: Buffer.from('{}') });
    } finally {
      await pubsub.close();
    }
    const url = await startServer({
      PUBSUB_EMULATOR_HOST: address!,
      PUBSUB_EMULATOR_MONITORING_URL: monitoring!,
    });
    const metrics = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
    const [lag] = metrics.select('conveyor_subscription_oldest_unacked_age_seconds', {
      subscription: 'saga',
    });
    assert.ok(lag && lag.value >= 0, 'the saga subscription has a lag reading');
  });

  it('with traces exported elsewhere: no receiver, /metrics for admins only, no trace routes', async () => {
    const url = await startServer({ CONVEYOR_TRACE_EXPORTER: 'none', CONVEYOR_METRICS_EXPORTER: 'none' });
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(metrics.status, 200);
    const receiver = await fetch(`${url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(receiver.status, 404);
    const session = await fetch(`${url}/v1/operations/session`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(((await session.json()) as { traces: string }).traces, 'elsewhere');
  });
});
