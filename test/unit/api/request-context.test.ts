import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { buildApp } from '../../../api/app.ts';
import { createLogger, SPAN_FIELD, TRACE_FIELD } from '#shared/logging/index.ts';
import type { Pool } from '#shared/store/pool.ts';

describe('request logs', () => {
  it('carry the trace of the request, in Cloud Logging fields', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    const app = await buildApp({
      // A public route touches neither the database nor the relay.
      pool: {} as Pool,
      relay: { trigger: () => {}, stats: () => Promise.resolve({ backlog: 0, oldestAgeMs: 0 }) },
      logger: createLogger({ service: 'api-test', level: 'debug' }, destination),
      settings: { projectId: 'my-project-1' },
    });
    try {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const response = await app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      assert.equal(response.statusCode, 200);
      const line = lines.find((entry) => entry.httpRequest);
      assert.ok(line, JSON.stringify(lines));
      assert.equal(line[TRACE_FIELD], `projects/my-project-1/traces/${traceId}`);
      assert.equal(line[SPAN_FIELD], '00f067aa0ba902b7');
      assert.equal(line.severity, 'DEBUG');
      assert.deepEqual((line.httpRequest as { status: number }).status, 200);
    } finally {
      await app.close();
    }
  });
});
