import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FUNCTION, SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import { shortHash } from '../../../infra/build/hash.ts';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { CLOUD_SQL_MOUNT } from '../../../infra/constructs/database.ts';
import { DEPLOYABLES, resolveEnv, SECRET } from '../../../infra/deployables.ts';
import type { DeployableName } from '../../../infra/deployables.ts';
import { telemetryEnv } from '#shared/telemetry/config.ts';
import { names, ref, referenced, resource, resources, stackDir, synthesize } from './synth.ts';
import type { Attributes, TerraformJson } from './synth.ts';

const { json, stacks, artifacts, outdir } = synthesize();

/**
 * The names agreed with api/config.ts and functions/<name>/config.ts, plus shared/config's pool size
 * and the telemetry settings every running deployable reads (shared/telemetry/config.ts).
 */
const CONTRACT = new Set([
  ...Object.keys(telemetryEnv.shape),
  'DATABASE_URL',
  'CONVEYOR_PROJECT_ID',
  'LOG_LEVEL',
  'PAYMENT_PROVIDER_URL',
  'SHIPPING_PROVIDER_URL',
  'PAYMENT_WEBHOOK_SECRET',
  'SHIPPING_WEBHOOK_SECRET',
  'NOTIFIER_SIGNING_SECRET',
  'APPROVAL_THRESHOLD_MINOR',
  'BIGQUERY_DATASET',
  'PG_POOL_MAX',
  'NODE_OPTIONS',
]);

/** Cloud Run env as { plain, secrets: variable → secret id }. */
function cloudRunEnv(tf: TerraformJson, env: unknown) {
  const plain: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const entry of env as Attributes[]) {
    if (entry.value_source) {
      assert.equal(entry.value_source.secret_key_ref.version, 'latest');
      secrets[String(entry.name)] = String(
        referenced(tf, entry.value_source.secret_key_ref.secret).attributes.secret_id,
      );
    } else plain[entry.name] = entry.value;
  }
  return { plain, secrets };
}

