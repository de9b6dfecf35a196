/**
 * Identities, secrets and every IAM grant, in one place so least privilege can be read at once.
 * One service account per deployable (infra/deployables.ts) plus the push invoker, the scheduler
 * and the function builder. Grants are on single resources (a topic, a secret, the dataset, one
 * function); the project-level ones are conditioned on the instance (cloudsql.client) or have no
 * narrower scope (logging.logWriter for builds; cloudtrace.agent and monitoring.metricWriter for
 * the deployables that export telemetry). No primitive roles, no public members.
 *
 * Grants come in two steps because of what depends on them: runtime access (secrets, Cloud SQL,
 * BigQuery, build) must exist before the services and functions are deployed; delivery access
 * (publishers, invoker, the Pub/Sub service agent) needs the topics, which need the functions.
 */
import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import type { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js';
import type { BigqueryDataset } from '@cdktf/provider-google/lib/bigquery-dataset/index.js';
import { BigqueryDatasetIamMember } from '@cdktf/provider-google/lib/bigquery-dataset-iam-member/index.js';
import type { Cloudfunctions2Function } from '@cdktf/provider-google/lib/cloudfunctions2-function/index.js';
import { CloudRunV2ServiceIamMember } from '@cdktf/provider-google/lib/cloud-run-v2-service-iam-member/index.js';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member/index.js';
import type { PubsubSubscription } from '@cdktf/provider-google/lib/pubsub-subscription/index.js';
import { PubsubSubscriptionIamMember } from '@cdktf/provider-google/lib/pubsub-subscription-iam-member/index.js';
import type { PubsubTopic } from '@cdktf/provider-google/lib/pubsub-topic/index.js';
import { PubsubTopicIamMember } from '@cdktf/provider-google/lib/pubsub-topic-iam-member/index.js';
import { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret/index.js';
import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member/index.js';
import { SecretManagerSecretVersion } from '@cdktf/provider-google/lib/secret-manager-secret-version/index.js';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account/index.js';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member/index.js';
import type { SqlDatabaseInstance } from '@cdktf/provider-google/lib/sql-database-instance/index.js';
import type { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member/index.js';
import { FUNCTION, SUBSCRIPTIONS, TOPIC } from '#shared/contracts/catalogue.ts';
import type { FunctionName, TopicName } from '#shared/contracts/catalogue.ts';
import type { EnvironmentConfig } from '../config.ts';
import { DEPLOYABLES, exportsTelemetry, SECRET, secretsOf } from '../deployables.ts';
import type { DeployableName, SecretKey } from '../deployables.ts';
import { setComponent } from './component.ts';
import { TELEMETRY_WRITER_ROLES } from './monitoring.ts';
import { RandomPassword } from './random-password.ts';

export const IDENTITY = {
  /** Signs the OIDC tokens of every push subscription; the only invoker of the functions. */
  pushInvoker: 'conveyor-push-invoker',
  /** Publishes the scheduler's ticks. */
  scheduler: 'conveyor-scheduler',
  /** Cloud Build runs the functions' builds as this account. */
  builder: 'conveyor-builder',
} as const;

export const ROLE = {
  publisher: 'roles/pubsub.publisher',
  subscriber: 'roles/pubsub.subscriber',
  secretAccessor: 'roles/secretmanager.secretAccessor',
  cloudSqlClient: 'roles/cloudsql.client',
  bigqueryDataEditor: 'roles/bigquery.dataEditor',
  runInvoker: 'roles/run.invoker',
  tokenCreator: 'roles/iam.serviceAccountTokenCreator',
  logWriter: 'roles/logging.logWriter',
  artifactWriter: 'roles/artifactregistry.writer',
  objectViewer: 'roles/storage.objectViewer',
} as const;

/** Secrets Terraform creates with a random first value; operators replace them (README). */
const GENERATED_SECRETS: readonly SecretKey[] = ['paymentWebhook', 'shippingWebhook', 'notifierSigning'];

export interface SecurityProps {
  config: EnvironmentConfig;
  /** From the google_project data source; names the Pub/Sub service agent. */
  projectNumber: string;
}

export interface RuntimeResources {
  sqlInstance: SqlDatabaseInstance;
  dataset: BigqueryDataset;
  registry: ArtifactRegistryRepository;
  sources: StorageBucket;
}

export interface DeliveryResources {
  topics: Readonly<Record<TopicName, PubsubTopic>>;
  subscriptions: Readonly<Record<string, PubsubSubscription>>;
  functions: Readonly<Record<FunctionName, Cloudfunctions2Function>>;
}

export class Security extends Construct {
  readonly accounts: Readonly<Record<DeployableName, ServiceAccount>>;
  readonly pushInvoker: ServiceAccount;
  readonly scheduler: ServiceAccount;
  readonly builder: ServiceAccount;
  /** service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com: forwards dead letters, signs push tokens. */
  readonly pubsubServiceAgent: string;
  private readonly config: EnvironmentConfig;
  private readonly secrets = new Map<
    SecretKey,
    { secret: SecretManagerSecret; version: SecretManagerSecretVersion }
  >();

  constructor(scope: Construct, id: string, props: SecurityProps) {
    super(scope, id);
    setComponent(this, 'security');
    this.config = props.config;
    this.pubsubServiceAgent = `serviceAccount:service-${props.projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;

    const accounts = {} as Record<DeployableName, ServiceAccount>;
    for (const [name, spec] of Object.entries(DEPLOYABLES) as [
      DeployableName,
      (typeof DEPLOYABLES)[DeployableName],
    ][]) {
      accounts[name] = new ServiceAccount(this, `account-${name}`, {
        accountId: spec.serviceAccountId,
        displayName: spec.description,
      });
    }
    this.accounts = accounts;
    this.pushInvoker = new ServiceAccount(this, 'account-push-invoker', {
      accountId: IDENTITY.pushInvoker,
      displayName: 'Conveyor Pub/Sub push: invokes the functions',
    });
    this.scheduler = new ServiceAccount(this, 'account-scheduler', {
      accountId: IDENTITY.scheduler,
      displayName: 'Conveyor Cloud Scheduler: publishes ticks',
    });
    this.builder = new ServiceAccount(this, 'account-builder', {
      accountId: IDENTITY.builder,
      displayName: 'Conveyor function builds (Cloud Build)',
    });

    for (const key of GENERATED_SECRETS) {
      const initial = new RandomPassword(this, `initial-${key}`, { length: 48, special: false });
      this.storeSecret(key, initial.result);
    }
  }

  /** Creates the secret `key` with `data` as its first version. */
  storeSecret(key: SecretKey, data: string): SecretManagerSecret {
    if (this.secrets.has(key)) throw new Error(`secret ${key} stored twice`);
    const secret = new SecretManagerSecret(this, `secret-${key}`, {
      secretId: SECRET[key],
      replication: { auto: {} },
      deletionProtection: this.config.deletionProtection,
    });
    const version = new SecretManagerSecretVersion(this, `secret-${key}-version`, {
      secret: secret.id,
      secretData: data,
    });
    this.secrets.set(key, { secret, version });
    return secret;
  }

  secret(key: SecretKey): SecretManagerSecret {
    const stored = this.secrets.get(key);
    if (!stored) throw new Error(`secret ${key} has not been stored`);
    return stored.secret;
  }

  /** Secret versions a deployable needs to exist before it starts. */
  secretVersionsOf(name: DeployableName): ITerraformDependable[] {
    return secretsOf(name).map((key) => {
      const stored = this.secrets.get(key);
      if (!stored) throw new Error(`secret ${key} (read by ${name}) has not been stored`);
      return stored.version;
    });
  }

  /**
   * What deployables need to start and work: their secrets, Cloud SQL, the dataset, and the
   * builder's access for function builds. Returns each deployable's grants (functions also get
   * the builder's), for its deployment to depend on.
   */
  grantRuntimeAccess(resources: RuntimeResources): Record<DeployableName, ITerraformDependable[]> {
    const builder = this.builder.member;
    const builderGrants: ITerraformDependable[] = [
      new ProjectIamMember(this, 'builder-writes-logs', {
        project: this.config.projectId,
        role: ROLE.logWriter,
        member: builder,
      }),
      new ArtifactRegistryRepositoryIamMember(this, 'builder-pushes-images', {
        location: resources.registry.location,
        repository: resources.registry.name,
        role: ROLE.artifactWriter,
        member: builder,
      }),
      new StorageBucketIamMember(this, 'builder-reads-sources', {
        bucket: resources.sources.name,
        role: ROLE.objectViewer,
        member: builder,
      }),
    ];

    const grants = {} as Record<DeployableName, ITerraformDependable[]>;
    for (const name of Object.keys(DEPLOYABLES) as DeployableName[]) {
      const spec = DEPLOYABLES[name];
      const member = this.accounts[name].member;
      const own: ITerraformDependable[] = spec.kind === 'function' ? [...builderGrants] : [];
      for (const key of new Set(secretsOf(name))) {
        own.push(
          new SecretManagerSecretIamMember(this, `${name}-reads-${key}`, {
            secretId: this.secret(key).id,
            role: ROLE.secretAccessor,
            member,
          }),
        );
      }
      if (spec.cloudSqlSocket) {
        // Cloud SQL has no per-instance IAM; the condition narrows the project grant to ours.
        own.push(
          new ProjectIamMember(this, `${name}-connects-sql`, {
            project: this.config.projectId,
            role: ROLE.cloudSqlClient,
            member,
            condition: {
              title: 'conveyor-instance-only',
              description: 'Only the Conveyor Cloud SQL instance',
              expression: `resource.name == "projects/${this.config.projectId}/instances/${resources.sqlInstance.name}" && resource.type == "sqladmin.googleapis.com/Instance"`,
            },
          }),
        );
      }
      if (exportsTelemetry(name)) {
        // Traces and metrics are written to the project: these roles have no narrower resource.
        for (const role of TELEMETRY_WRITER_ROLES) {
          own.push(
            new ProjectIamMember(this, `${name}-writes-${role.slice(role.indexOf('/') + 1)}`, {
              project: this.config.projectId,
              role,
              member,
            }),
          );
        }
      }
      if (spec.bigqueryDataEditor) {
        own.push(
          new BigqueryDatasetIamMember(this, `${name}-writes-dataset`, {
            datasetId: resources.dataset.datasetId,
            role: ROLE.bigqueryDataEditor,
            member,
          }),
        );
      }
      grants[name] = own;
    }
    return grants;
  }

  /** Who may publish where, who may invoke the functions, and what dead-lettering needs. */
  grantDelivery(resources: DeliveryResources): void {
    for (const name of Object.keys(DEPLOYABLES) as DeployableName[]) {
      for (const topic of DEPLOYABLES[name].publishes) {
        new PubsubTopicIamMember(this, `${name}-publishes-${topic}`, {
          topic: resources.topics[topic].name,
          role: ROLE.publisher,
          member: this.accounts[name].member,
        });
      }
    }
    new PubsubTopicIamMember(this, `scheduler-publishes-${TOPIC.ticks}`, {
      topic: resources.topics[TOPIC.ticks].name,
      role: ROLE.publisher,
      member: this.scheduler.member,
    });

    for (const name of Object.values(FUNCTION)) {
      const target = resources.functions[name];
      new CloudRunV2ServiceIamMember(this, `push-invokes-${name}`, {
        location: target.location,
        name: target.serviceConfig.service,
        role: ROLE.runInvoker,
        member: this.pushInvoker.member,
      });
    }

    // Dead-lettering: the Pub/Sub service agent publishes to the dead-letter topic and
    // acknowledges the message at its source subscription.
    // https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions
    const deadLetterTopics = new Set<TopicName>();
    for (const spec of SUBSCRIPTIONS) {
      if (!('topic' in spec.deadLetter)) continue;
      deadLetterTopics.add(spec.deadLetter.topic);
      new PubsubSubscriptionIamMember(this, `pubsub-agent-acks-${spec.name}`, {
        subscription: resources.subscriptions[spec.name]!.name,
        role: ROLE.subscriber,
        member: this.pubsubServiceAgent,
      });
    }
    for (const topic of deadLetterTopics) {
      new PubsubTopicIamMember(this, `pubsub-agent-publishes-${topic}`, {
        topic: resources.topics[topic].name,
        role: ROLE.publisher,
        member: this.pubsubServiceAgent,
      });
    }
    // OIDC push: the service agent mints the invoker's tokens. Projects created after April 2021
    // have this through the agent's own role; older ones need it granted, on this account only.
    new ServiceAccountIamMember(this, 'pubsub-agent-signs-as-push-invoker', {
      serviceAccountId: this.pushInvoker.name,
      role: ROLE.tokenCreator,
      member: this.pubsubServiceAgent,
    });
  }
}
