import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadLetterRow, eventRow, eventStreamRow } from '#shared/analytics/rows.ts';
import { DEAD_LETTER_ATTRIBUTE, PUBSUB_DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { EVENT_TYPE } from '#shared/contracts/events/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import { sampleEvent } from '../../fixtures/events.ts';

describe('analytics rows', () => {
  it('an events row: envelope fields, UTC times, data and attributes as JSON text, insertId = event id', () => {
    const event = sampleEvent(EVENT_TYPE.paymentProcessed, {
      sequence: 4,
      time: '2024-03-01T12:00:00.250+02:00',
    });
    const { attributes } = toMessage(event, { 'conveyor-replay': 'r-1' });
    const row = eventRow(event, { publishTime: '2024-03-01T10:00:01.5Z', attributes });
    assert.deepEqual(row, {
      event_id: event.id,
      type: 'payment.processed.v1',
      order_id: event.subject,
      sequence: 4,
      event_time: '2024-03-01T10:00:00.250Z',
      published_at: '2024-03-01T10:00:01.500Z',
      payload: JSON.stringify(event.data),
      attributes: JSON.stringify(attributes),
    });
    assert.equal(JSON.parse(row.attributes)['conveyor-replay'], 'r-1');
    assert.deepEqual(eventStreamRow(row), { insertId: event.id, json: row });
    assert.equal(eventRow(event, { publishTime: event.time, attributes: {} }).attributes, null);
  });

  it('a dead letter forwarded by a consumer for a permanent error', () => {
    const event = sampleEvent(EVENT_TYPE.orderCreated, { time: '2024-03-01T09:00:00.000Z' });
    const message = toMessage(event, {
      [DEAD_LETTER_ATTRIBUTE.subscription]: 'saga',
      [DEAD_LETTER_ATTRIBUTE.topic]: 'order-events',
      [DEAD_LETTER_ATTRIBUTE.reason]: 'ValidationError: invalid order.created.v1 data',
      [DEAD_LETTER_ATTRIBUTE.deliveryAttempt]: '1',
    });
    const row = deadLetterRow({ messageId: 'm-1', publishTime: '2024-03-01T09:00:02.000Z', ...message });
    assert.deepEqual(row, {
      dead_letter_id: 'm-1',
      subscription: 'saga',
      source_topic: 'order-events',
      kind: 'permanent',
      event_id: event.id,
      type: 'order.created.v1',
      order_id: event.subject,
      event_time: '2024-03-01T09:00:00.000Z',
      dead_lettered_at: '2024-03-01T09:00:02.000Z',
      delivery_attempts: 1,
      reason: 'ValidationError: invalid order.created.v1 data',
      attributes: JSON.stringify(message.attributes),
    });
  });

  it("a dead letter forwarded by Pub/Sub's policy, and one whose data is no event", () => {
    const event = sampleEvent(EVENT_TYPE.orderCompleted);
    const exhausted = deadLetterRow({
      messageId: 'm-2',
      publishTime: '2024-03-01T09:00:00Z',
      data: toMessage(event).data,
      attributes: {
        ...toMessage(event).attributes,
        [PUBSUB_DEAD_LETTER_ATTRIBUTE.subscription]: 'projects/conveyor-local/subscriptions/notifier-replay',
        [PUBSUB_DEAD_LETTER_ATTRIBUTE.deliveryCount]: '10',
      },
    });
    assert.deepEqual(
      [
        exhausted.kind,
        exhausted.subscription,
        exhausted.source_topic,
        exhausted.delivery_attempts,
        exhausted.reason,
      ],
      ['exhausted', 'notifier-replay', 'replays', 10, null],
    );
    assert.equal(exhausted.event_id, event.id);
    const garbage = deadLetterRow({
      messageId: 'm-3',
      publishTime: '2024-03-01T09:00:00Z',
      data: Buffer.from('{not json'),
      attributes: { [DEAD_LETTER_ATTRIBUTE.subscription]: 'ingest' },
    });
    assert.deepEqual(
      [garbage.event_id, garbage.type, garbage.order_id, garbage.event_time, garbage.source_topic],
      [null, null, null, null, 'inbound-events'],
    );
  });
});
