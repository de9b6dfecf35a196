/**
 * Monitoring as code: the descriptors of Conveyor's own metrics, the operations dashboard, alert
 * policies and the end-to-end latency objective with its error-budget alerts, all named from
 * shared/telemetry/metrics-catalogue.ts (custom metrics) and the messaging catalogue
 * (subscriptions). Notification channels come from the typed config: one email channel per
 * address; none configured (dev by default), the policies still open incidents in the console.
 *
 * Alerts:
 * - consumer lag: pubsub.googleapis.com/subscription/oldest_unacked_message_age of each live push
 *   subscription (replay feeds are expected to lag while a replay runs);
 * - dead letters: more stored than allowed within 10 minutes (events consumed by the dead-letter
 *   function, which receives every dead letter: forwarded by Pub/Sub after the last attempt, or
 *   sent at once by a consumer), and dead letters left open at a subscription;
 * - outbox age: conveyor.outbox.oldest_age (publishing stuck);
 * - API 5xx ratio: run.googleapis.com/request_count of the API's service, 5xx over all;
 * - error budget of the latency objective: burn-rate conditions on the SLO.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Annotations } from 'cdktf';
import { Construct } from 'constructs';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy/index.js';
import type { MonitoringAlertPolicyConditions } from '@cdktf/provider-google/lib/monitoring-alert-policy/index.js';
import { MonitoringCustomService } from '@cdktf/provider-google/lib/monitoring-custom-service/index.js';
import { MonitoringDashboard } from '@cdktf/provider-google/lib/monitoring-dashboard/index.js';
import { MonitoringMetricDescriptor } from '@cdktf/provider-google/lib/monitoring-metric-descriptor/index.js';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel/index.js';
import { MonitoringSlo } from '@cdktf/provider-google/lib/monitoring-slo/index.js';
import { FUNCTION, SUBSCRIPTIONS, TOPIC } from '#shared/contracts/catalogue.ts';
import {
  CONSUME_OUTCOME,
  METRICS,
  MONITORED_RESOURCE,
  ORDER_OUTCOME,
  cloudMonitoringLabel,
  cloudMonitoringMetrics,
  cloudMonitoringType,
  type MetricKey,
  type MetricSpec,
} from '#shared/telemetry/metrics-catalogue.ts';
import type { EnvironmentConfig } from '../config.ts';
import { DEPLOYABLE } from '../deployables.ts';
import { setComponent } from './component.ts';

/** Built-in metrics the dashboard and alerts read besides ours. */
export const BUILT_IN_METRIC = {
  oldestUnackedAge: 'pubsub.googleapis.com/subscription/oldest_unacked_message_age',
  runRequestCount: 'run.googleapis.com/request_count',
} as const;

/** Roles a deployable needs to write its traces and metrics (for security.ts when telemetry is wired in). */
export const TELEMETRY_WRITER_ROLES = ['roles/cloudtrace.agent', 'roles/monitoring.metricWriter'] as const;

export const DASHBOARD_FILE = path.join(import.meta.dirname, 'monitoring-dashboard.json');
export const SERVICE_ID = 'conveyor-orders';
export const SLO_ID = 'order-latency';

/** The subscriptions whose lag is alerted on: each consuming function's own (not replay feeds). */
export function liveSubscriptions(): string[] {
  return SUBSCRIPTIONS.filter((spec) => spec.pushTo !== undefined && spec.name === spec.pushTo).map(
    (spec) => spec.name,
  );
}

export interface MonitoringProps {
  config: EnvironmentConfig;
  /** The API's Cloud Run service name (run.googleapis.com metrics are labelled with it). */
  apiService: string;
  /** Read the dashboard from here instead (tests). */
  dashboardFile?: string;
}

/**
 * The dashboard file with its placeholders filled: {{metric:<catalogue key>}} → metric type,
 * {{resource}}, {{apiService}}, {{apiJob}}, {{environment}}. Throws on any other placeholder.
 */
