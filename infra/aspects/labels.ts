/**
 * Labels every labelable resource with app=conveyor, env=<environment> and component=<part>
 * (from the construct tree, see constructs/component.ts), so cost reports and log queries can be
 * cut by environment and component. A resource is labelable when its provider schema has a
 * `labels` argument; Cloud SQL calls its labels `settings.user_labels`, and Cloud Monitoring's
 * resources `user_labels`: there `labels` means something else (a notification channel's
 * settings, such as its email address; a metric descriptor's label keys) and is left alone.
 */
import { TerraformResource } from 'cdktf';
import type { IAspect } from 'cdktf';
import type { IConstruct } from 'constructs';
import { SqlDatabaseInstance } from '@cdktf/provider-google/lib/sql-database-instance/index.js';
import { componentOf } from '../constructs/component.ts';

export const APP_LABEL = 'conveyor';
/** Resources outside any component (the project data source, providers). */
export const DEFAULT_COMPONENT = 'platform';

type Labels = Record<string, string>;
interface Labelable {
  labels: Labels;
  readonly labelsInput: Labels | undefined;
}
interface UserLabelable {
  userLabels: Labels;
  readonly userLabelsInput: Labels | undefined;
}

/** Resources whose `labels` argument is not their resource labels. */
export const LABELS_ARE_NOT_RESOURCE_LABELS: readonly string[] = [
  'google_monitoring_notification_channel',
  'google_monitoring_metric_descriptor',
];

/** True when the resource's schema has a `labels` argument holding its resource labels. */
export function isLabelable(node: unknown): node is TerraformResource & Labelable {
  return (
    TerraformResource.isTerraformResource(node) &&
    'labelsInput' in node &&
    !LABELS_ARE_NOT_RESOURCE_LABELS.includes(node.terraformResourceType)
  );
}

/** Cloud Monitoring resources (alert policies, channels, services, SLOs) take `user_labels`. */
export function isUserLabelable(node: unknown): node is TerraformResource & UserLabelable {
  return (
    TerraformResource.isTerraformResource(node) &&
    node.terraformResourceType.startsWith('google_monitoring_') &&
    'userLabelsInput' in node
  );
}

const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

export class LabelsAspect implements IAspect {
  private readonly environment: string;

  constructor(environment: string) {
    if (!LABEL_VALUE.test(environment)) throw new Error(`"${environment}" cannot be a label value`);
    this.environment = environment;
  }

  visit(node: IConstruct): void {
    if (!TerraformResource.isTerraformResource(node)) return;
    if (node instanceof SqlDatabaseInstance) {
      node.settings.userLabels = this.labelsFor(node, node.settings.userLabelsInput);
    } else if (isLabelable(node)) {
      node.labels = this.labelsFor(node, node.labelsInput);
    } else if (isUserLabelable(node)) {
      node.userLabels = this.labelsFor(node, node.userLabelsInput);
    }
  }

  private labelsFor(node: IConstruct, existing: Labels | undefined): Labels {
    const component = existing?.component ?? componentOf(node) ?? DEFAULT_COMPONENT;
    if (!LABEL_VALUE.test(component))
      throw new Error(`${node.node.path}: component "${component}" cannot be a label value`);
    return { ...existing, app: APP_LABEL, env: this.environment, component };
  }
}
