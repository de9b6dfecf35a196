import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTER_ATTRIBUTE } from '#shared/contracts/dead-letter.ts';
import { EVENT_TYPE, parseEvent, type DomainEvent } from '#shared/contracts/events/index.ts';
import { DependencyError } from '#shared/errors.ts';
import { createLogger } from '#shared/logging/index.ts';
import { toMessage } from '#shared/messaging/codec.ts';
import { createPushHandler } from '#shared/messaging/consumer.ts';
import { createDeadLetterSink } from '#shared/messaging/dead-letters.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createPushAuthenticator } from '#shared/messaging/push-auth.ts';
import { lastFailure, recordFailure } from '#shared/store/consumer-records.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { sampleEvent } from '../../fixtures/events.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';

const FUNCTION_NAME = 'consumer-under-test';
const INVOKER = 'push-invoker@conveyor-test.iam.gserviceaccount.com';

describe('push consumer: the emulator pushing to a functions-framework server', () => {
  let db: TestDatabase;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let server: Server;
  let endpoint: string;
  const handled: DomainEvent[] = [];
  /** Event ids that fail transiently this many more times. */
  const failTimes = new Map<string, number>();
  const deadLetters: Message[] = [];
  const run = randomUUID().slice(0, 8);

  before(async () => {
    db = await createTestDatabase();
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });

    const consumer = createPushHandler(
      {
        name: FUNCTION_NAME,
        parse: (message) => parseEvent(message.json),
        handle: async (event) => {
          const left = failTimes.get(event.id) ?? 0;
          if (left > 0) {
            failTimes.set(event.id, left - 1);
            throw new DependencyError('payment', 'provider unavailable');
          }
          handled.push(event);
          await Promise.resolve();
        },
      },
      {
        logger: createLogger({ service: 'test', level: 'silent' }),
        deadLetters: createDeadLetterSink(publisher),
        failures: { record: (subscription, key, error) => recordFailure(db.pool, subscription, key, error) },
        authenticate: undefined,
        projectId: PROJECT_ID,
      },
    );
    http(FUNCTION_NAME, (request, response) => consumer.http(request, response));
    server = getTestServer(FUNCTION_NAME);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    await pubsub.createTopic(`events-${run}`);
    const [existing] = await pubsub.topic(TOPIC.deadLetters).exists();
    if (!existing) await pubsub.createTopic(TOPIC.deadLetters);
    const [dlq] = await pubsub.topic(TOPIC.deadLetters).createSubscription(`dlq-${run}`);
    dlq.on('message', (message: Message) => {
      deadLetters.push(message);
      message.ack();
    });
    await pubsub.topic(`events-${run}`).createSubscription(`sub-${run}`, {
      pushConfig: { pushEndpoint: endpoint },
      enableMessageOrdering: true,
      ackDeadlineSeconds: 10,
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
      deadLetterPolicy: { deadLetterTopic: pubsub.topic(TOPIC.deadLetters).name, maxDeliveryAttempts: 5 },
    });
  });

  after(async () => {
    await pubsub.close();
    await publisher.close();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
    await db.drop();
  });

  const publish = (event: object | string, orderingKey: string) => {
    const data = Buffer.from(typeof event === 'string' ? event : JSON.stringify(event));
    const attributes = typeof event === 'string' ? {} : toMessage(event as DomainEvent).attributes;
    return publisher.publish(`events-${run}`, [{ data, attributes, orderingKey }]);
  };

  it('handles a valid event once and acks it', async () => {
    const event = sampleEvent(EVENT_TYPE.orderCompleted);
    await publish(event, event.subject);
    await waitUntil(() => handled.some((e) => e.id === event.id), { what: 'the event to be handled' });
    assert.deepEqual(
      handled.find((e) => e.id === event.id),
      event,
    );
  });

  it('dead-letters a schema-invalid event at once with its reason, and the ordering key moves on', async () => {
    const key = randomUUID();
    const bad = { ...sampleEvent(EVENT_TYPE.orderCompleted, { orderId: key }), data: { totalMinor: -1 } };
    const good = sampleEvent(EVENT_TYPE.orderCompleted, { orderId: key, sequence: 2 });
    await publish(bad, key);
    await publish(good, key);
    await waitUntil(() => handled.some((e) => e.id === good.id), { what: 'the next event of the key' });
    const letter = await waitUntil(() => deadLetters.find((m) => m.attributes['ce-id'] === bad.id), {
      what: 'the dead letter',
    });
    assert.match(
      letter.attributes[DEAD_LETTER_ATTRIBUTE.reason]!,
      /invalid order.completed.v1 data: data.totalMinor/,
    );
    assert.equal(letter.attributes[DEAD_LETTER_ATTRIBUTE.subscription], `sub-${run}`);
    assert.equal(letter.attributes[DEAD_LETTER_ATTRIBUTE.deliveryAttempt], '1');
    assert.deepEqual(JSON.parse(letter.data.toString()), bad);
    assert.equal(
      handled.some((e) => e.id === bad.id),
      false,
    );
    assert.equal(deadLetters.filter((m) => m.attributes['ce-id'] === bad.id).length, 1);
  });

  it('dead-letters data that is not JSON, keeping its bytes', async () => {
    const key = randomUUID();
    await publish('{not json', key);
    const letter = await waitUntil(() => deadLetters.find((m) => m.data.toString() === '{not json'), {
      what: 'the dead letter of the malformed message',
    });
    assert.match(letter.attributes[DEAD_LETTER_ATTRIBUTE.reason]!, /invalid event envelope/);
  });

  it('nacks a transient failure, records why, and succeeds on redelivery', async () => {
    const event = sampleEvent(EVENT_TYPE.orderCompleted);
    failTimes.set(event.id, 2);
    await publish(event, event.subject);
    await waitUntil(() => handled.some((e) => e.id === event.id), {
      timeoutMs: 30_000,
      what: 'the redelivery',
    });
    const failure = await lastFailure(db.pool, `sub-${run}`, event.id);
    assert.equal(failure?.attempts, 2);
    assert.match(failure?.lastError ?? '', /DependencyError: payment: provider unavailable/);
  });

  it('after the last attempt Pub/Sub dead-letters it, and the recorded error says why', async () => {
    const event = sampleEvent(EVENT_TYPE.orderCompleted);
    failTimes.set(event.id, 1_000);
    await publish(event, event.subject);
    const letter = await waitUntil(() => deadLetters.find((m) => m.attributes['ce-id'] === event.id), {
      timeoutMs: 60_000,
      what: 'the policy dead letter',
    });
    assert.equal(letter.attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
    assert.equal(
      letter.attributes[DEAD_LETTER_ATTRIBUTE.reason],
      undefined,
      'forwarded by Pub/Sub, not by us',
    );
    const failure = await lastFailure(db.pool, `sub-${run}`, event.id);
    assert.equal(failure?.attempts, 5);
  });

  it('answers 400 to a body that is not a push request, and 405 to a GET', async () => {
    const post = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    assert.equal(post.status, 400);
    assert.match(await post.text(), /not a Pub\/Sub push request/);
    assert.equal((await fetch(endpoint)).status, 405);
  });
});

