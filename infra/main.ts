/**
 * `npm run synth`: writes one Terraform JSON configuration per environment to
 * infra/cdktf.out/stacks/conveyor-<env>/cdk.tf.json, applied with Terraform or OpenTofu
 * (infra/README.md). Offline: nothing here calls Google Cloud.
 *
 *   node infra/main.ts [--require-artifacts] [dev|prod ...]
 *
 * Environment: CONVEYOR_<ENV>_PROJECT_ID, CONVEYOR_<ENV>_REGION, CONVEYOR_<ENV>_STATE_BUCKET
 * (infra/config.ts) and CONVEYOR_API_IMAGE (deploy this image instead of the built context's tag).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { AnnotationMetadataEntryType } from 'cdktf';
import { findArtifacts } from './artifacts.ts';
import { ENVIRONMENT_NAMES, loadEnvironments } from './config.ts';
import type { EnvironmentName } from './config.ts';
import { createApp } from './stack.ts';

const OUTDIR = path.join(import.meta.dirname, 'cdktf.out');
const DIST = path.join(import.meta.dirname, '..', 'dist');

const args = process.argv.slice(2);
const requireArtifacts = args.includes('--require-artifacts');
const unknownFlags = args.filter((arg) => arg.startsWith('--') && arg !== '--require-artifacts');
const wanted = args.filter((arg) => !arg.startsWith('--'));
const invalid = wanted.filter((name) => !(ENVIRONMENT_NAMES as readonly string[]).includes(name));
if (unknownFlags.length > 0 || invalid.length > 0) {
  console.error(`usage: node infra/main.ts [--require-artifacts] [${ENVIRONMENT_NAMES.join('|')} ...]`);
  process.exit(2);
}

try {
  const configs = loadEnvironments(process.env);
  const names = (wanted.length > 0 ? wanted : ENVIRONMENT_NAMES) as EnvironmentName[];
  const artifacts = findArtifacts(DIST, { apiImage: process.env.CONVEYOR_API_IMAGE || undefined });
  // Generated output only: a stale cdk.tf beside a new cdk.tf.json (or the reverse) would be
  // loaded together by Terraform.
  rmSync(OUTDIR, { recursive: true, force: true });
  const { app, stacks } = createApp({
    outdir: OUTDIR,
    environments: names.map((name) => configs[name]),
    artifacts,
    requireArtifacts,
  });
  const annotations = (level: AnnotationMetadataEntryType) =>
    stacks.flatMap((stack) =>
      stack.node
        .findAll()
        .flatMap((node) =>
          node.node.metadata
            .filter((entry) => entry.type === String(level))
            .map((entry) => `[${node.node.path}] ${String(entry.data)}`),
        ),
    );
  try {
    app.synth();
  } catch (error) {
    // cdktf suggests CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS; the policy is not optional.
    throw new Error(
      (error instanceof Error ? error.message : String(error)).replace(/\n+Either fix.*$/s, ''),
      { cause: error },
    );
  }
  // With CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS set, cdktf writes the output anyway: still fail.
  const errors = annotations(AnnotationMetadataEntryType.ERROR);
  if (errors.length > 0) throw new Error(`policy or build errors:\n${errors.join('\n')}`);
  for (const warning of new Set(
    annotations(AnnotationMetadataEntryType.WARN).map((w) => w.replace(/^\[[^\]]*\] /, '')),
  ))
    console.warn(`warning: ${warning}`);
  for (const stack of stacks) {
    const dir = path.relative(process.cwd(), path.join(OUTDIR, 'stacks', stack.node.id));
    console.log(
      `${stack.node.id}: ${dir}/${process.env.SYNTH_HCL_OUTPUT === 'true' ? 'cdk.tf' : 'cdk.tf.json'} (project ${stack.config.projectId}, image ${stack.compute.apiImage})`,
    );
  }
} catch (error) {
  console.error(`synth failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
