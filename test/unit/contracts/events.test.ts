import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { EVENT_SCHEMAS, EVENT_TYPE, EVENT_TYPES, parseEvent } from '#shared/contracts/events/index.ts';
import { EnvelopeSchema } from '#shared/contracts/envelope.ts';
import { ValidationError } from '#shared/errors.ts';
import { sampleEvent } from '../../fixtures/events.ts';

function rejects(raw: unknown, message: RegExp, path?: string) {
  assert.throws(
    () => parseEvent(raw),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.retryable, false);
      assert.match(error.message, message);
      if (path)
        assert.ok(
          error.issues.some((i) => i.path === path),
          JSON.stringify(error.issues),
        );
      return true;
    },
  );
}

describe('parseEvent', () => {
  for (const type of EVENT_TYPES) {
    it(`accepts a valid ${type}`, () => {
      const event = sampleEvent(type);
      assert.deepEqual(parseEvent(JSON.parse(JSON.stringify(event))), event);
    });
  }

  it('rejects an unknown type as a permanent error', () => {
    rejects(
      { ...sampleEvent(EVENT_TYPE.orderCreated), type: 'order.exploded.v1' },
      /unknown event type order.exploded.v1/,
    );
  });

  it('rejects an unversioned type', () => {
    rejects(
      { ...sampleEvent(EVENT_TYPE.orderCreated), type: 'order.created' },
      /invalid event envelope/,
      'type',
    );
  });

  it('rejects invalid data naming the field', () => {
    const event = sampleEvent(EVENT_TYPE.orderCreated);
    rejects(
      { ...event, data: { ...event.data, currency: 'euro' } },
      /invalid order.created.v1 data/,
      'data.currency',
    );
  });

  it('rejects a broken envelope naming each field', () => {
    const { id: _, ...noId } = sampleEvent(EVENT_TYPE.orderCompleted);
    rejects({ ...noId, sequence: 0 }, /invalid event envelope/, 'id');
    rejects('not an object', /invalid event envelope/);
  });

  it('upcasts order.cancelled.v1 to the current version', () => {
    const old = {
      ...sampleEvent(EVENT_TYPE.orderCompleted),
      type: 'order.cancelled.v1',
      data: { reason: 'legacy' },
    };
    const event = parseEvent(old);
    assert.equal(event.type, 'order.cancelled.v2');
    assert.deepEqual(event.data, {
      reasonCode: 'other',
      reason: 'legacy',
      cancelledBy: { kind: 'system', id: 'unrecorded' },
      refundedMinor: 0,
    });
    assert.equal(event.id, old.id);
  });

  it('rejects an old version whose data does not match the old schema', () => {
    rejects(
      { ...sampleEvent(EVENT_TYPE.orderCompleted), type: 'order.cancelled.v1', data: { why: 1 } },
      /invalid order.cancelled.v1 data/,
    );
  });
});

describe('schemas', () => {
  it('every type string carries a version and matches its constant', () => {
    for (const type of EVENT_TYPES) assert.match(type, /^[a-z]+\.[a-z_]+\.v\d+$/);
    assert.deepEqual(new Set(Object.values(EVENT_TYPE)), new Set(EVENT_TYPES));
  });

  it('every schema converts to JSON Schema (documented contracts)', () => {
    for (const schema of [EnvelopeSchema, ...Object.values(EVENT_SCHEMAS)]) {
      const json = z.toJSONSchema(schema) as { type?: string };
      assert.equal(json.type, 'object');
    }
  });
});
