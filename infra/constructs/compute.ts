/**
 * What runs: the API (Cloud Run service), the migration job (Cloud Run job, same image) and one
 * Cloud Functions gen2 function per catalogue entry, each under its own service account with the
 * environment of infra/deployables.ts.
 *
 * Functions are internal-only (ALLOW_INTERNAL_ONLY). Pub/Sub push still reaches them: Cloud Run
 * counts Pub/Sub in the same project as internal traffic when it calls the default run.app URL,
 * which is the push endpoint messaging uses (https://cloud.google.com/run/docs/securing/ingress).
 * Only the push invoker account holds roles/run.invoker on them.
 *
 * The API is the public edge (shops, partners, and payment and shipping providers' webhooks, none
 * of which can present Google identity): ingress from anywhere, Cloud Run's IAM check disabled,
 * and authentication done by the API itself (API keys, Google-signed OIDC, HMAC webhooks). That is
 * the one resource the policy aspect allows to be public, by explicit exemption.
 */
import { Annotations, TerraformAsset } from 'cdktf';
import type { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import { CloudRunV2Job } from '@cdktf/provider-google/lib/cloud-run-v2-job/index.js';
import { CloudRunV2Service } from '@cdktf/provider-google/lib/cloud-run-v2-service/index.js';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object/index.js';
import { FUNCTION, SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import type { FunctionName } from '#shared/contracts/catalogue.ts';
import type { Artifacts } from '../artifacts.ts';
import { allowPublicInvocation } from '../aspects/policy.ts';
import { shortHash } from '../build/hash.ts';
import { API_BUNDLE } from '../build/layout.ts';
import type { EnvironmentConfig } from '../config.ts';
import { resolveEnv, SECRET } from '../deployables.ts';
import type { DeployableName } from '../deployables.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { componentScope, setComponent } from './component.ts';
import { CLOUD_SQL_MOUNT } from './database.ts';
import type { Database } from './database.ts';
import type { Networking } from './networking.ts';
import type { Security } from './security.ts';

export const API_PORT = 8080;
export const PROBES = { liveness: '/healthz', readiness: '/readyz' } as const;
export const FUNCTION_RUNTIME = 'nodejs22';
/** Stable Terraform addresses, so README commands can `-target` them. */
export const API_SERVICE = { name: 'conveyor-api', address: 'google_cloud_run_v2_service.api' } as const;
export const MIGRATE_JOB = { name: 'conveyor-migrate', address: 'google_cloud_run_v2_job.migrate' } as const;

export interface ComputeProps {
  config: EnvironmentConfig;
  security: Security;
  networking: Networking;
  database: Database;
  store: ArtifactStore;
  artifacts: Artifacts;
  /** Grants each deployable needs before it starts (secrets, Cloud SQL, builds). */
  runtimeAccess: Readonly<Record<DeployableName, ITerraformDependable[]>>;
  /** Make a missing build artifact a synth error instead of a warning. */
  requireArtifacts?: boolean;
}

const CLOUD_SQL_VOLUME = 'cloudsql';

export class Compute extends Construct {
  readonly api: CloudRunV2Service;
  readonly migrate: CloudRunV2Job;
  readonly functions: Readonly<Record<FunctionName, Cloudfunctions2Function>>;
  /** The API image this stack deploys. */
  readonly apiImage: string;

  constructor(scope: Construct, id: string, props: ComputeProps) {
    super(scope, id);
    setComponent(this, 'compute');
    const { artifacts } = props;

    const missing = (what: string) => {
      const message = `${what} has not been built: run \`npm run build\` before deploying`;
      if (props.requireArtifacts) Annotations.of(this).addError(message);
      else Annotations.of(this).addWarning(message);
    };

    if (!artifacts.api.imageOverride && !artifacts.api.tag)
      missing(`the API image context (${artifacts.api.contextDir})`);
    this.apiImage =
      artifacts.api.imageOverride ?? `${props.store.registryUrl}/api:${artifacts.api.tag ?? 'unbuilt'}`;

    this.api = this.apiService(componentScope(this, 'api', 'api'), props);
    this.migrate = this.migrateJob(componentScope(this, 'migrate', 'migrate'), props);

    const functions = {} as Record<FunctionName, Cloudfunctions2Function>;
    for (const name of Object.values(FUNCTION)) {
      if (!artifacts.functions[name].sha256) missing(`function ${name} (${artifacts.functions[name].zip})`);
      functions[name] = this.cloudFunction(componentScope(this, name, name), name, props);
    }
    this.functions = functions;
  }

  private apiService(scope: Construct, props: ComputeProps): CloudRunV2Service {
    const { config, security, networking, database } = props;
    const service = new CloudRunV2Service(scope, 'service', {
      name: API_SERVICE.name,
      location: config.region,
      description: 'Conveyor API',
      ingress: 'INGRESS_TRAFFIC_ALL',
      invokerIamDisabled: true,
      deletionProtection: config.deletionProtection,
      template: {
        serviceAccount: security.accounts.api.email,
        executionEnvironment: 'EXECUTION_ENVIRONMENT_GEN2',
        maxInstanceRequestConcurrency: config.api.concurrency,
        timeout: '30s',
        scaling: { minInstanceCount: config.api.minInstances, maxInstanceCount: config.api.maxInstances },
        vpcAccess: directVpcEgress(networking),
        volumes: [
          { name: CLOUD_SQL_VOLUME, cloudSqlInstance: { instances: [database.instance.connectionName] } },
        ],
        containers: [
          {
            name: 'api',
            image: this.apiImage,
            ports: { name: 'http1', containerPort: API_PORT },
            resources: {
              limits: { cpu: config.api.cpu, memory: config.api.memory },
              cpuIdle: true,
              startupCpuBoost: true,
            },
            env: cloudRunEnv('api', props),
            volumeMounts: [{ name: CLOUD_SQL_VOLUME, mountPath: CLOUD_SQL_MOUNT }],
            // Traffic only once /readyz answers (Cloud Run has no separate readiness probe).
            startupProbe: {
              httpGet: { path: PROBES.readiness, port: API_PORT },
              initialDelaySeconds: 0,
              periodSeconds: 2,
              timeoutSeconds: 2,
              failureThreshold: 30,
            },
            livenessProbe: {
              httpGet: { path: PROBES.liveness, port: API_PORT },
              periodSeconds: 15,
              timeoutSeconds: 3,
              failureThreshold: 3,
            },
          },
        ],
      },
      dependsOn: [...props.runtimeAccess.api, ...security.secretVersionsOf('api')],
    });
    service.overrideLogicalId('api');
    allowPublicInvocation(
      service,
      'the public HTTP API: clients and providers cannot present Google identity; the API authenticates requests itself (API keys, OIDC, HMAC webhooks)',
    );
    return service;
  }

  private migrateJob(scope: Construct, props: ComputeProps): CloudRunV2Job {
    const { config, security, networking, database } = props;
    const job = new CloudRunV2Job(scope, 'job', {
      name: MIGRATE_JOB.name,
      location: config.region,
      deletionProtection: config.deletionProtection,
      template: {
        taskCount: 1,
        template: {
          serviceAccount: security.accounts.migrate.email,
          // Migrations run in one transaction under an advisory lock: a retry is safe.
          maxRetries: 1,
          timeout: '600s',
          vpcAccess: directVpcEgress(networking),
          volumes: [
            { name: CLOUD_SQL_VOLUME, cloudSqlInstance: { instances: [database.instance.connectionName] } },
          ],
          containers: [
            {
              name: 'migrate',
              image: this.apiImage,
              // Relative to the image's WORKDIR, which holds the image context (infra/README.md).
              command: ['node'],
              args: [API_BUNDLE.migrate],
              resources: { limits: { cpu: '1', memory: '512Mi' } },
              env: cloudRunEnv('migrate', props),
              volumeMounts: [{ name: CLOUD_SQL_VOLUME, mountPath: CLOUD_SQL_MOUNT }],
            },
          ],
        },
      },
      dependsOn: [...props.runtimeAccess.migrate, ...security.secretVersionsOf('migrate')],
    });
    job.overrideLogicalId('migrate');
    return job;
  }

  private cloudFunction(scope: Construct, name: FunctionName, props: ComputeProps): Cloudfunctions2Function {
    const { config, security, networking, store, artifacts } = props;
    const artifact = artifacts.functions[name];
    // The object is named after the zip's content hash: a new bundle is a new object, which
    // changes the function's source and redeploys it; an unchanged bundle changes nothing.
    const source = artifact.sha256
      ? new TerraformAsset(scope, 'bundle', { path: artifact.zip, assetHash: shortHash(artifact.sha256) })
          .path
      : artifact.zip;
    const object = new StorageBucketObject(scope, 'source', {
      bucket: store.sources.name,
      name: `functions/${name}/${artifact.sha256 ? shortHash(artifact.sha256) : 'unbuilt'}.zip`,
      source,
      contentType: 'application/zip',
    });

    // Pub/Sub redelivers a push not answered within the ack deadline; running longer is wasted.
    const ackDeadline = Math.max(
      ...SUBSCRIPTIONS.filter((s) => s.pushTo === name).map((s) => s.ackDeadlineSeconds),
    );
    const { plain, secrets } = resolveEnv(name, config);
    return new Cloudfunctions2Function(scope, 'function', {
      name,
      location: config.region,
      description: `Conveyor ${name} (push from Pub/Sub)`,
      buildConfig: {
        runtime: FUNCTION_RUNTIME,
        entryPoint: name,
        source: { storageSource: { bucket: store.sources.name, object: object.name } },
        serviceAccount: security.builder.id,
        dockerRepository: store.registry.id,
      },
      serviceConfig: {
        serviceAccountEmail: security.accounts[name].email,
        ingressSettings: 'ALLOW_INTERNAL_ONLY',
        allTrafficOnLatestRevision: true,
        minInstanceCount: config.functions.minInstances,
        maxInstanceCount: config.functions.maxInstances,
        maxInstanceRequestConcurrency: config.functions.concurrency,
        availableCpu: config.functions.cpu,
        availableMemory: config.functions.memory,
        timeoutSeconds: ackDeadline,
        vpcConnector: networking.connector.id,
        vpcConnectorEgressSettings: 'PRIVATE_RANGES_ONLY',
        environmentVariables: plain,
        secretEnvironmentVariables: Object.entries(secrets).map(([key, secret]) => ({
          key,
          projectId: config.projectId,
          secret: SECRET[secret],
          version: 'latest',
        })),
      },
      dependsOn: [...props.runtimeAccess[name], ...security.secretVersionsOf(name)],
    });
  }
}

function directVpcEgress(networking: Networking) {
  return {
    networkInterfaces: [{ network: networking.network.id, subnetwork: networking.subnet.id }],
    egress: 'PRIVATE_RANGES_ONLY',
  };
}

/** Plain values inline; secrets by reference, always the latest version (read at instance start). */
function cloudRunEnv(name: DeployableName, props: ComputeProps) {
  const { plain, secrets } = resolveEnv(name, props.config);
  return [
    ...Object.entries(plain).map(([variable, value]) => ({ name: variable, value })),
    ...Object.entries(secrets).map(([variable, key]) => ({
      name: variable,
      valueSource: { secretKeyRef: { secret: props.security.secret(key).secretId, version: 'latest' } },
    })),
  ];
}
