import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SUBSCRIPTIONS, TOPIC, TOPICS } from '#shared/contracts/catalogue.ts';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { IDENTITY, ROLE } from '../../../infra/constructs/security.ts';
import { grants, names, ref, referenced, resource, resources, synthesize } from './synth.ts';

const { json } = synthesize();
const pushSpecs = SUBSCRIPTIONS.filter((spec) => spec.pushTo);

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const invoker = resource(tf, 'google_service_account', IDENTITY.pushInvoker, 'account_id');
  const agent = `serviceAccount:service-\${data.google_project.project.number}@gcp-sa-pubsub.iam.gserviceaccount.com`;

  describe(`messaging (${env})`, () => {
    it('creates exactly the catalogue topics, with their retention', () => {
      assert.deepEqual(names(resources(tf, 'google_pubsub_topic')).sort(), TOPICS.map((t) => t.name).sort());
      for (const spec of TOPICS) {
        const topic = resource(tf, 'google_pubsub_topic', spec.name).attributes;
        assert.equal(
          topic.message_retention_duration,
          spec.retentionSeconds ? `${spec.retentionSeconds}s` : undefined,
          spec.name,
        );
      }
      assert.equal(
        resource(tf, 'google_pubsub_topic', TOPIC.orderEvents).attributes.message_retention_duration,
        '604800s',
      );
    });

    it('creates exactly the catalogue subscriptions, reading their topics', () => {
      assert.deepEqual(
        names(resources(tf, 'google_pubsub_subscription')).sort(),
        SUBSCRIPTIONS.map((s) => s.name).sort(),
      );
      for (const spec of SUBSCRIPTIONS) {
        const sub = resource(tf, 'google_pubsub_subscription', spec.name).attributes;
        assert.equal(referenced(tf, sub.topic).attributes.name, spec.topic, spec.name);
        assert.equal(sub.ack_deadline_seconds, spec.ackDeadlineSeconds, spec.name);
        assert.deepEqual(sub.expiration_policy, { ttl: '' }, `${spec.name} never expires`);
      }
    });

    it('orders and filters exactly as the catalogue says', () => {
      for (const spec of SUBSCRIPTIONS) {
        const sub = resource(tf, 'google_pubsub_subscription', spec.name).attributes;
        assert.equal(sub.enable_message_ordering, spec.ordering, `${spec.name} ordering`);
        assert.equal(sub.filter, spec.filter, `${spec.name} filter`);
      }
      assert.equal(
        resource(tf, 'google_pubsub_subscription', 'saga').attributes.enable_message_ordering,
        true,
      );
      assert.equal(
        resource(tf, 'google_pubsub_subscription', 'saga-replay').attributes.filter,
        'attributes.conveyor-replay-consumer = "saga"',
      );
    });

    it('gives every push subscription a dead-letter policy and the production retry policy', () => {
      assert.ok(pushSpecs.length >= 9);
      for (const spec of pushSpecs) {
        assert.ok('topic' in spec.deadLetter);
        const sub = resource(tf, 'google_pubsub_subscription', spec.name).attributes;
        assert.equal(
          referenced(tf, sub.dead_letter_policy.dead_letter_topic).attributes.name,
          spec.deadLetter.topic,
          spec.name,
        );
        assert.equal(sub.dead_letter_policy.max_delivery_attempts, spec.deadLetter.maxDeliveryAttempts);
        assert.deepEqual(sub.retry_policy, { minimum_backoff: '10s', maximum_backoff: '600s' }, spec.name);
      }
      assert.equal(
        referenced(
          tf,
          resource(tf, 'google_pubsub_subscription', 'dead-letter').attributes.dead_letter_policy
            .dead_letter_topic,
        ).attributes.name,
        TOPIC.deadLettersParked,
      );
    });

    it('pushes to the function URL with an OIDC token of the invoker account for that URL', () => {
      for (const spec of pushSpecs) {
        const push = resource(tf, 'google_pubsub_subscription', spec.name).attributes.push_config;
        const target = resource(tf, 'google_cloudfunctions2_function', spec.pushTo!);
        const url = `\${${target.type}.${target.id}.service_config[0].uri}`;
        assert.equal(push.push_endpoint, url, spec.name);
        assert.deepEqual(
          push.oidc_token,
          { service_account_email: ref(invoker, 'email'), audience: url },
          spec.name,
        );
        assert.equal(push.no_wrapper, undefined, 'wrapped messages, as shared/contracts/push.ts expects');
      }
    });

    it('keeps the exempt dead-letters-parked subscription as a plain pull subscription', () => {
      const parked = SUBSCRIPTIONS.filter((spec) => !spec.pushTo);
      assert.deepEqual(
        parked.map((spec) => spec.name),
        [TOPIC.deadLettersParked],
      );
      const sub = resource(tf, 'google_pubsub_subscription', TOPIC.deadLettersParked).attributes;
      assert.equal(sub.push_config, undefined);
      assert.equal(sub.dead_letter_policy, undefined);
      assert.equal(sub.message_retention_duration, '604800s');
    });

    it('lets the Pub/Sub service agent forward dead letters and sign push tokens', () => {
      const all = grants(tf).filter((grant) => grant.member === agent);
      const withDeadLetter = SUBSCRIPTIONS.filter((spec) => 'topic' in spec.deadLetter);
      assert.deepEqual(
        all
          .filter((g) => g.role === ROLE.subscriber)
          .map((g) => g.on)
          .sort(),
        withDeadLetter.map((spec) => spec.name).sort(),
        'subscriber on every source subscription',
      );
      assert.deepEqual(
        all
          .filter((g) => g.role === ROLE.publisher)
          .map((g) => g.on)
          .sort(),
        [TOPIC.deadLetters, TOPIC.deadLettersParked].sort(),
        'publisher on every dead-letter topic',
      );
      assert.deepEqual(
        all.filter((g) => g.role === ROLE.tokenCreator).map((g) => g.on),
        [IDENTITY.pushInvoker],
        'token creator on the push invoker only',
      );
      assert.equal(all.length, withDeadLetter.length + 2 + 1, 'nothing else');
    });
  });
}
