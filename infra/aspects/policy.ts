/**
 * Fails synth, naming the resource, for what must never be deployed:
 * - a subscription without a dead-letter policy (a poison message would be redelivered for ever
 *   and block its ordering key); the catalogue's pull subscriptions marked `exempt` are the only
 *   exception, and never a push subscription;
 * - public access: allUsers or allAuthenticatedUsers in any IAM grant, or a Cloud Run resource
 *   with its IAM check disabled, unless the resource is explicitly marked as a public entry point
 *   (allowPublicInvocation), which only the API is;
 * - a primitive role (owner, editor, viewer) anywhere.
 * It reads what each resource will emit, so it also sees overrides and escape hatches.
 */
import { Annotations, TerraformDataSource, TerraformResource } from 'cdktf';
import type { IAspect } from 'cdktf';
import type { IConstruct } from 'constructs';
import { SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';

export const PRIMITIVE_ROLES: readonly string[] = ['roles/owner', 'roles/editor', 'roles/viewer'];
export const PUBLIC_MEMBERS: readonly string[] = ['allUsers', 'allAuthenticatedUsers'];
const PUBLIC_ENTRY_POINT = 'conveyor:public-entry-point';

/** Marks `resource` as deliberately reachable without Google identity, and says why. */
export function allowPublicInvocation(resource: IConstruct, reason: string): void {
  if (reason.trim().length < 10) throw new Error('a public entry point needs a reason');
  resource.node.addMetadata(PUBLIC_ENTRY_POINT, reason);
}

export function isPublicEntryPoint(resource: IConstruct): boolean {
  return resource.node.metadata.some((entry) => entry.type === PUBLIC_ENTRY_POINT);
}

type Attributes = Record<string, unknown>;

export class PolicyAspect implements IAspect {
  visit(node: IConstruct): void {
    if (!TerraformResource.isTerraformResource(node) && !TerraformDataSource.isTerraformDataSource(node))
      return;
    const element = node;
    const type = element.terraformResourceType;
    const attributes = emittedAttributes(element);
    const address = `${TerraformDataSource.isTerraformDataSource(node) ? 'data.' : ''}${type}.${element.friendlyUniqueId}`;
    const label = typeof attributes.name === 'string' ? `${address} ("${attributes.name}")` : address;
    for (const problem of violations(type, attributes, node)) {
      Annotations.of(node).addError(`policy: ${label}: ${problem}`);
    }
  }
}

function emittedAttributes(element: TerraformResource | TerraformDataSource): Attributes {
  const emitted = element.toTerraform() as {
    resource?: Record<string, Record<string, Attributes>>;
    data?: Record<string, Record<string, Attributes>>;
  };
  const block = emitted.resource ?? emitted.data ?? {};
  return block[element.terraformResourceType]?.[element.friendlyUniqueId] ?? {};
}

function violations(type: string, attributes: Attributes, node: IConstruct): string[] {
  const problems: string[] = [];
  if (type === 'google_pubsub_subscription') problems.push(...subscriptionViolations(attributes));
  if (/_iam_(member|binding)$/.test(type)) {
    const members = [attributes.member, ...asArray(attributes.members)];
    problems.push(...grantViolations(String(attributes.role), members));
  }
  if (type === 'google_iam_policy') {
    for (const binding of asArray(attributes.binding) as Attributes[])
      problems.push(...grantViolations(String(binding.role), asArray(binding.members)));
  }
  if (
    (type === 'google_cloud_run_v2_service' || type === 'google_cloud_run_v2_job') &&
    attributes.invoker_iam_disabled === true &&
    !isPublicEntryPoint(node)
  ) {
    problems.push('IAM invoker check disabled (public) without allowPublicInvocation');
  }
  return problems;
}

function subscriptionViolations(attributes: Attributes): string[] {
  if (isSet(block(attributes.dead_letter_policy).dead_letter_topic)) return [];
  if (isSet(block(attributes.push_config).push_endpoint))
    return ['push subscription without a dead-letter policy'];
  const exempt = SUBSCRIPTIONS.some((spec) => spec.name === attributes.name && 'exempt' in spec.deadLetter);
  return exempt ? [] : ['subscription without a dead-letter policy, and not exempt in the catalogue'];
}

function grantViolations(role: string, members: unknown[]): string[] {
  const problems: string[] = [];
  if (PRIMITIVE_ROLES.includes(role)) problems.push(`primitive role ${role}`);
  for (const member of members)
    if (typeof member === 'string' && PUBLIC_MEMBERS.includes(member))
      problems.push(`public member ${member} (role ${role})`);
  return problems;
}

/** A nested block as emitted: an object, or a one-element list of it. */
function block(value: unknown): Attributes {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return first !== null && typeof first === 'object' ? (first as Attributes) : {};
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}
