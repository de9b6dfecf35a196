import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { PRIMITIVE_ROLES, PUBLIC_MEMBERS } from '../../../infra/aspects/policy.ts';
import { DEPLOYABLES } from '../../../infra/deployables.ts';
import type { DeployableName } from '../../../infra/deployables.ts';
import { IDENTITY } from '../../../infra/constructs/security.ts';
import { grants, ref, resource, resources, synthesize } from './synth.ts';

const { json, stacks } = synthesize();

/**
 * Least privilege, written out: every grant each service account holds (role on resource).
 * Anything added to or missing from this table fails the test, on purpose.
 */
function expectedGrants(project: string): Record<string, string[]> {
  const functionUrlReaders = ['saga', 'notifier', 'ingest', 'dead-letter', 'timeouts'];
  const table: Record<string, string[]> = {
    'conveyor-api': [
      'roles/secretmanager.secretAccessor on conveyor-database-url-socket',
      'roles/secretmanager.secretAccessor on conveyor-payment-webhook-secret',
      'roles/secretmanager.secretAccessor on conveyor-shipping-webhook-secret',
      `roles/cloudsql.client on ${project}`,
      'roles/pubsub.publisher on order-events',
      'roles/pubsub.publisher on replays',
      'roles/pubsub.publisher on inbound-events',
      'roles/pubsub.publisher on ticks',
    ],
    'conveyor-migrate': [
      'roles/secretmanager.secretAccessor on conveyor-database-url-socket',
      `roles/cloudsql.client on ${project}`,
    ],
    'conveyor-saga': ['roles/pubsub.publisher on order-events', 'roles/pubsub.publisher on dead-letters'],
    'conveyor-analytics': [
      'roles/bigquery.dataEditor on analytics',
      'roles/pubsub.publisher on dead-letters',
    ],
    'conveyor-notifier': [
      'roles/secretmanager.secretAccessor on conveyor-notifier-signing-secret',
      'roles/pubsub.publisher on dead-letters',
    ],
    'conveyor-ingest': ['roles/pubsub.publisher on order-events', 'roles/pubsub.publisher on dead-letters'],
    'conveyor-dead-letter': [
      'roles/bigquery.dataEditor on analytics',
      'roles/pubsub.publisher on dead-letters-parked',
    ],
    'conveyor-timeouts': ['roles/pubsub.publisher on order-events', 'roles/pubsub.publisher on dead-letters'],
    'conveyor-push-invoker': Object.values(FUNCTION).map((name) => `roles/run.invoker on ${name}`),
    'conveyor-scheduler': ['roles/pubsub.publisher on ticks'],
    'conveyor-builder': [
      `roles/logging.logWriter on ${project}`,
      'roles/artifactregistry.writer on conveyor',
      `roles/storage.objectViewer on ${project}-conveyor-sources`,
    ],
  };
  for (const name of functionUrlReaders)
    table[`conveyor-${name}`]!.push('roles/secretmanager.secretAccessor on conveyor-database-url-private');
  // Every running deployable writes its traces and metrics (the migration job exports none).
  const telemetryWriters = ['api', 'saga', 'analytics', 'notifier', 'ingest', 'dead-letter', 'timeouts'];
  for (const name of telemetryWriters)
    table[`conveyor-${name}`]!.push(
      `roles/cloudtrace.agent on ${project}`,
      `roles/monitoring.metricWriter on ${project}`,
    );
  return Object.fromEntries(Object.entries(table).map(([account, list]) => [account, list.sort()]));
}

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const config = stacks[env].config;

  describe(`security (${env})`, () => {
    it('holds exactly the least-privilege grants per service account', () => {
      const actual: Record<string, string[]> = {};
      for (const grant of grants(tf)) {
        if (grant.member.startsWith('serviceAccount:service-')) continue; // Google service agents: messaging.test.ts
        (actual[grant.member] ??= []).push(`${grant.role} on ${grant.on}`);
      }
      for (const list of Object.values(actual)) list.sort();
      assert.deepEqual(actual, expectedGrants(config.projectId));
    });

    it('narrows the project-level Cloud SQL grant to the Conveyor instance', () => {
      const sql = grants(tf).filter((grant) => grant.role === 'roles/cloudsql.client');
      assert.equal(sql.length, 2);
      const instance = resources(tf, 'google_sql_database_instance')[0]!;
      for (const grant of sql) {
        assert.equal(
          grant.condition?.expression,
          `resource.name == "projects/${config.projectId}/instances/${ref(instance, 'name')}" && resource.type == "sqladmin.googleapis.com/Instance"`,
        );
      }
    });

    it('uses no primitive role and no public member anywhere', () => {
      const text = JSON.stringify(tf);
      for (const member of PUBLIC_MEMBERS) assert.ok(!text.includes(member), `${member} appears`);
      for (const role of PRIMITIVE_ROLES) assert.ok(!text.includes(`"${role}"`), `${role} appears`);
      for (const grant of grants(tf)) assert.ok(!PRIMITIVE_ROLES.includes(grant.role));
      assert.equal(resources(tf, 'google_project_iam_binding').length, 0);
      assert.equal(resources(tf, 'google_project_iam_policy').length, 0);
    });

    it('runs every deployable as its own service account', () => {
      const accounts = resources(tf, 'google_service_account').map((a) => a.attributes.account_id as string);
      assert.equal(new Set(accounts).size, accounts.length);
      for (const id of [
        ...Object.values(DEPLOYABLES).map((d) => d.serviceAccountId),
        ...Object.values(IDENTITY),
      ])
        assert.ok(accounts.includes(id), id);
      const email = (name: DeployableName) =>
        ref(
          resource(tf, 'google_service_account', DEPLOYABLES[name].serviceAccountId, 'account_id'),
          'email',
        );
      assert.equal(
        resource(tf, 'google_cloud_run_v2_service', 'conveyor-api').attributes.template.service_account,
        email('api'),
      );
      assert.equal(
        resource(tf, 'google_cloud_run_v2_job', 'conveyor-migrate').attributes.template.template
          .service_account,
        email('migrate'),
      );
      for (const name of Object.values(FUNCTION)) {
        const fn = resource(tf, 'google_cloudfunctions2_function', name).attributes;
        assert.equal(fn.service_config.service_account_email, email(name), name);
        assert.equal(
          fn.build_config.service_account,
          ref(resource(tf, 'google_service_account', IDENTITY.builder, 'account_id'), 'id'),
        );
      }
    });

    it('keeps webhook keys and database credentials in Secret Manager', () => {
      const secrets = resources(tf, 'google_secret_manager_secret').map(
        (s) => s.attributes.secret_id as string,
      );
      assert.deepEqual(secrets.sort(), [
        'conveyor-database-url-private',
        'conveyor-database-url-socket',
        'conveyor-notifier-signing-secret',
        'conveyor-payment-webhook-secret',
        'conveyor-shipping-webhook-secret',
      ]);
      for (const secret of resources(tf, 'google_secret_manager_secret'))
        assert.equal(secret.attributes.deletion_protection, config.deletionProtection);
      // Every first value is generated; none is written into the configuration.
      for (const version of resources(tf, 'google_secret_manager_secret_version'))
        assert.match(version.attributes.secret_data as string, /\$\{random_password\.[^}]+\.result\}/);
    });
  });
}
