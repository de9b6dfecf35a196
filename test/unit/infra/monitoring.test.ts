import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import {
  METRIC_LIST,
  METRICS,
  cloudMonitoringLabel,
  cloudMonitoringMetrics,
  cloudMonitoringType,
} from '#shared/telemetry/metrics-catalogue.ts';
import { findArtifacts } from '../../../infra/artifacts.ts';
import { ENVIRONMENT_NAMES, EnvironmentConfigSchema, loadEnvironments } from '../../../infra/config.ts';
import type { EnvironmentConfig, EnvironmentName } from '../../../infra/config.ts';
import { API_SERVICE } from '../../../infra/constructs/compute.ts';
import {
  BUILT_IN_METRIC,
  DASHBOARD_FILE,
  liveSubscriptions,
  renderDashboard,
  SERVICE_ID,
  SLO_ID,
} from '../../../infra/constructs/monitoring.ts';
import { createApp } from '../../../infra/stack.ts';
import {
  fakeDist,
  ref,
  resource,
  resources,
  stackDir,
  tempDir,
  type Attributes,
  type Found,
  type TerraformJson,
} from './synth.ts';

const EMAILS = ['ops@example.com', 'oncall@example.com'];

/** Both stacks, prod with two alert emails from the environment (as `npm run synth` would read them). */
function synthesizeWithEmails() {
  const configs = loadEnvironments({ CONVEYOR_PROD_ALERT_EMAILS: ` ${EMAILS.join(', ')} ` });
  const outdir = tempDir('monitoring');
  const { app } = createApp({
    outdir,
    environments: ENVIRONMENT_NAMES.map((name) => configs[name]),
    artifacts: findArtifacts(fakeDist(), {}),
  });
  app.synth();
  const json = Object.fromEntries(
    ENVIRONMENT_NAMES.map((name) => [
      name,
      JSON.parse(
        readFileSync(path.join(stackDir(outdir, `conveyor-${name}`), 'cdk.tf.json'), 'utf8'),
      ) as TerraformJson,
    ]),
  ) as Record<EnvironmentName, TerraformJson>;
  return { configs, json };
}

const { configs, json } = synthesizeWithEmails();

/** The alert policy whose display name ends with `suffix`. */
function policy(tf: TerraformJson, suffix: string): Attributes {
  const found = resources(tf, 'google_monitoring_alert_policy').filter((p) =>
    String(p.attributes.display_name).endsWith(suffix),
  );
  assert.equal(found.length, 1, `one policy named …${suffix}`);
  return found[0]!.attributes;
}

