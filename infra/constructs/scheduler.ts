/**
 * Cloud Scheduler: a tick on the ticks topic every minute, which the timeouts function turns into
 * approval-deadline checks and the outbox sweep.
 *
 * The job calls Pub/Sub's publish method over HTTP as its own service account (OAuth), rather
 * than using a Pub/Sub target: a Pub/Sub target publishes as the Cloud Scheduler service agent,
 * which holds project-wide publish rights and cannot be limited to this topic.
 * https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish
 */
import { Construct } from 'constructs';
import { CloudSchedulerJob } from '@cdktf/provider-google/lib/cloud-scheduler-job/index.js';
import type { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import type { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import type { EnvironmentConfig } from '../config.ts';
import { setComponent } from './component.ts';

export const TICK = {
  job: 'conveyor-tick',
  schedule: '* * * * *',
  timeZone: 'Etc/UTC',
  /** The message the timeouts function receives: data (JSON) and attributes. */
  data: { tick: 'every-minute' },
  attributes: { 'conveyor-tick': 'every-minute' },
} as const;

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The body of a topics.publish request carrying one tick. */
export function tickPublishRequest(): string {
  return JSON.stringify({
    messages: [{ data: base64(JSON.stringify(TICK.data)), attributes: TICK.attributes }],
  });
}

export interface SchedulerProps {
  config: EnvironmentConfig;
  ticks: PubsubTopic;
  identity: ServiceAccount;
}

export class Scheduler extends Construct {
  readonly job: CloudSchedulerJob;

  constructor(scope: Construct, id: string, props: SchedulerProps) {
    super(scope, id);
    setComponent(this, 'scheduler');

    this.job = new CloudSchedulerJob(this, 'tick', {
      name: TICK.job,
      region: props.config.region,
      description: 'Conveyor: a tick on the ticks topic every minute (timeouts, outbox sweep)',
      schedule: TICK.schedule,
      timeZone: TICK.timeZone,
      attemptDeadline: '30s',
      // A missed tick is covered by the next one a minute later.
      retryConfig: { retryCount: 0 },
      httpTarget: {
        httpMethod: 'POST',
        uri: `https://pubsub.googleapis.com/v1/${props.ticks.id}:publish`,
        headers: { 'Content-Type': 'application/json' },
        // The provider expects the body base64-encoded.
        body: base64(tickPublishRequest()),
        oauthToken: {
          serviceAccountEmail: props.identity.email,
          scope: 'https://www.googleapis.com/auth/pubsub',
        },
      },
    });
  }
}
