import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, parseTraceHeaders, traceLogFields } from '#shared/logging/index.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('writes Cloud Logging fields: severity, message, time', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ service: 'api' }, stream);
    logger.warn({ orderId: 'o-1' }, 'slow');
    const [line] = lines;
    assert.equal(line?.severity, 'WARNING');
    assert.equal(line?.message, 'slow');
    assert.equal(line?.service, 'api');
    assert.equal(line?.orderId, 'o-1');
    assert.ok(!Number.isNaN(Date.parse(String(line?.time))));
    assert.equal(line?.level, undefined);
  });

  it('maps every level to a Cloud Logging severity', () => {
    const { lines, stream } = capture();
    const logger = createLogger({ service: 's', level: 'trace' }, stream);
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.error('e');
    logger.fatal('f');
    assert.deepEqual(
      lines.map((l) => l.severity),
      ['DEBUG', 'DEBUG', 'INFO', 'ERROR', 'CRITICAL'],
    );
  });

  it('gives errors a stack_trace for Error Reporting', () => {
    const { lines, stream } = capture();
    createLogger({ service: 's' }, stream).error({ error: new Error('boom') }, 'failed');
    assert.match(String(lines[0]?.stack_trace), /Error: boom/);
    assert.match(String(lines[0]?.['@type']), /ReportedErrorEvent/);
  });
});

describe('parseTraceHeaders', () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const cases = [
    {
      name: 'W3C traceparent',
      headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` },
      expect: { traceId: trace, spanId: '00f067aa0ba902b7', sampled: true },
    },
    {
      name: 'unsampled traceparent',
      headers: { traceparent: `00-${trace}-00f067aa0ba902b7-00` },
      expect: { traceId: trace, spanId: '00f067aa0ba902b7', sampled: false },
    },
    {
      name: 'X-Cloud-Trace-Context with decimal span id',
      headers: { 'x-cloud-trace-context': `${trace}/255;o=1` },
      expect: { traceId: trace, spanId: '00000000000000ff', sampled: true },
    },
    {
      name: 'all-zero trace id',
      headers: { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
      expect: undefined,
    },
    {
      name: 'garbage',
      headers: { traceparent: 'hello', 'x-cloud-trace-context': 'nope' },
      expect: undefined,
    },
    { name: 'absent', headers: {}, expect: undefined },
  ];
  for (const { name, headers, expect } of cases) {
    it(name, () => assert.deepEqual(parseTraceHeaders(headers), expect));
  }

  it('builds the fields that join logs to Cloud Trace', () => {
    const fields = traceLogFields(
      'my-project',
      parseTraceHeaders({ traceparent: `00-${trace}-00f067aa0ba902b7-01` }),
    );
    assert.deepEqual(fields, {
      'logging.googleapis.com/trace': `projects/my-project/traces/${trace}`,
      'logging.googleapis.com/spanId': '00f067aa0ba902b7',
      'logging.googleapis.com/trace_sampled': true,
    });
    assert.deepEqual(traceLogFields('p', undefined), {});
  });
});
