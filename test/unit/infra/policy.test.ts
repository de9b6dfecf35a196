import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Aspects, TerraformStack } from 'cdktf';
import { CloudRunV2Service } from '@cdktf/provider-google/lib/cloud-run-v2-service/index.js';
import { CloudRunV2ServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-service-iam-member/index.js';
import { Cloudfunctions2FunctionIamMember } from '@cdktf/provider-google/lib/cloudfunctions2-function-iam-member/index.js';
import { DataGoogleIamPolicy } from '@cdktf/provider-google/lib/data-google-iam-policy/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription/index.js';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member/index.js';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import { allowPublicInvocation, PolicyAspect } from '../../../infra/aspects/policy.ts';
import { loadEnvironments } from '../../../infra/config.ts';
import { ConveyorStack } from '../../../infra/stack.ts';
import { fakeDist, tempDir } from './synth.ts';
import { findArtifacts } from '../../../infra/artifacts.ts';

/** Synthesizes a small stack under the policy aspect; returns the error message, or '' if it passed. */
function synth(build: (stack: TerraformStack) => void): string {
  const app = new App({ outdir: tempDir('policy'), stackTraces: false });
  const stack = new TerraformStack(app, 'policy');
  new GoogleProvider(stack, 'google', { project: 'conveyor-test' });
  Aspects.of(stack).add(new PolicyAspect());
  build(stack);
  try {
    app.synth();
    return '';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const push = {
  pushEndpoint: 'https://saga-abc-ew.a.run.app',
  oidcToken: { serviceAccountEmail: 'invoker@p.iam.gserviceaccount.com' },
};
const deadLetter = { deadLetterTopic: 'projects/p/topics/dead-letters', maxDeliveryAttempts: 10 };

describe('policy aspect', () => {
  it('fails synth of the real stack when a push subscription without dead-letter policy is added', () => {
    const app = new App({ outdir: tempDir('policy-real'), stackTraces: false });
    const stack = new ConveyorStack(app, {
      config: loadEnvironments({}).dev,
      artifacts: findArtifacts(fakeDist()),
    });
    new PubsubSubscription(stack.messaging, 'careless', {
      name: 'careless',
      topic: 'order-events',
      pushConfig: push,
    });
    assert.throws(
      () => app.synth(),
      (error: Error) => {
        assert.match(error.message, /\[conveyor-dev\/messaging\/careless\]/, 'names the construct');
        assert.match(
          error.message,
          /google_pubsub_subscription\.messaging_careless_[0-9A-F]+ \("careless"\): push subscription without a dead-letter policy/,
        );
        assert.equal(error.message.match(/policy:/g)?.length, 1, 'only the bad construct is reported');
        return true;
      },
    );
  });

  it('fails a push subscription without dead-letter policy, even under the exempt name', () => {
    for (const name of ['saga', TOPIC.deadLettersParked]) {
      const message = synth(
        (stack) => new PubsubSubscription(stack, 'sub', { name, topic: 't', pushConfig: push }),
      );
      assert.match(message, new RegExp(`\\("${name}"\\): push subscription without a dead-letter policy`));
    }
  });

  it('passes a push subscription with a dead-letter policy', () => {
    assert.equal(
      synth(
        (stack) =>
          new PubsubSubscription(stack, 'sub', {
            name: 'saga',
            topic: 't',
            pushConfig: push,
            deadLetterPolicy: deadLetter,
          }),
      ),
      '',
    );
  });

  it('allows a pull subscription without dead-letter policy only where the catalogue exempts it', () => {
    assert.equal(
      synth((stack) => new PubsubSubscription(stack, 'sub', { name: TOPIC.deadLettersParked, topic: 't' })),
      '',
    );
    assert.match(
      synth((stack) => new PubsubSubscription(stack, 'sub', { name: 'adhoc', topic: 't' })),
      /\("adhoc"\): subscription without a dead-letter policy, and not exempt in the catalogue/,
    );
  });

  it('fails a public invoker binding on a service or function', () => {
    assert.match(
      synth(
        (stack) =>
          new CloudRunV2ServiceIamMember(stack, 'open', {
            name: 'saga',
            location: 'europe-west1',
            role: 'roles/run.invoker',
            member: 'allUsers',
          }),
      ),
      /\[policy\/open\] policy: google_cloud_run_v2_service_iam_member\.open \("saga"\): public member allUsers \(role roles\/run\.invoker\)/,
    );
    assert.match(
      synth(
        (stack) =>
          new Cloudfunctions2FunctionIamMember(stack, 'open', {
            cloudFunction: 'saga',
            location: 'europe-west1',
            role: 'roles/cloudfunctions.invoker',
            member: 'allAuthenticatedUsers',
          }),
      ),
      /google_cloudfunctions2_function_iam_member\.open: public member allAuthenticatedUsers/,
    );
  });

  it('fails a public member however it is written: policy documents and raw overrides', () => {
    assert.match(
      synth(
        (stack) =>
          new DataGoogleIamPolicy(stack, 'doc', {
            binding: [{ role: 'roles/run.invoker', members: ['allUsers'] }],
          }),
      ),
      /data\.google_iam_policy\.doc: public member allUsers/,
    );
    assert.match(
      synth((stack) => {
        const grant = new PubsubTopicIamMember(stack, 'sneaky', {
          topic: 'order-events',
          role: 'roles/pubsub.publisher',
          member: 'serviceAccount:a@p.iam.gserviceaccount.com',
        });
        grant.addOverride('member', 'allAuthenticatedUsers');
      }),
      /google_pubsub_topic_iam_member\.sneaky: public member allAuthenticatedUsers/,
    );
  });

  it('fails a Cloud Run service with its IAM check disabled unless marked as a public entry point', () => {
    const service = (stack: TerraformStack) =>
      new CloudRunV2Service(stack, 'api', {
        name: 'conveyor-api',
        location: 'europe-west1',
        invokerIamDisabled: true,
        template: { containers: [{ image: 'us-docker.pkg.dev/cloudrun/container/hello' }] },
      });
    assert.match(
      synth(service),
      /\("conveyor-api"\): IAM invoker check disabled \(public\) without allowPublicInvocation/,
    );
    assert.equal(
      synth((stack) => allowPublicInvocation(service(stack), 'the public API authenticates its own callers')),
      '',
    );
  });

  it('fails a primitive role, at any level', () => {
    for (const role of ['roles/owner', 'roles/editor', 'roles/viewer']) {
      assert.match(
        synth(
          (stack) =>
            new ProjectIamMember(stack, 'broad', { project: 'p', role, member: 'user:a@example.com' }),
        ),
        new RegExp(`google_project_iam_member\\.broad: primitive role ${role.replace('/', '\\/')}`),
      );
    }
    assert.match(
      synth(
        (stack) =>
          new PubsubTopicIamMember(stack, 'broad', {
            topic: 't',
            role: 'roles/editor',
            member: 'user:a@example.com',
          }),
      ),
      /primitive role roles\/editor/,
    );
  });

  it('reports every violation at once', () => {
    const message = synth((stack) => {
      new PubsubSubscription(stack, 'a', { name: 'a', topic: 't', pushConfig: push });
      new ProjectIamMember(stack, 'b', { project: 'p', role: 'roles/owner', member: 'allUsers' });
    });
    assert.match(message, /push subscription without a dead-letter policy/);
    assert.match(message, /primitive role roles\/owner/);
    assert.match(message, /public member allUsers/);
  });
});