const expectedSecrets = (name: DeployableName, config: Parameters<typeof resolveEnv>[1]) =>
  Object.fromEntries(
    Object.entries(resolveEnv(name, config).secrets).map(([variable, key]) => [variable, SECRET[key]]),
  );

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const config = stacks[env].config;
  const instance = resources(tf, 'google_sql_database_instance')[0]!;
  const network = resources(tf, 'google_compute_network')[0]!;
  const subnet = resource(tf, 'google_compute_subnetwork', `conveyor-${config.region}`);
  const image = `${config.region}-docker.pkg.dev/${config.projectId}/conveyor/api:${artifacts.api.tag}`;

  describe(`compute (${env})`, () => {
    it('wires only agreed environment variable names', () => {
      for (const [name, spec] of Object.entries(DEPLOYABLES))
        for (const variable of Object.keys(spec.env))
          assert.ok(CONTRACT.has(variable), `${name}: ${variable}`);
    });

    describe('API service', () => {
      const api = resource(tf, 'google_cloud_run_v2_service', 'conveyor-api').attributes;
      const container = api.template.containers[0];

      it('runs the built image, tagged with the content hash of the image context', () => {
        assert.equal(container.image, image);
        assert.equal(artifacts.api.tag?.length, 16);
      });

      it('reads its environment and secrets from the deployables table', () => {
        assert.deepEqual(cloudRunEnv(tf, container.env), {
          plain: resolveEnv('api', config).plain,
          secrets: expectedSecrets('api', config),
        });
        assert.deepEqual(expectedSecrets('api', config), {
          DATABASE_URL: 'conveyor-database-url-socket',
          PAYMENT_WEBHOOK_SECRET: 'conveyor-payment-webhook-secret',
          SHIPPING_WEBHOOK_SECRET: 'conveyor-shipping-webhook-secret',
        });
        assert.equal(resolveEnv('api', config).plain.CONVEYOR_PROJECT_ID, config.projectId);
        assert.equal(resolveEnv('api', config).plain.LOG_LEVEL, config.logLevel);
      });

      it('probes liveness on /healthz and gates traffic on /readyz', () => {
        assert.deepEqual(container.liveness_probe.http_get, { path: '/healthz', port: 8080 });
        assert.deepEqual(container.startup_probe.http_get, { path: '/readyz', port: 8080 });
        assert.ok(container.startup_probe.failure_threshold * container.startup_probe.period_seconds >= 30);
        assert.deepEqual(container.ports, { name: 'http1', container_port: 8080 });
      });

      it('connects to Cloud SQL through the socket volume, over Direct VPC egress', () => {
        assert.deepEqual(api.template.volumes, [
          { name: 'cloudsql', cloud_sql_instance: { instances: [ref(instance, 'connection_name')] } },
        ]);
        assert.deepEqual(container.volume_mounts, [{ name: 'cloudsql', mount_path: CLOUD_SQL_MOUNT }]);
        assert.deepEqual(api.template.vpc_access, {
          egress: 'PRIVATE_RANGES_ONLY',
          network_interfaces: [{ network: ref(network, 'id'), subnetwork: ref(subnet, 'id') }],
        });
      });

      it('scales as configured, with startup CPU boost', () => {
        assert.deepEqual(api.template.scaling, {
          min_instance_count: config.api.minInstances,
          max_instance_count: config.api.maxInstances,
        });
        assert.equal(api.template.max_instance_request_concurrency, config.api.concurrency);
        assert.equal(container.resources.startup_cpu_boost, true);
        assert.deepEqual(container.resources.limits, { cpu: config.api.cpu, memory: config.api.memory });
        assert.equal(api.deletion_protection, config.deletionProtection);
      });

      it('is the public edge: open ingress, authentication by the API itself', () => {
        assert.equal(api.ingress, 'INGRESS_TRAFFIC_ALL');
        assert.equal(api.invoker_iam_disabled, true);
        assert.equal(
          resources(tf, 'google_cloud_run_v2_service_iam_member').filter(
            (g) => g.attributes.name === 'conveyor-api',
          ).length,
          0,
        );
      });

      it('deploys after its secrets and grants exist', () => {
        const deps = api.depends_on as string[];
        for (const secret of ['databaseUrlSocket', 'paymentWebhook', 'shippingWebhook'])
          assert.ok(
            deps.some((d) => d.startsWith('google_secret_manager_secret_version.') && d.includes(secret)),
            secret,
          );
        assert.ok(
          deps.some((d) => d.startsWith('google_project_iam_member.') && d.includes('api-connects-sql')),
        );
        assert.ok(!deps.some((d) => d.includes('saga-reads')), 'not on other deployables');
      });
    });

    it('runs migrations as a Cloud Run job from the same image, over the socket', () => {
      const job = resource(tf, 'google_cloud_run_v2_job', 'conveyor-migrate').attributes;
      const container = job.template.template.containers[0];
      assert.equal(container.image, image);
      assert.deepEqual([...container.command, ...container.args], ['node', 'migrate.js']);
      assert.deepEqual(cloudRunEnv(tf, container.env), {
        plain: resolveEnv('migrate', config).plain,
        secrets: { DATABASE_URL: 'conveyor-database-url-socket' },
      });
      assert.deepEqual(job.template.template.volumes[0].cloud_sql_instance.instances, [
        ref(instance, 'connection_name'),
      ]);
      assert.deepEqual(container.volume_mounts, [{ name: 'cloudsql', mount_path: CLOUD_SQL_MOUNT }]);
      assert.equal(job.template.template.vpc_access.egress, 'PRIVATE_RANGES_ONLY');
    });

    describe('functions', () => {
      const connector = resources(tf, 'google_vpc_access_connector')[0]!;

      it('deploys every catalogue function as gen2, nodejs22, entry point = its name', () => {
        assert.deepEqual(
          names(resources(tf, 'google_cloudfunctions2_function')).sort(),
          Object.values(FUNCTION).sort(),
        );
        for (const name of Object.values(FUNCTION)) {
          const fn = resource(tf, 'google_cloudfunctions2_function', name).attributes;
          assert.equal(fn.build_config.runtime, 'nodejs22');
          assert.equal(fn.build_config.entry_point, name);
          assert.equal(fn.location, config.region);
        }
      });

      it('accepts internal traffic only and reaches Cloud SQL through the connector', () => {
        for (const name of Object.values(FUNCTION)) {
          const service = resource(tf, 'google_cloudfunctions2_function', name).attributes.service_config;
          assert.equal(service.ingress_settings, 'ALLOW_INTERNAL_ONLY', name);
          assert.equal(service.vpc_connector, ref(connector, 'id'));
          assert.equal(service.vpc_connector_egress_settings, 'PRIVATE_RANGES_ONLY');
          assert.equal(service.min_instance_count, config.functions.minInstances);
          assert.equal(service.max_instance_count, config.functions.maxInstances);
          const ackDeadline = Math.max(
            ...SUBSCRIPTIONS.filter((s) => s.pushTo === name).map((s) => s.ackDeadlineSeconds),
          );
          assert.equal(service.timeout_seconds, ackDeadline, `${name} stops when Pub/Sub would redeliver`);
        }
      });

      it('reads its environment and secrets from the deployables table', () => {
        for (const name of Object.values(FUNCTION)) {
          const service = resource(tf, 'google_cloudfunctions2_function', name).attributes.service_config;
          assert.deepEqual(service.environment_variables, resolveEnv(name, config).plain, name);
          const secrets = Object.fromEntries(
            (service.secret_environment_variables as Attributes[]).map((s) => {
              assert.equal(s.version, 'latest');
              assert.equal(s.project_id, config.projectId);
              return [s.key, s.secret];
            }),
          );
          assert.deepEqual(secrets, expectedSecrets(name, config), name);
        }
        const saga = resource(tf, 'google_cloudfunctions2_function', 'saga').attributes.service_config;
        assert.equal(saga.environment_variables.PAYMENT_PROVIDER_URL, config.providers.paymentUrl);
        assert.equal(
          saga.environment_variables.APPROVAL_THRESHOLD_MINOR,
          String(config.approvalThresholdMinor),
        );
        assert.equal(
          resource(tf, 'google_cloudfunctions2_function', 'analytics').attributes.service_config
            .environment_variables.BIGQUERY_DATASET,
          'analytics',
        );
      });

      it('deploys the built zip, named by its content hash, shipped inside the stack directory', () => {
        for (const name of Object.values(FUNCTION)) {
          const fn = resource(tf, 'google_cloudfunctions2_function', name).attributes;
          const object = referenced(tf, fn.build_config.source.storage_source.object).attributes;
          const sha = artifacts.functions[name].sha256!;
          assert.equal(object.name, `functions/${name}/${shortHash(sha)}.zip`);
          assert.match(String(object.source), new RegExp(`^assets/.+/${shortHash(sha)}/${name}\\.zip$`));
          const shipped = path.join(stackDir(outdir, stacks[env].node.id), String(object.source));
          assert.ok(existsSync(shipped), shipped);
          assert.equal(readFileSync(shipped, 'utf8'), `zip of ${name}`);
          assert.equal(
            referenced(tf, fn.build_config.source.storage_source.bucket).attributes.name,
            `${config.projectId}-conveyor-sources`,
          );
        }
      });
    });
  });
}