export function renderDashboard(
  template: string,
  values: { apiService: string; environment: string },
): string {
  return template.replace(/\{\{([^}]+)\}\}/g, (_match, name: string) => {
    if (name.startsWith('metric:')) {
      const key = name.slice('metric:'.length);
      if (!(key in METRICS)) throw new Error(`dashboard: no metric ${key} in the catalogue`);
      return cloudMonitoringType(METRICS[key as MetricKey]);
    }
    switch (name) {
      case 'resource':
        return MONITORED_RESOURCE;
      case 'apiService':
        return values.apiService;
      case 'apiJob':
        return DEPLOYABLE.api;
      case 'environment':
        return values.environment;
      default:
        throw new Error(`dashboard: unknown placeholder {{${name}}}`);
    }
  });
}

/** Terraform reads `${…}` in strings as interpolation; the dashboard's legend templates are literal. */
export function escapeInterpolation(text: string): string {
  // A function, not a string: in a replacement string `$$` means one `$`.
  return text.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
}

/** A filter on one of our metrics, written against the resource the exporter writes it to. */
function ours(metric: MetricSpec, labels: Record<string, string> = {}): string {
  return [
    `metric.type = "${cloudMonitoringType(metric)}"`,
    `resource.type = "${MONITORED_RESOURCE}"`,
    ...Object.entries(labels).map(([key, value]) => `metric.label.${cloudMonitoringLabel(key)} = "${value}"`),
  ].join(' AND ');
}

export class Monitoring extends Construct {
  readonly descriptors: Record<string, MonitoringMetricDescriptor>;
  readonly channels: MonitoringNotificationChannel[];
  readonly dashboard: MonitoringDashboard;
  readonly policies: Record<string, MonitoringAlertPolicy>;
  readonly service: MonitoringCustomService;
  readonly slo: MonitoringSlo;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    setComponent(this, 'monitoring');
    const { config } = props;
    const { alerts, latencyObjective } = config;

    // Declared here, not by the exporter on first write (it is told not to): labels and kinds as
    // the catalogue says, and alert policies can refer to them before any point is written.
    this.descriptors = {};
    for (const metric of cloudMonitoringMetrics()) {
      this.descriptors[metric.name] = new MonitoringMetricDescriptor(this, `metric-${metric.name}`, {
        type: cloudMonitoringType(metric),
        displayName: metric.name,
        description: metric.description,
        metricKind: metric.kind === 'gauge' ? 'GAUGE' : 'CUMULATIVE',
        valueType:
          metric.kind === 'histogram' ? 'DISTRIBUTION' : metric.valueType === 'int' ? 'INT64' : 'DOUBLE',
        unit: metric.unit,
        labels: metric.labels.map((key) => ({ key: cloudMonitoringLabel(key), valueType: 'STRING' })),
      });
    }
    const descriptors = Object.values(this.descriptors);

    this.channels = alerts.emails.map(
      (email, index) =>
        new MonitoringNotificationChannel(this, `email-${index}`, {
          displayName: `Conveyor ${config.name} alerts: ${email}`,
          type: 'email',
          labels: { email_address: email },
        }),
    );
    // Dev goes without by design; production without anyone to tell is worth a warning at synth.
    if (this.channels.length === 0 && config.name !== 'dev')
      Annotations.of(this).addWarning(
        `${config.name}: no alert emails (alerts.emails, or CONVEYOR_${config.name.toUpperCase()}_ALERT_EMAILS): ` +
          'alerts open incidents in the console only',
      );
    const notificationChannels = this.channels.map((channel) => channel.name);

    const dashboardJson = renderDashboard(readFileSync(props.dashboardFile ?? DASHBOARD_FILE, 'utf8'), {
      apiService: props.apiService,
      environment: config.name,
    });
    this.dashboard = new MonitoringDashboard(this, 'dashboard', {
      dashboardJson: escapeInterpolation(JSON.stringify(JSON.parse(dashboardJson))),
      dependsOn: descriptors,
    });

