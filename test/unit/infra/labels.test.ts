import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TerraformResource } from 'cdktf';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { isLabelable } from '../../../infra/aspects/labels.ts';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { resource, resources, synthesize } from './synth.ts';

const { json, stacks } = synthesize();

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const stack = stacks[env];
  const all = stack.node.findAll().filter((node) => TerraformResource.isTerraformResource(node));

  describe(`labels (${env})`, () => {
    it('labels every labelable resource with app, env and its component', () => {
      const labelable = all.filter(isLabelable);
      assert.ok(labelable.length > 30, `found ${labelable.length}`);
      for (const node of labelable) {
        const attributes = tf.resource[node.terraformResourceType]![node.friendlyUniqueId]!;
        const labels = attributes.labels as Record<string, string>;
        assert.equal(labels.app, 'conveyor', node.node.path);
        assert.equal(labels.env, env, node.node.path);
        assert.match(labels.component ?? '', /^[a-z][a-z0-9-]*$/, node.node.path);
      }
    });

    it('covers the resource types that take labels', () => {
      const types = new Set(all.filter(isLabelable).map((node) => node.terraformResourceType));
      for (const type of [
        'google_pubsub_topic',
        'google_pubsub_subscription',
        'google_cloudfunctions2_function',
        'google_cloud_run_v2_service',
        'google_cloud_run_v2_job',
        'google_storage_bucket',
        'google_secret_manager_secret',
        'google_bigquery_dataset',
        'google_bigquery_table',
        'google_artifact_registry_repository',
        'google_compute_global_address',
      ])
        assert.ok(types.has(type), type);
      const unlabelled = Object.entries(tf.resource)
        .flatMap(([type, byId]) => Object.values(byId).map((attributes) => ({ type, attributes })))
        .filter(({ attributes }) => !attributes.labels)
        .map(({ type }) => type);
      for (const type of new Set(unlabelled))
        assert.ok(
          !all.some((node) => node.terraformResourceType === type && isLabelable(node)),
          `${type} takes labels but has none`,
        );
    });

    it('labels Cloud SQL through settings.user_labels', () => {
      const settings = resources(tf, 'google_sql_database_instance')[0]!.attributes.settings;
      assert.deepEqual(settings.user_labels, { app: 'conveyor', env, component: 'database' });
    });

    it('names the component after the construct that owns the resource', () => {
      const component = (type: string, name: string, key = 'name') =>
        (resource(tf, type, name, key).attributes.labels as Record<string, string>).component;
      for (const name of Object.values(FUNCTION))
        assert.equal(component('google_cloudfunctions2_function', name), name);
      assert.equal(component('google_cloud_run_v2_service', 'conveyor-api'), 'api');
      assert.equal(component('google_cloud_run_v2_job', 'conveyor-migrate'), 'migrate');
      assert.equal(component('google_pubsub_topic', 'order-events'), 'messaging');
      assert.equal(component('google_bigquery_dataset', 'analytics', 'dataset_id'), 'analytics');
      assert.equal(
        component('google_secret_manager_secret', 'conveyor-database-url-private', 'secret_id'),
        'security',
      );
    });
  });
}