interface Threshold {
  filter: string;
  denominator_filter?: string;
  threshold_value: number;
  comparison: string;
  duration: string;
  aggregations: {
    per_series_aligner: string;
    alignment_period: string;
    cross_series_reducer?: string;
    group_by_fields?: string[];
  }[];
}
const threshold = (condition: Attributes) => condition.condition_threshold as Threshold;

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const config: EnvironmentConfig = configs[env];
  const channels = resources(tf, 'google_monitoring_notification_channel');
  const channelNames = channels.map((channel) => ref(channel, 'name'));

  describe(`monitoring (${env})`, () => {
    it('declares a descriptor for each of our metrics that goes to Cloud Monitoring, as the catalogue says', () => {
      const descriptors = resources(tf, 'google_monitoring_metric_descriptor');
      assert.deepEqual(
        descriptors.map((d) => String(d.attributes.type)).sort(),
        cloudMonitoringMetrics().map(cloudMonitoringType).sort(),
      );
      for (const metric of cloudMonitoringMetrics()) {
        const descriptor = resource(
          tf,
          'google_monitoring_metric_descriptor',
          cloudMonitoringType(metric),
          'type',
        );
        const { metric_kind, value_type, unit, labels } = descriptor.attributes;
        const expectedKind = { counter: 'CUMULATIVE', histogram: 'CUMULATIVE', gauge: 'GAUGE' }[metric.kind];
        const expectedValue =
          metric.kind === 'histogram' ? 'DISTRIBUTION' : metric.valueType === 'int' ? 'INT64' : 'DOUBLE';
        assert.deepEqual(
          [metric_kind, value_type, unit],
          [expectedKind, expectedValue, metric.unit],
          metric.name,
        );
        assert.deepEqual(
          (labels as { key: string }[] | undefined)?.map((label) => label.key) ?? [],
          metric.labels.map(cloudMonitoringLabel),
          `${metric.name}: label descriptors, untouched by the labels aspect`,
        );
      }
      assert.ok(
        !descriptors.some(
          (d) => d.attributes.type === cloudMonitoringType(METRICS.subscriptionOldestUnackedAge),
        ),
        'consumer lag comes from Pub/Sub itself',
      );
    });

    it('sends alerts to one email channel per configured address (none in dev)', () => {
      const expected = env === 'prod' ? EMAILS : [];
      assert.deepEqual(config.alerts.emails, expected);
      assert.deepEqual(
        channels.map((channel) => [String(channel.attributes.type), channel.attributes.labels as unknown]),
        expected.map((email) => ['email', { email_address: email }]),
        'channel settings carry only the address: the labels aspect writes user_labels',
      );
      for (const channel of channels)
        assert.deepEqual(channel.attributes.user_labels, { app: 'conveyor', env, component: 'monitoring' });
    });

    it('alerts on consumer lag of every live subscription, from Pub/Sub’s own metric', () => {
      const conditions = policy(tf, 'consumer lag').conditions as Attributes[];
      const subscriptions = liveSubscriptions();
      assert.deepEqual(
        [...subscriptions].sort(),
        Object.values(FUNCTION).sort(),
        'one per consuming function, no replay feed',
      );
      assert.equal(conditions.length, subscriptions.length);
      for (const [index, subscription] of subscriptions.entries()) {
        const condition = threshold(conditions[index]!);
        assert.match(condition.filter, new RegExp(`metric.type = "${BUILT_IN_METRIC.oldestUnackedAge}"`));
        assert.match(condition.filter, new RegExp(`resource.label.subscription_id = "${subscription}"`));
        assert.equal(condition.threshold_value, config.alerts.consumerLagSeconds);
        assert.equal(condition.comparison, 'COMPARISON_GT');
        assert.equal(condition.aggregations[0]!.per_series_aligner, 'ALIGN_MAX');
      }
    });

    it('alerts on dead letters: stored in 10 minutes, and left open', () => {
      const [stored, open] = (policy(tf, 'dead letters').conditions as Attributes[]).map(threshold);
      assert.equal(
        stored!.filter,
        `metric.type = "${cloudMonitoringType(METRICS.eventsConsumed)}" AND resource.type = "generic_task" AND ` +
          `metric.label.consumer = "${FUNCTION.deadLetter}" AND metric.label.outcome = "processed"`,
      );
      assert.deepEqual(
        [
          stored!.aggregations[0]!.per_series_aligner,
          stored!.aggregations[0]!.alignment_period,
          stored!.threshold_value,
        ],
        ['ALIGN_DELTA', '600s', config.alerts.deadLettersPerTenMinutes],
      );
      assert.match(
        open!.filter,
        new RegExp(`metric.type = "${cloudMonitoringType(METRICS.deadLettersOpen)}"`),
      );
      assert.deepEqual(open!.aggregations[0]!.group_by_fields, ['metric.label.subscription']);
      assert.deepEqual([open!.threshold_value, open!.duration], [config.alerts.deadLettersOpen, '1800s']);
    });

    it('alerts when the outbox stops publishing, on our outbox age metric', () => {
      const [condition] = (policy(tf, 'outbox not publishing').conditions as Attributes[]).map(threshold);
      assert.match(
        condition!.filter,
        new RegExp(`metric.type = "${cloudMonitoringType(METRICS.outboxOldestAge)}"`),
      );
      assert.equal(condition!.threshold_value, config.alerts.outboxAgeSeconds);
      assert.equal(condition!.aggregations[0]!.cross_series_reducer, 'REDUCE_MAX');
    });

    it('alerts on the share of 5xx answers of the API service', () => {
      const [condition] = (policy(tf, 'API 5xx ratio').conditions as Attributes[]).map(threshold);
      assert.match(condition!.filter, /metric.type = "run.googleapis.com\/request_count"/);
      assert.match(condition!.filter, new RegExp(`resource.label.service_name = "${API_SERVICE.name}"`));
      assert.match(condition!.filter, /metric.label.response_code_class = "5xx"/);
      assert.equal(
        condition!.denominator_filter,
        condition!.filter.replace(' AND metric.label.response_code_class = "5xx"', ''),
      );
      assert.equal(condition!.threshold_value, config.alerts.apiErrorRatio);
    });

    it('states the latency objective as an SLO on the end-to-end distribution: 99 % within 1 s', () => {
      const service = resource(tf, 'google_monitoring_custom_service', SERVICE_ID, 'service_id');
      const slo = resource(tf, 'google_monitoring_slo', SLO_ID, 'slo_id').attributes;
      assert.equal(slo.service, ref(service, 'service_id'));
      assert.deepEqual([slo.goal, slo.rolling_period_days], [0.99, 28]);
      const cut = slo.request_based_sli.distribution_cut;
      assert.equal(
        cut.distribution_filter,
        `metric.type = "${cloudMonitoringType(METRICS.orderDuration)}" AND resource.type = "generic_task" AND metric.label.outcome = "completed"`,
      );
      assert.deepEqual(cut.range, { max: 1 });
      assert.ok(
        (METRICS.orderDuration.buckets as readonly number[]).includes(Number(cut.range.max)),
        'a bucket bound',
      );
    });

    it('alerts when the error budget burns fast (1 h, 14.4×) or steadily (6 h, 6×)', () => {
      const sloFound = resource(tf, 'google_monitoring_slo', SLO_ID, 'slo_id');
      const burn = resources(tf, 'google_monitoring_alert_policy')
        .map((p) => p.attributes)
        .filter((p) => String(p.display_name).includes('error budget'))
        .map((p) => threshold((p.conditions as Attributes[])[0]!))
        .sort((a, b) => b.threshold_value - a.threshold_value);
      assert.deepEqual(
        burn.map((condition) => [condition.filter, condition.threshold_value]),
        [
          [`select_slo_burn_rate("${ref(sloFound, 'name')}", "3600s")`, 14.4],
          [`select_slo_burn_rate("${ref(sloFound, 'name')}", "21600s")`, 6],
        ],
      );
    });

    it('gives every policy the channels, a runbook and the labels', () => {
      const policies = resources(tf, 'google_monitoring_alert_policy');
      assert.equal(policies.length, 4 + config.latencyObjective.burnRateAlerts.length);
      for (const { attributes } of policies) {
        const name = String(attributes.display_name);
        assert.deepEqual(attributes.notification_channels ?? [], channelNames, name);
        assert.equal(attributes.documentation.mime_type, 'text/markdown');
        assert.ok(String(attributes.documentation.content).length > 80, name);
        assert.deepEqual(attributes.user_labels, { app: 'conveyor', env, component: 'monitoring' });
        assert.ok(String(attributes.display_name).startsWith(`Conveyor (${env}): `));
      }
    });

    it('draws a dashboard of existing metrics and their labels', () => {
      const found: Found = resources(tf, 'google_monitoring_dashboard')[0]!;
      const text = String(found.attributes.dashboard_json);
      assert.doesNotMatch(text, /(?<!\$)\$\{/, 'legend templates are escaped from Terraform interpolation');
      const dashboard = JSON.parse(text.replaceAll('$${', () => '${')) as Attributes;
      assert.match(String(dashboard.displayName), new RegExp(`\\(${env}\\)`));
      const queries: { filter: string; aggregation?: { groupByFields?: string[] } }[] = [];
      JSON.stringify(dashboard, (key, value: unknown) => {
        if (key === 'timeSeriesFilter') queries.push(value as (typeof queries)[number]);
        return value;
      });
      const known = new Map<string, readonly string[] | undefined>([
        ...cloudMonitoringMetrics().map(
          (m) => [cloudMonitoringType(m), m.labels.map(cloudMonitoringLabel)] as const,
        ),
        [BUILT_IN_METRIC.oldestUnackedAge, undefined],
        [BUILT_IN_METRIC.runRequestCount, undefined],
      ]);
      const shown = new Set<string>();
      for (const { filter, aggregation } of queries) {
        const type = /metric.type="([^"]+)"/.exec(filter)?.[1];
        assert.ok(type && known.has(type), `a known metric: ${filter}`);
        shown.add(type);
        // Our metrics: every label filtered or grouped by is one the catalogue gives them.
        const labels = known.get(type);
        if (!labels) continue;
        assert.match(filter, /resource.type="generic_task"/);
        const used = [
          ...[...filter.matchAll(/metric\.label\.([a-z_]+)=/g)].map((m) => m[1]!),
          ...(aggregation?.groupByFields ?? []).map((field) => field.replace(/^metric\.label\./, '')),
        ];
        for (const label of used) assert.ok(labels.includes(label), `${type} has label ${label}`);
      }
      assert.deepEqual(
        [...shown].sort(),
        [...known.keys()].sort(),
        'every metric we write, and the built-in ones we rely on, has a chart',
      );
    });
  });
}