    const policy = (
      key: string,
      options: {
        displayName: string;
        severity: 'CRITICAL' | 'ERROR' | 'WARNING';
        conditions: MonitoringAlertPolicyConditions[];
        documentation: string;
      },
    ) =>
      new MonitoringAlertPolicy(this, `alert-${key}`, {
        displayName: `Conveyor (${config.name}): ${options.displayName}`,
        combiner: 'OR',
        severity: options.severity,
        conditions: options.conditions,
        notificationChannels,
        documentation: { mimeType: 'text/markdown', content: options.documentation },
        alertStrategy: { autoClose: '1800s' },
        dependsOn: descriptors,
      });

    this.policies = {
      consumerLag: policy('consumer-lag', {
        displayName: 'consumer lag',
        severity: 'ERROR',
        conditions: liveSubscriptions().map((subscription) => ({
          displayName: `${subscription}: oldest unacknowledged message older than ${alerts.consumerLagSeconds} s`,
          conditionThreshold: {
            filter: [
              `metric.type = "${BUILT_IN_METRIC.oldestUnackedAge}"`,
              'resource.type = "pubsub_subscription"',
              `resource.label.subscription_id = "${subscription}"`,
            ].join(' AND '),
            aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }],
            comparison: 'COMPARISON_GT',
            thresholdValue: alerts.consumerLagSeconds,
            duration: '300s',
            trigger: { count: 1 },
          },
        })),
        documentation:
          'A consumer has not acknowledged a message for longer than expected: it is failing (Pub/Sub keeps ' +
          'redelivering with backoff), too slow, or a message holds up its ordering key. Look at the ' +
          "subscription's function logs and at its dead letters; the message goes to dead-letters after its last attempt.",
      }),
      deadLetters: policy('dead-letters', {
        displayName: 'dead letters',
        severity: 'ERROR',
        conditions: [
          {
            displayName: `more than ${alerts.deadLettersPerTenMinutes} dead letters stored in 10 minutes`,
            conditionThreshold: {
              filter: ours(METRICS.eventsConsumed, {
                consumer: FUNCTION.deadLetter,
                outcome: CONSUME_OUTCOME.processed,
              }),
              aggregations: [
                {
                  alignmentPeriod: '600s',
                  perSeriesAligner: 'ALIGN_DELTA',
                  crossSeriesReducer: 'REDUCE_SUM',
                },
              ],
              comparison: 'COMPARISON_GT',
              thresholdValue: alerts.deadLettersPerTenMinutes,
              duration: '0s',
              trigger: { count: 1 },
            },
          },
          {
            displayName: `more than ${alerts.deadLettersOpen} dead letters open at a subscription for 30 minutes`,
            conditionThreshold: {
              filter: ours(METRICS.deadLettersOpen),
              aggregations: [
                {
                  alignmentPeriod: '300s',
                  perSeriesAligner: 'ALIGN_MAX',
                  crossSeriesReducer: 'REDUCE_MAX',
                  groupByFields: [`metric.label.${cloudMonitoringLabel('subscription')}`],
                },
              ],
              comparison: 'COMPARISON_GT',
              thresholdValue: alerts.deadLettersOpen,
              duration: '1800s',
              trigger: { count: 1 },
            },
          },
        ],
        documentation:
          `Messages reached the ${TOPIC.deadLetters} topic (a permanent error, or a transient one past its last ` +
          'delivery attempt) or wait there for an operator. Inspect them in the console (reason, payload), fix the ' +
          'cause, then redrive or discard.',
      }),
      outboxAge: policy('outbox-age', {
        displayName: 'outbox not publishing',
        severity: 'CRITICAL',
        conditions: [
          {
            displayName: `oldest unpublished outbox row older than ${alerts.outboxAgeSeconds} s`,
            conditionThreshold: {
              filter: ours(METRICS.outboxOldestAge),
              // Every API instance reports the same row: the maximum over them.
              aggregations: [
                { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX', crossSeriesReducer: 'REDUCE_MAX' },
              ],
              comparison: 'COMPARISON_GT',
              thresholdValue: alerts.outboxAgeSeconds,
              duration: '180s',
              trigger: { count: 1 },
            },
          },
        ],
        documentation:
          'Committed events are not reaching Pub/Sub: the outbox relay backs off while publishing fails ' +
          '(Pub/Sub unavailable, missing publish permission) or no instance is relaying. Orders are safe in ' +
          'Postgres and will be published once this clears; look at the API logs for "publish failed".',
      }),
      apiErrors: policy('api-5xx', {
        displayName: 'API 5xx ratio',
        severity: 'ERROR',
        conditions: [
          {
            displayName: `more than ${alerts.apiErrorRatio * 100} % of API responses are 5xx`,
            conditionThreshold: {
              filter: [
                `metric.type = "${BUILT_IN_METRIC.runRequestCount}"`,
                'resource.type = "cloud_run_revision"',
                `resource.label.service_name = "${props.apiService}"`,
                'metric.label.response_code_class = "5xx"',
              ].join(' AND '),
              denominatorFilter: [
                `metric.type = "${BUILT_IN_METRIC.runRequestCount}"`,
                'resource.type = "cloud_run_revision"',
                `resource.label.service_name = "${props.apiService}"`,
              ].join(' AND '),
              aggregations: [
                {
                  alignmentPeriod: '300s',
                  perSeriesAligner: 'ALIGN_DELTA',
                  crossSeriesReducer: 'REDUCE_SUM',
                },
              ],
              denominatorAggregations: [
                {
                  alignmentPeriod: '300s',
                  perSeriesAligner: 'ALIGN_DELTA',
                  crossSeriesReducer: 'REDUCE_SUM',
                },
              ],
              comparison: 'COMPARISON_GT',
              thresholdValue: alerts.apiErrorRatio,
              duration: '300s',
              trigger: { count: 1 },
            },
          },
        ],
        documentation:
          'The API answers 5xx (problem+json, logged at error with the trace): usually Postgres unreachable ' +
          'or slow. Check /readyz, the Cloud SQL instance, and the error logs of the conveyor-api service.',
      }),
    };

    this.service = new MonitoringCustomService(this, 'service', {
      serviceId: SERVICE_ID,
      displayName: `Conveyor (${config.name}): order fulfilment`,
    });
    this.slo = new MonitoringSlo(this, 'slo', {
      service: this.service.serviceId,
      sloId: SLO_ID,
      displayName: `${latencyObjective.goal * 100} % of orders completed within ${latencyObjective.thresholdSeconds} s of acceptance`,
      goal: latencyObjective.goal,
      rollingPeriodDays: latencyObjective.rollingDays,
      requestBasedSli: {
        distributionCut: {
          distributionFilter: ours(METRICS.orderDuration, { outcome: ORDER_OUTCOME.completed }),
          range: { max: latencyObjective.thresholdSeconds },
        },
      },
      dependsOn: descriptors,
    });
    latencyObjective.burnRateAlerts.forEach(({ lookbackMinutes, burnRate }) => {
      const key = `latency-budget-${lookbackMinutes}m`;
      this.policies[key] = new MonitoringAlertPolicy(this, `alert-${key}`, {
        displayName: `Conveyor (${config.name}): latency error budget burning ${burnRate}× over ${lookbackMinutes} min`,
        combiner: 'OR',
        severity: lookbackMinutes <= 60 ? 'CRITICAL' : 'ERROR',
        conditions: [
          {
            displayName: `burn rate over ${lookbackMinutes} min above ${burnRate}`,
            conditionThreshold: {
              filter: `select_slo_burn_rate("${this.slo.name}", "${lookbackMinutes * 60}s")`,
              comparison: 'COMPARISON_GT',
              thresholdValue: burnRate,
              duration: '0s',
              trigger: { count: 1 },
            },
          },
        ],
        notificationChannels,
        documentation: {
          mimeType: 'text/markdown',
          content:
            `Orders are taking longer than ${latencyObjective.thresholdSeconds} s from acceptance to completion ` +
            `often enough to spend the ${latencyObjective.rollingDays}-day error budget of the ` +
            `${latencyObjective.goal * 100} % objective ${burnRate}× too fast. Look at the dashboard's latency ` +
            'and lag charts: a slow consumer, a slow provider (circuit states) or a growing outbox.',
        },
        alertStrategy: { autoClose: '1800s' },
      });
    });
  }
}
