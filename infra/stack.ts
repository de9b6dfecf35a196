/**
 * One environment of Conveyor on Google Cloud: every construct, wired in dependency order, with
 * the labelling and policy aspects over all of it. `createApp` builds one stack per environment.
 */
import { App, Aspects, GcsBackend, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project/index.js';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider/index.js';
import { TOPIC } from '#shared/contracts/catalogue.ts';
import type { Artifacts } from './artifacts.ts';
import { LabelsAspect } from './aspects/labels.ts';
import { PolicyAspect } from './aspects/policy.ts';
import type { EnvironmentConfig, EnvironmentName } from './config.ts';
import { Analytics } from './constructs/analytics.ts';
import { ArtifactStore } from './constructs/artifact-store.ts';
import { API_SERVICE, Compute } from './constructs/compute.ts';
import { Database } from './constructs/database.ts';
import { Messaging } from './constructs/messaging.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { Networking } from './constructs/networking.ts';
import { RandomProvider } from './constructs/random-password.ts';
import { Scheduler } from './constructs/scheduler.ts';
import { Security } from './constructs/security.ts';

export const stackName = (environment: EnvironmentName) => `conveyor-${environment}`;

export interface ConveyorStackProps {
  config: EnvironmentConfig;
  artifacts: Artifacts;
  /** Fail synth when a deployable has not been built. */
  requireArtifacts?: boolean;
  /** Override shared/analytics/views (tests). */
  viewsDir?: string;
}

export class ConveyorStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly security: Security;
  readonly networking: Networking;
  readonly database: Database;
  readonly store: ArtifactStore;
  readonly analytics: Analytics;
  readonly compute: Compute;
  readonly messaging: Messaging;
  readonly scheduler: Scheduler;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, props: ConveyorStackProps) {
    const { config } = props;
    super(scope, stackName(config.name));
    this.config = config;

    new GoogleProvider(this, 'google', { project: config.projectId, region: config.region });
    new RandomProvider(this, 'random');
    new GcsBackend(this, { bucket: config.stateBucket, prefix: `conveyor/${config.name}` });
    const project = new DataGoogleProject(this, 'project', { projectId: config.projectId });

    this.security = new Security(this, 'security', { config, projectNumber: project.number });
    this.networking = new Networking(this, 'networking', { config });
    this.database = new Database(this, 'database', { config, networking: this.networking });
    this.security.storeSecret('databaseUrlPrivate', this.database.privateUrl);
    this.security.storeSecret('databaseUrlSocket', this.database.socketUrl);
    this.store = new ArtifactStore(this, 'artifacts', { config });
    this.analytics = new Analytics(this, 'analytics', {
      config,
      ...(props.viewsDir ? { viewsDir: props.viewsDir } : {}),
    });

    const runtimeAccess = this.security.grantRuntimeAccess({
      sqlInstance: this.database.instance,
      dataset: this.analytics.dataset,
      registry: this.store.registry,
      sources: this.store.sources,
    });
    this.compute = new Compute(this, 'compute', {
      config,
      security: this.security,
      networking: this.networking,
      database: this.database,
      store: this.store,
      artifacts: props.artifacts,
      runtimeAccess,
      requireArtifacts: props.requireArtifacts ?? false,
    });
    this.messaging = new Messaging(this, 'messaging', {
      functions: this.compute.functions,
      pushInvoker: this.security.pushInvoker,
    });
    this.security.grantDelivery({
      topics: this.messaging.topics,
      subscriptions: this.messaging.subscriptions,
      functions: this.compute.functions,
    });
    this.scheduler = new Scheduler(this, 'scheduler', {
      config,
      ticks: this.messaging.topics[TOPIC.ticks],
      identity: this.security.scheduler,
    });

    this.monitoring = new Monitoring(this, 'monitoring', { config, apiService: API_SERVICE.name });

    new TerraformOutput(this, 'api_url', { value: this.compute.api.uri, description: 'The public API' });
    new TerraformOutput(this, 'api_image', { value: this.compute.apiImage, description: 'Image to push' });
    new TerraformOutput(this, 'migrate_job', { value: this.compute.migrate.name });
    new TerraformOutput(this, 'sql_connection_name', { value: this.database.instance.connectionName });
    new TerraformOutput(this, 'function_urls', {
      value: Object.fromEntries(
        Object.entries(this.compute.functions).map(([n, f]) => [n, f.serviceConfig.uri]),
      ),
      description: 'Internal-only: reachable by Pub/Sub push with the invoker token',
    });

    Aspects.of(this).add(new LabelsAspect(config.name));
    Aspects.of(this).add(new PolicyAspect());
  }
}

export interface CreateAppOptions {
  outdir: string;
  environments: readonly EnvironmentConfig[];
  artifacts: Artifacts;
  requireArtifacts?: boolean;
  viewsDir?: string;
}

export function createApp(options: CreateAppOptions): { app: App; stacks: ConveyorStack[] } {
  const app = new App({ outdir: options.outdir, stackTraces: false });
  const stacks = options.environments.map(
    (config) =>
      new ConveyorStack(app, {
        config,
        artifacts: options.artifacts,
        requireArtifacts: options.requireArtifacts ?? false,
        ...(options.viewsDir ? { viewsDir: options.viewsDir } : {}),
      }),
  );
  return { app, stacks };
}
