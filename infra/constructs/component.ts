/**
 * The `component` label of a resource: which part of Conveyor it belongs to. A construct names
 * its component once; every resource below it inherits the name (construct context), and the
 * labels aspect writes it out.
 */
import { Construct } from 'constructs';
import type { IConstruct } from 'constructs';

export const COMPONENT_CONTEXT = 'conveyor:component';

/** Names the component of everything `scope` will contain; call before adding children. */
export function setComponent(scope: IConstruct, component: string): void {
  scope.node.setContext(COMPONENT_CONTEXT, component);
}

/** A child scope whose resources belong to `component` (e.g. one function inside compute). */
export function componentScope(scope: Construct, id: string, component: string): Construct {
  const child = new Construct(scope, id);
  setComponent(child, component);
  return child;
}

export function componentOf(node: IConstruct): string | undefined {
  const value: unknown = node.node.tryGetContext(COMPONENT_CONTEXT);
  return typeof value === 'string' ? value : undefined;
}
