/**
 * Where deployables are kept: the Artifact Registry repository for the API image (and the images
 * Cloud Build makes of the functions), and the bucket holding the functions' source zips.
 */
import { Construct } from 'constructs';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository/index.js';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket/index.js';
import type { EnvironmentConfig } from '../config.ts';
import { setComponent } from './component.ts';

export const REGISTRY_ID = 'conveyor';
/** Stable Terraform address, so README commands can `-target` it. */
export const REGISTRY_ADDRESS = 'google_artifact_registry_repository.registry';

export interface ArtifactStoreProps {
  config: EnvironmentConfig;
}

export class ArtifactStore extends Construct {
  readonly registry: ArtifactRegistryRepository;
  readonly sources: StorageBucket;
  /** `<region>-docker.pkg.dev/<project>/conveyor`, known at synth time. */
  readonly registryUrl: string;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps) {
    super(scope, id);
    setComponent(this, 'artifacts');
    const { config } = props;

    this.registry = new ArtifactRegistryRepository(this, 'registry', {
      repositoryId: REGISTRY_ID,
      location: config.region,
      format: 'DOCKER',
      description: 'Conveyor: the API image and the images Cloud Build makes of the functions',
    });
    this.registry.overrideLogicalId('registry');
    this.registryUrl = `${config.region}-docker.pkg.dev/${config.projectId}/${REGISTRY_ID}`;

    this.sources = new StorageBucket(this, 'sources', {
      name: `${config.projectId}-conveyor-sources`,
      location: config.region,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      // Objects are named by content hash and never overwritten. No age-based deletion: Terraform
      // would re-upload a deleted object that a deployed function still names.
      forceDestroy: !config.deletionProtection,
    });
  }
}