describe('monitoring config', () => {
  it('refuses a latency threshold that is not a bucket bound of the order histogram', () => {
    const { prod } = loadEnvironments({});
    const result = EnvironmentConfigSchema.safeParse({
      ...prod,
      latencyObjective: { ...prod.latencyObjective, thresholdSeconds: 0.9 },
    });
    assert.equal(result.success, false);
    assert.match(result.error?.issues[0]?.message ?? '', /bucket bound of conveyor.order.duration/);
  });

  it('refuses alert emails that are not addresses, naming the environment', () => {
    assert.throws(
      () => loadEnvironments({ CONVEYOR_DEV_ALERT_EMAILS: 'ops@example.com,nobody' }),
      /dev\.alerts\.emails\.1/,
    );
  });

  it('fills the dashboard’s placeholders from the catalogue and refuses unknown ones', () => {
    const rendered = renderDashboard(readFileSync(DASHBOARD_FILE, 'utf8'), {
      apiService: 'svc',
      environment: 'dev',
    });
    assert.doesNotMatch(rendered, /\{\{/);
    assert.throws(
      () => renderDashboard('{{metric:nope}}', { apiService: 's', environment: 'e' }),
      /no metric nope/,
    );
    assert.throws(
      () => renderDashboard('{{colour}}', { apiService: 's', environment: 'e' }),
      /unknown placeholder/,
    );
    assert.ok(METRIC_LIST.length > 0);
  });
});
