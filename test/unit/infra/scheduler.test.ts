import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { IDENTITY } from '../../../infra/constructs/security.ts';
import { TICK } from '../../../infra/constructs/scheduler.ts';
import { fromBase64, grants, ref, resource, resources, synthesize } from './synth.ts';

const { json, stacks } = synthesize();

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const config = stacks[env].config;

  describe(`scheduler (${env})`, () => {
    const job = resource(tf, 'google_cloud_scheduler_job', TICK.job).attributes;
    const ticks = resource(tf, 'google_pubsub_topic', TOPIC.ticks);

    it('ticks every minute, in UTC, without retrying a missed tick', () => {
      assert.equal(resources(tf, 'google_cloud_scheduler_job').length, 1);
      assert.equal(job.schedule, '* * * * *');
      assert.equal(job.time_zone, 'Etc/UTC');
      assert.equal(job.region, config.region);
      assert.deepEqual(job.retry_config, { retry_count: 0 });
    });

    it('publishes to the ticks topic as the scheduler account', () => {
      assert.equal(job.http_target.uri, `https://pubsub.googleapis.com/v1/${ref(ticks, 'id')}:publish`);
      assert.equal(job.http_target.http_method, 'POST');
      assert.deepEqual(job.http_target.oauth_token, {
        service_account_email: ref(
          resource(tf, 'google_service_account', IDENTITY.scheduler, 'account_id'),
          'email',
        ),
        scope: 'https://www.googleapis.com/auth/pubsub',
      });
      assert.equal(job.pubsub_target, undefined);
    });

    it('sends one tick message in the publish request body', () => {
      const body = JSON.parse(fromBase64(job.http_target.body as string)) as {
        messages: { data: string; attributes: Record<string, string> }[];
      };
      assert.equal(body.messages.length, 1);
      assert.deepEqual(JSON.parse(fromBase64(body.messages[0]!.data)), TICK.data);
      assert.deepEqual(body.messages[0]!.attributes, TICK.attributes);
    });

    it('lets the scheduler account publish to the ticks topic and nothing else', () => {
      const own = grants(tf).filter((grant) => grant.member === IDENTITY.scheduler);
      assert.deepEqual(
        own.map((grant) => `${grant.role} on ${grant.on}`),
        ['roles/pubsub.publisher on ticks'],
      );
    });
  });
}
