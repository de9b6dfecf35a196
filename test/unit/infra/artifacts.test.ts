import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnnotationMetadataEntryType } from 'cdktf';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { findArtifacts } from '../../../infra/artifacts.ts';
import { resource, synthesize, tempDir } from './synth.ts';

describe('build artifacts in infra', () => {
  const empty = tempDir('empty-dist');

  it('finds nothing in an empty dist and says what is missing', () => {
    const artifacts = findArtifacts(empty);
    assert.equal(artifacts.api.tag, undefined);
    assert.equal(artifacts.missing.length, 1 + Object.values(FUNCTION).length);
  });

  it('synthesizes before a build, with warnings and names that say unbuilt', () => {
    const { json, stacks } = synthesize({ dist: empty });
    const warnings = stacks.dev.node
      .findAll()
      .flatMap((node) => node.node.metadata)
      .filter((entry) => entry.type === String(AnnotationMetadataEntryType.WARN))
      .map((entry) => String(entry.data));
    assert.equal(warnings.length, 1 + Object.values(FUNCTION).length);
    assert.ok(
      warnings.some((w) => /function saga \(.*saga\.zip\) has not been built: run `npm run build`/.test(w)),
    );
    assert.match(
      String(
        resource(json.dev, 'google_cloud_run_v2_service', 'conveyor-api').attributes.template.containers[0]
          .image,
      ),
      /\/conveyor\/api:unbuilt$/,
    );
    assert.equal(
      resource(json.dev, 'google_storage_bucket_object', 'functions/saga/unbuilt.zip').attributes.bucket
        .length > 0,
      true,
    );
  });

  it('fails synth before a build when artifacts are required, naming each one', () => {
    assert.throws(
      () => synthesize({ dist: empty, requireArtifacts: true }),
      (error: Error) => {
        for (const name of Object.values(FUNCTION))
          assert.match(error.message, new RegExp(`function ${name} \\(.*${name}\\.zip\\)`));
        assert.match(error.message, /the API image context/);
        return true;
      },
    );
  });

  it('deploys an image given by reference (CONVEYOR_API_IMAGE) instead of the built context', () => {
    const image = 'europe-docker.pkg.dev/ci/conveyor/api@sha256:abc';
    assert.equal(findArtifacts(empty, { apiImage: image }).missing.length, Object.values(FUNCTION).length);
    const { json } = synthesize({ dist: empty, apiImage: image });
    assert.equal(
      resource(json.prod, 'google_cloud_run_v2_service', 'conveyor-api').attributes.template.containers[0]
        .image,
      image,
    );
    assert.equal(
      resource(json.prod, 'google_cloud_run_v2_job', 'conveyor-migrate').attributes.template.template
        .containers[0].image,
      image,
    );
  });
});
