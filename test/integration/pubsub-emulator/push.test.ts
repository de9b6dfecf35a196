/** Checklist H (items 36–42): push subscriptions, against a real local HTTP endpoint. */
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { conformanceSuite } from './conformance.ts';
import {
  assertCode,
  elapse,
  gaps,
  pushEndpoint,
  topicAndSubscription,
  waitUntil,
  type PushRequest,
} from './support.ts';

const INVALID_ARGUMENT = 3;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function wrapped(request: PushRequest) {
  return JSON.parse(request.body.toString()) as {
    message: {
      attributes?: Record<string, string>;
      data?: string;
      messageId: string;
      message_id: string;
      orderingKey?: string;
      publishTime: string;
      publish_time: string;
    };
    subscription: string;
    deliveryAttempt?: number;
  };
}

/** The `code` attribute of a wrapped push request, or undefined when the body is not one. */
function codeAttribute(request: PushRequest): string | undefined {
  try {
    return wrapped(request).message.attributes?.code;
  } catch {
    return undefined;
  }
}

conformanceSuite(import.meta.filename, 'Pub/Sub push', (ctx, item) => {
  item(36, 'the wrapped body is exactly production’s push body', async (t) => {
    const endpoint = await pushEndpoint(t);
    const [deadLetters] = await ctx.pubsub.createTopic(ctx.id('push-dlq'));
    const full = await topicAndSubscription(
      ctx,
      'wrap',
      {
        pushConfig: { pushEndpoint: endpoint.url },
        enableMessageOrdering: true,
        deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
      },
      { messageOrdering: true },
    );
    const id = await full.topic.publishMessage({
      data: Buffer.from('hello push'),
      attributes: { a: '1', 'b-c': 'x y' },
      orderingKey: 'OK1',
    });
    const [request] = await endpoint.waitFor(1);
    assert.equal(request!.method, 'POST');
    assert.equal(request!.url, '/push');
    assert.equal(request!.headers['content-type'], 'application/json');
    const publishTime = wrapped(request!).message.publishTime;
    assert.match(publishTime, RFC3339);
    assert.ok(Math.abs(Date.parse(publishTime) - Date.now()) < 60_000);
    const expected = JSON.stringify({
      message: {
        attributes: { a: '1', 'b-c': 'x y' },
        data: Buffer.from('hello push').toString('base64'),
        messageId: id,
        message_id: id,
        orderingKey: 'OK1',
        publishTime,
        publish_time: publishTime,
      },
      subscription: full.subscription.name,
      deliveryAttempt: 1,
    });
    assert.equal(request!.body.toString(), expected, 'byte for byte');

    const plainEndpoint = await pushEndpoint(t);
    const plain = await topicAndSubscription(ctx, 'wrap-plain', {
      pushConfig: { pushEndpoint: plainEndpoint.url },
    });
    const plainId = await plain.topic.publishMessage({ data: Buffer.from('no extras') });
    const onlyAttributesId = await plain.topic.publishMessage({ attributes: { only: 'attributes' } });
    const requests = await plainEndpoint.waitFor(2);
    const byId = new Map(requests.map((r) => [wrapped(r).message.messageId, wrapped(r)]));
    const simple = byId.get(plainId)!;
    assert.equal(simple.deliveryAttempt, undefined, 'no deliveryAttempt without a dead-letter policy');
    assert.equal(simple.message.orderingKey, undefined, 'no orderingKey when none is set');
    assert.equal(simple.message.data, Buffer.from('no extras').toString('base64'));
    assert.equal(byId.get(onlyAttributesId)!.message.data, undefined, 'empty data is left out');
    assert.deepEqual(byId.get(onlyAttributesId)!.message.attributes, { only: 'attributes' });
  });

  item(
    37,
    'HTTP 102, 200, 201, 202 and 204 ack; anything else or no answer within the ack deadline is a nack',
    async (t) => {
      const firstAnswer = [102, 200, 201, 202, 204, 299, 302, 400, 404, 429, 500, 503];
      const attempts = new Map<string, number>();
      const endpoint = await pushEndpoint(t, (request, response) => {
        const code = Number(codeAttribute(request) ?? NaN);
        if (Number.isNaN(code)) return void response.writeHead(400).end();
        const attempt = (attempts.get(String(code)) ?? 0) + 1;
        attempts.set(String(code), attempt);
        if (attempt > 1) return void response.writeHead(204).end();
        if (code === 102) {
          response.writeProcessing();
          setTimeout(() => response.writeHead(500).end(), 200);
          return;
        }
        if (code === 0) return; // never answers: times out at the ack deadline
        response.writeHead(code, code === 302 ? { location: '/elsewhere' } : {}).end();
      });
      const { topic } = await topicAndSubscription(ctx, 'codes', {
        pushConfig: { pushEndpoint: endpoint.url },
      });
      for (const code of [...firstAnswer, 0]) {
        await topic.publishMessage({
          data: Buffer.from(`answer ${code}`),
          attributes: { code: String(code) },
        });
      }
      const nacks = firstAnswer.filter((code) => ![102, 200, 201, 202, 204].includes(code));
      await waitUntil(
        () => nacks.every((code) => (attempts.get(String(code)) ?? 0) >= 2),
        'every nack retried',
        30_000,
      );
      const sentAt = endpoint.requests.find((r) => codeAttribute(r) === '0')!.at;
      await waitUntil(
        () => (attempts.get('0') ?? 0) >= 2,
        'a retry after the unanswered request timed out',
        25_000,
      );
      const retriedAt = endpoint.requests.filter((r) => codeAttribute(r) === '0')[1]!.at;
      const timeout = (retriedAt - sentAt) / 1000;
      assert.ok(
        timeout >= 9.5,
        `an unanswered push is retried only after the 10 s ack deadline (${timeout.toFixed(1)} s)`,
      );
      await elapse(1000);
      for (const code of [102, 200, 201, 202, 204]) {
        assert.equal(attempts.get(String(code)), 1, `HTTP ${code} acked the message`);
      }
    },
    { slow: true },
  );

  item(38, 'push backoff grows from 100 ms on failures; retry policy applies; no flooding', async (t) => {
    const failing = await pushEndpoint(t, (_, response) => response.writeHead(500).end());
    const { topic } = await topicAndSubscription(ctx, 'backoff', {
      pushConfig: { pushEndpoint: failing.url },
    });
    await topic.publishMessage({ data: Buffer.from('always fails') });
    const requests = await failing.waitFor(7, 20_000);
    const observed = gaps(requests.slice(0, 7).map((r) => r.at));
    const shown = observed.map((g) => g.toFixed(2)).join(', ');
    assert.ok(observed[0]! >= 0.05, `the first retry waits (gaps: ${shown})`);
    assert.ok(observed[5]! >= 4 * observed[1]!, `the gaps grow exponentially (gaps: ${shown})`);
    assert.ok(observed[5]! >= 1.5, `after six failures the wait is seconds long (gaps: ${shown})`);

    const withPolicy = await pushEndpoint(t, (_, response) => response.writeHead(503).end());
    const retried = await topicAndSubscription(ctx, 'backoff-policy', {
      pushConfig: { pushEndpoint: withPolicy.url },
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 1 } },
    });
    await retried.topic.publishMessage({ data: Buffer.from('policy') });
    const policyRequests = await withPolicy.waitFor(3, 15_000);
    for (const gap of gaps(policyRequests.slice(0, 3).map((r) => r.at))) {
      assert.ok(gap >= 0.9, `the retry policy's 1 s minimum applies to push (gap ${gap.toFixed(2)} s)`);
    }

    let open = 0;
    let mostOpen = 0;
    const slow = await pushEndpoint(t, (_, response) => {
      mostOpen = Math.max(mostOpen, ++open);
      setTimeout(() => {
        open--;
        response.writeHead(204).end();
      }, 1500);
    });
    const flooded = await topicAndSubscription(ctx, 'flood', { pushConfig: { pushEndpoint: slow.url } });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => flooded.topic.publishMessage({ data: Buffer.from(`f${i}`) })),
    );
    await slow.waitFor(1);
    await elapse(1000);
    assert.ok(mostOpen <= 10, `a slow endpoint is not sent all 50 at once (${mostOpen} requests open)`);
  });

  item(39, 'oidc_token adds a Bearer JWT with Google-like claims, verifiable with the JWKS', async (t) => {
    const endpoint = await pushEndpoint(t);
    const email = 'pusher@conformance.iam.gserviceaccount.com';
    const withAudience = await topicAndSubscription(ctx, 'oidc', {
      pushConfig: {
        pushEndpoint: endpoint.url,
        oidcToken: { serviceAccountEmail: email, audience: 'https://conveyor.example/push' },
      },
    });
    await withAudience.topic.publishMessage({ data: Buffer.from('signed') });
    const [request] = await endpoint.waitFor(1);
    const authorization = request!.headers.authorization ?? '';
    assert.match(authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const token = authorization.slice('Bearer '.length);
    assert.equal(decodeProtectedHeader(token).alg, 'RS256');
    const claims = decodeJwt(token);
    assert.equal(claims.iss, 'https://accounts.google.com');
    assert.equal(claims.aud, 'https://conveyor.example/push');
    assert.equal(claims.email, email);
    assert.equal(claims.email_verified, true);
    assert.ok(typeof claims.sub === 'string' && claims.sub.length > 0);
    assert.ok(claims.exp! > Date.now() / 1000 && claims.iat! <= Date.now() / 1000 + 5);
    if (ctx.emulator) {
      const { payload } = await jwtVerify(token, createLocalJWKSet(ctx.emulator.jwks), {
        issuer: ctx.emulator.oidcIssuer,
        audience: 'https://conveyor.example/push',
      });
      assert.equal(payload.email, email);
    }

    const defaulted = await pushEndpoint(t);
    const withoutAudience = await topicAndSubscription(ctx, 'oidc-default', {
      pushConfig: { pushEndpoint: defaulted.url, oidcToken: { serviceAccountEmail: email } },
    });
    await withoutAudience.topic.publishMessage({ data: Buffer.from('default audience') });
    const [second] = await defaulted.waitFor(1);
    const defaultClaims = decodeJwt((second!.headers.authorization ?? '').replace(/^Bearer /, ''));
    assert.equal(defaultClaims.aud, defaulted.url, 'the audience defaults to the endpoint URL');
  });

  item(40, 'no-wrapper delivery: raw data, metadata headers only with write_metadata', async (t) => {
    const withMetadata = await pushEndpoint(t);
    const meta = await topicAndSubscription(
      ctx,
      'nowrap',
      {
        pushConfig: { pushEndpoint: withMetadata.url, noWrapper: { writeMetadata: true } },
        enableMessageOrdering: true,
      },
      { messageOrdering: true },
    );
    const id = await meta.topic.publishMessage({
      data: Buffer.from('raw bytes'),
      attributes: { color: 'red' },
      orderingKey: 'KEY1',
    });
    const [request] = await withMetadata.waitFor(1);
    assert.equal(request!.body.toString(), 'raw bytes');
    assert.equal(request!.headers['x-goog-pubsub-message-id'], id);
    assert.equal(request!.headers['x-goog-pubsub-subscription-name'], meta.subscription.name);
    assert.match(String(request!.headers['x-goog-pubsub-publish-time']), RFC3339);
    assert.equal(request!.headers['x-goog-pubsub-ordering-key'], 'KEY1');
    assert.equal(request!.headers.color, 'red');

    const bare = await pushEndpoint(t);
    const plain = await topicAndSubscription(ctx, 'nowrap-bare', {
      pushConfig: { pushEndpoint: bare.url, noWrapper: { writeMetadata: false } },
    });
    await plain.topic.publishMessage({ data: Buffer.from('just data'), attributes: { color: 'blue' } });
    const [bareRequest] = await bare.waitFor(1);
    assert.equal(bareRequest!.body.toString(), 'just data');
    assert.deepEqual(
      Object.keys(bareRequest!.headers).filter((h) => h.startsWith('x-goog-pubsub-') || h === 'color'),
      [],
      'no metadata headers without write_metadata',
    );
  });

  item(41, 'x-goog-version is the push-config attribute; v1 and v1beta1 are accepted', async () => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('version'));
    for (const version of ['v1', 'v1beta1']) {
      const [subscription] = await topic.createSubscription(ctx.id('v'), {
        pushConfig: { pushEndpoint: 'http://127.0.0.1:9/push', attributes: { 'x-goog-version': version } },
      });
      const [metadata] = await subscription.getMetadata();
      assert.equal(metadata.pushConfig?.attributes?.['x-goog-version'], version);
    }
  });

  item(42, 'exactly-once delivery is not available on push subscriptions', async () => {
    const [topic] = await ctx.pubsub.createTopic(ctx.id('eod-push'));
    await assertCode(
      topic.createSubscription(ctx.id('e'), {
        pushConfig: { pushEndpoint: 'http://127.0.0.1:9/push' },
        enableExactlyOnceDelivery: true,
      }),
      INVALID_ARGUMENT,
      'create a push subscription with exactly-once',
    );
    const [push] = await topic.createSubscription(ctx.id('e'), {
      pushConfig: { pushEndpoint: 'http://127.0.0.1:9/push' },
    });
    await assertCode(
      push.setMetadata({ enableExactlyOnceDelivery: true }),
      INVALID_ARGUMENT,
      'enable on push',
    );
    const [pull] = await topic.createSubscription(ctx.id('e'), { enableExactlyOnceDelivery: true });
    await assertCode(
      pull.modifyPushConfig({ pushEndpoint: 'http://127.0.0.1:9/push' }),
      INVALID_ARGUMENT,
      'make push',
    );
  });
});
