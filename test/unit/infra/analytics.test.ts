import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BIGQUERY } from '#shared/contracts/catalogue.ts';
import { DEAD_LETTERS_TABLE_SCHEMA } from '#shared/analytics/dead-letters-schema.ts';
import { EVENTS_TABLE_SCHEMA } from '#shared/analytics/events-schema.ts';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { App, TerraformStack } from 'cdktf';
import { Analytics, DEFAULT_VIEWS_DIR, loadViews } from '../../../infra/constructs/analytics.ts';
import { names, ref, referenced, resource, resources, synthesize, tempDir } from './synth.ts';

const viewsDir = tempDir('views');
writeFileSync(
  path.join(viewsDir, 'events_by_type.sql'),
  'SELECT type, COUNT(*) AS events\nFROM `${project}.${dataset}.events`\nGROUP BY type\n',
);
writeFileSync(
  path.join(viewsDir, 'busiest_types.sql'),
  "SELECT type FROM `${project}.${dataset}.events_by_type` WHERE type LIKE '%{x' ORDER BY events DESC LIMIT 5\n",
);
writeFileSync(path.join(viewsDir, 'notes.txt'), 'not a view');

const { json, stacks } = synthesize({ viewsDir });

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const config = stacks[env].config;

  describe(`analytics (${env})`, () => {
    const dataset = resource(tf, 'google_bigquery_dataset', BIGQUERY.dataset, 'dataset_id');

    it('creates the catalogue dataset', () => {
      assert.equal(dataset.attributes.location, config.bigquery.location);
      assert.equal(dataset.attributes.delete_contents_on_destroy, !config.deletionProtection);
    });

    it('partitions the events table by day on event_time and clusters by type and order', () => {
      const events = resource(tf, 'google_bigquery_table', BIGQUERY.eventsTable, 'table_id').attributes;
      assert.equal(events.dataset_id, ref(dataset, 'dataset_id'));
      assert.deepEqual(events.time_partitioning, { type: 'DAY', field: 'event_time' });
      assert.deepEqual(events.clustering, ['type', 'order_id']);
      assert.equal(events.deletion_protection, config.deletionProtection);
    });

    it('takes the schema from shared/analytics/events-schema.ts', () => {
      const events = resource(tf, 'google_bigquery_table', BIGQUERY.eventsTable, 'table_id').attributes;
      const schema = JSON.parse(events.schema as string) as { name: string; type: string }[];
      assert.deepEqual(schema, EVENTS_TABLE_SCHEMA);
      assert.deepEqual(
        schema.map((field) => `${field.name}:${field.type}`),
        [
          'event_id:STRING',
          'type:STRING',
          'order_id:STRING',
          'sequence:INT64',
          'event_time:TIMESTAMP',
          'published_at:TIMESTAMP',
          'payload:JSON',
          'attributes:JSON',
        ],
      );
    });

    it('creates the dead_letters table: day partitions on dead_lettered_at, clustered by subscription', () => {
      const table = resource(tf, 'google_bigquery_table', BIGQUERY.deadLettersTable, 'table_id').attributes;
      assert.equal(table.dataset_id, ref(dataset, 'dataset_id'));
      assert.deepEqual(JSON.parse(table.schema as string), DEAD_LETTERS_TABLE_SCHEMA);
      assert.deepEqual(table.time_partitioning, { type: 'DAY', field: 'dead_lettered_at' });
      assert.deepEqual(table.clustering, ['subscription']);
      assert.equal(table.deletion_protection, config.deletionProtection);
    });

    it('creates one view per SQL file, placeholders expanded, after the views it reads', () => {
      const views = resources(tf, 'google_bigquery_table').filter((t) => t.attributes.view);
      assert.deepEqual(names(views, 'table_id').sort(), ['busiest_types', 'events_by_type']);
      const byType = resource(tf, 'google_bigquery_table', 'events_by_type', 'table_id').attributes;
      assert.deepEqual(byType.view, {
        query: `SELECT type, COUNT(*) AS events\nFROM \`${config.projectId}.analytics.events\`\nGROUP BY type\n`,
        use_legacy_sql: false,
      });
      const busiest = resource(tf, 'google_bigquery_table', 'busiest_types', 'table_id').attributes;
      assert.ok(String(busiest.view.query).includes(`\`${config.projectId}.analytics.events_by_type\``));
      assert.ok(String(busiest.view.query).includes("'%%{x'"), 'Terraform template syntax escaped');
      const after = (busiest.depends_on as string[]).map((d) =>
        String(referenced(tf, `\${${d}.id}`).attributes.table_id),
      );
      assert.deepEqual(after.sort(), ['events', 'events_by_type']);
    });
  });
}

describe('view files', () => {
  const values = { project: 'p', dataset: 'd' };

  it('reads the real views folder, empty or not', () => {
    for (const view of loadViews(DEFAULT_VIEWS_DIR, values)) assert.ok(!view.query.includes('${'));
  });

  it('accepts a missing or empty folder', () => {
    assert.deepEqual(loadViews(path.join(tempDir('none'), 'missing'), values), []);
    assert.deepEqual(loadViews(tempDir('empty'), values), []);
  });

  it('rejects a file name that is not a BigQuery table id, naming the file', () => {
    const dir = tempDir('bad-name');
    writeFileSync(path.join(dir, 'orders-by-day.sql'), 'SELECT 1');
    assert.throws(() => loadViews(dir, values), /orders-by-day\.sql.*not a BigQuery table id/);
  });

  it('rejects views that read each other in a cycle', () => {
    const dir = tempDir('cycle');
    writeFileSync(path.join(dir, 'a.sql'), 'SELECT * FROM `${project}.${dataset}.b`');
    writeFileSync(path.join(dir, 'b.sql'), 'SELECT * FROM `${project}.${dataset}.a`');
    const stack = new TerraformStack(new App({ outdir: tempDir('cycle-out') }), 'cycle');
    assert.throws(
      () => new Analytics(stack, 'analytics', { config: stacks.dev.config, viewsDir: dir }),
      /[ab]\.sql: views read each other in a cycle/,
    );
  });

  it('rejects an unknown placeholder, naming the file', () => {
    const dir = tempDir('bad-placeholder');
    writeFileSync(path.join(dir, 'v.sql'), 'SELECT * FROM `${project}.${schema}.events`');
    assert.throws(() => loadViews(dir, values), /v\.sql: unknown placeholder \$\{schema\}/);
  });
});
