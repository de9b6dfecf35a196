/**
 * Helpers for the infra tests: synthesize the real app (both environments) into a temporary
 * directory with stand-in build artifacts, and read the Terraform JSON back with a few lookups
 * that follow `${type.id.attr}` references to the resources they name.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import { findArtifacts } from '../../../infra/artifacts.ts';
import type { Artifacts } from '../../../infra/artifacts.ts';
import { distLayout } from '../../../infra/build/layout.ts';
import { ENVIRONMENT_NAMES, loadEnvironments } from '../../../infra/config.ts';
import type { EnvironmentName } from '../../../infra/config.ts';
import { createApp } from '../../../infra/stack.ts';
import type { ConveyorStack } from '../../../infra/stack.ts';

// Terraform JSON is untyped: tests read it by path and assert on what they find.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Attributes = Record<string, any>;
export interface TerraformJson {
  resource: Record<string, Record<string, Attributes>>;
  data: Record<string, Record<string, Attributes>>;
  output: Record<string, { value: unknown }>;
  provider: Record<string, unknown[]>;
  terraform: Attributes;
}

export interface Synthesized {
  outdir: string;
  dist: string;
  artifacts: Artifacts;
  stacks: Record<EnvironmentName, ConveyorStack>;
  json: Record<EnvironmentName, TerraformJson>;
}

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `conveyor-infra-${prefix}-`));
  made.push(dir);
  return dir;
}

/** A dist/ with an API image context and one (fake) zip per function, each with its own bytes. */
export function fakeDist(): string {
  const dist = tempDir('dist');
  const layout = distLayout(dist);
  mkdirSync(layout.api, { recursive: true });
  writeFileSync(path.join(layout.api, 'server.js'), 'console.log("api");\n');
  mkdirSync(layout.functions, { recursive: true });
  for (const name of Object.values(FUNCTION)) writeFileSync(layout.functionZip(name), `zip of ${name}`);
  return dist;
}

export function synthesize(
  options: { viewsDir?: string; dist?: string; requireArtifacts?: boolean; apiImage?: string } = {},
): Synthesized {
  const outdir = tempDir('out');
  const dist = options.dist ?? fakeDist();
  const artifacts = findArtifacts(dist, { apiImage: options.apiImage });
  const configs = loadEnvironments({});
  const { app, stacks } = createApp({
    outdir,
    environments: ENVIRONMENT_NAMES.map((name) => configs[name]),
    artifacts,
    requireArtifacts: options.requireArtifacts ?? false,
    ...(options.viewsDir ? { viewsDir: options.viewsDir } : {}),
  });
  app.synth();
  const byName = Object.fromEntries(stacks.map((stack) => [stack.config.name, stack])) as Record<
    EnvironmentName,
    ConveyorStack
  >;
  const json = Object.fromEntries(
    ENVIRONMENT_NAMES.map((name) => [name, readStack(outdir, byName[name].node.id)]),
  ) as Record<EnvironmentName, TerraformJson>;
  return { outdir, dist, artifacts, stacks: byName, json };
}

export function stackDir(outdir: string, stack: string): string {
  return path.join(outdir, 'stacks', stack);
}

function readStack(outdir: string, stack: string): TerraformJson {
  return JSON.parse(readFileSync(path.join(stackDir(outdir, stack), 'cdk.tf.json'), 'utf8')) as TerraformJson;
}

export interface Found {
  type: string;
  id: string;
  attributes: Attributes;
}

/** Every resource of `type`. */
export function resources(json: TerraformJson, type: string): Found[] {
  return Object.entries(json.resource[type] ?? {}).map(([id, attributes]) => ({ type, id, attributes }));
}

/** The one resource of `type` whose `key` (default `name`) is `value`. */
export function resource(json: TerraformJson, type: string, value: string, key = 'name'): Found {
  const found = resources(json, type).filter((r) => r.attributes[key] === value);
  if (found.length !== 1) throw new Error(`expected one ${type} with ${key} ${value}, found ${found.length}`);
  return found[0]!;
}

/** The `key` attribute (default `name`) of each found resource. */
export function names(found: readonly Found[], key = 'name'): string[] {
  return found.map((r) => String(r.attributes[key]));
}

/** `${type.id.attr}` for a found resource. */
export function ref(found: Found, attribute: string): string {
  return `\${${found.type}.${found.id}.${attribute}}`;
}

/** The resource a `${type.id.…}` reference points at. */
export function referenced(json: TerraformJson, reference: unknown): Found {
  const match = /^\$\{([a-z0-9_]+)\.([^.}]+)\./.exec(String(reference));
  if (!match) throw new Error(`not a reference: ${String(reference)}`);
  const attributes = json.resource[match[1]!]?.[match[2]!];
  if (!attributes) throw new Error(`dangling reference: ${String(reference)}`);
  return { type: match[1]!, id: match[2]!, attributes };
}

export interface Grant {
  type: string;
  role: string;
  /** account_id of a service account, or the member string as written. */
  member: string;
  /** The name of what is granted on (topic, secret, subscription, function, …). */
  on: string;
  condition?: Attributes;
}

/** Every IAM member grant, with members and targets resolved to names. */
export function grants(json: TerraformJson): Grant[] {
  return Object.keys(json.resource)
    .filter((type) => type.endsWith('_iam_member'))
    .flatMap((type) => resources(json, type))
    .map(({ type, attributes }) => ({
      type,
      role: attributes.role as string,
      member: memberName(json, attributes.member as string),
      on: targetName(json, type, attributes),
      ...(attributes.condition ? { condition: attributes.condition as Attributes } : {}),
    }));
}

function memberName(json: TerraformJson, member: string): string {
  if (/^\$\{google_service_account\.[^.]+\.member\}$/.test(member))
    return referenced(json, member).attributes.account_id as string;
  return member;
}

function targetName(json: TerraformJson, type: string, attributes: Attributes): string {
  const value = (attributes.topic ??
    attributes.subscription ??
    attributes.secret_id ??
    attributes.dataset_id ??
    attributes.bucket ??
    attributes.repository ??
    attributes.service_account_id ??
    attributes.name ??
    attributes.project) as string;
  if (!value.startsWith('${')) return value;
  const target = referenced(json, value).attributes;
  if (type === 'google_cloud_run_v2_service_iam_member') return target.name as string;
  return (target.secret_id ??
    target.dataset_id ??
    target.account_id ??
    target.repository_id ??
    target.name) as string;
}

/** Decodes a base64 string. */
export const fromBase64 = (value: unknown) => Buffer.from(String(value), 'base64').toString('utf8');
