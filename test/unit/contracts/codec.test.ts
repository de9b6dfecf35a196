import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_TYPE, parseEvent } from '#shared/contracts/events/index.ts';
import { decodePush, subscriptionName, toMessage } from '#shared/messaging/codec.ts';
import { ValidationError } from '#shared/errors.ts';
import { sampleEvent } from '../../fixtures/events.ts';

/** The body Pub/Sub would POST for `message` (wrapped push format). */
function pushBody(message: ReturnType<typeof toMessage>, extra: Record<string, unknown> = {}) {
  return {
    message: {
      data: message.data.toString('base64'),
      attributes: message.attributes,
      messageId: '123',
      message_id: '123',
      publishTime: '2026-01-01T00:00:00.000Z',
      publish_time: '2026-01-01T00:00:00.000Z',
      orderingKey: message.orderingKey,
    },
    subscription: 'projects/conveyor-local/subscriptions/saga',
    ...extra,
  };
}

describe('codec', () => {
  it('an event survives publish and push delivery unchanged', () => {
    const event = sampleEvent(EVENT_TYPE.paymentProcessed, { sequence: 4 });
    const message = toMessage(event);
    assert.equal(message.orderingKey, event.subject);
    assert.equal(message.attributes['ce-type'], 'payment.processed.v1');
    assert.equal(message.attributes['ce-sequence'], '4');
    const received = decodePush(pushBody(message, { deliveryAttempt: 2 }));
    assert.equal(received.deliveryAttempt, 2);
    assert.equal(subscriptionName(received.subscription), 'saga');
    assert.deepEqual(parseEvent(received.json), event);
  });

  it('reports deliveryAttempt 0 when the subscription has no dead-letter policy', () => {
    assert.equal(decodePush(pushBody(toMessage(sampleEvent(EVENT_TYPE.orderCompleted)))).deliveryAttempt, 0);
  });

  it('keeps non-JSON data as bytes for the dead letter', () => {
    const body = pushBody(toMessage(sampleEvent(EVENT_TYPE.orderCompleted)));
    body.message.data = Buffer.from('not json').toString('base64');
    const received = decodePush(body);
    assert.equal(received.json, undefined);
    assert.equal(received.data.toString(), 'not json');
  });

  it('rejects a body that is not a push request', () => {
    assert.throws(() => decodePush({ hello: 'world' }), ValidationError);
    assert.throws(
      () => decodePush({ message: { messageId: '1', publishTime: 'x' }, subscription: 'saga' }),
      ValidationError,
    );
  });
});