describe('push consumer: authentication with the emulator-signed OIDC token', () => {
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let server: Server;
  const seen: string[] = [];
  const run = randomUUID().slice(0, 8);

  before(async () => {
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    const name = `${FUNCTION_NAME}-auth`;
    let audience = '';
    const consumer = createPushHandler(
      {
        name,
        parse: (message) => parseEvent(message.json),
        handle: async (event) => {
          seen.push(event.id);
          await Promise.resolve();
        },
      },
      {
        logger: createLogger({ service: 'test', level: 'silent' }),
        deadLetters: createDeadLetterSink(publisher),
        authenticate: (header) =>
          createPushAuthenticator({ jwks: emulator.jwks, audience, serviceAccountEmail: INVOKER })(header),
        projectId: PROJECT_ID,
      },
    );
    http(name, (request, response) => consumer.http(request, response));
    server = getTestServer(name);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    audience = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await pubsub.createTopic(`auth-${run}`);
    await pubsub.topic(`auth-${run}`).createSubscription(`auth-${run}`, {
      pushConfig: { pushEndpoint: audience, oidcToken: { serviceAccountEmail: INVOKER, audience } },
      ackDeadlineSeconds: 10,
    });
  });

  after(async () => {
    await pubsub.close();
    await publisher.close();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
  });

  it('accepts push carrying the invoker token', async () => {
    const event = sampleEvent(EVENT_TYPE.orderCompleted);
    await publisher.publish(`auth-${run}`, [toMessage(event)]);
    await waitUntil(() => seen.includes(event.id), { what: 'the authenticated push' });
  });

  it('refuses a request without a token or with a forged one', async () => {
    const address = server.address() as AddressInfo;
    const body = JSON.stringify({
      message: {
        data: Buffer.from('{}').toString('base64'),
        messageId: '1',
        publishTime: new Date().toISOString(),
      },
      subscription: `projects/${PROJECT_ID}/subscriptions/x`,
    });
    const url = `http://127.0.0.1:${address.port}/`;
    const headers = { 'content-type': 'application/json' };
    assert.equal((await fetch(url, { method: 'POST', headers, body })).status, 401);
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${forged}` },
      body,
    });
    assert.equal(response.status, 401);
    assert.match(await response.text(), /invalid push token/);
  });
});
