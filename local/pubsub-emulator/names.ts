/**
 * Resource names: `projects/{project}/{collection}/{id}`. An id starts with a letter, has only
 * `[A-Za-z0-9-_.~+%]`, is 3–255 characters long and does not start with "goog"
 * (google/pubsub/v1/pubsub.proto, Topic.name and Subscription.name).
 */
import { invalidArgument } from './errors.ts';

export type Collection = 'topics' | 'subscriptions' | 'snapshots' | 'schemas';

export interface ResourceName {
  readonly project: string;
  readonly id: string;
  readonly name: string;
}

const ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
const PROJECT = /^[^/\s]{1,100}$/;
const singular: Record<Collection, string> = {
  topics: 'topic',
  subscriptions: 'subscription',
  snapshots: 'snapshot',
  schemas: 'schema',
};

/** The sentinel a subscription's `topic` becomes once its topic is deleted. */
export const DELETED_TOPIC = '_deleted-topic_';

/** Parses and validates a resource name, or throws INVALID_ARGUMENT saying what is wrong. */
export function parseName(collection: Collection, name: unknown): ResourceName {
  const what = singular[collection];
  if (typeof name !== 'string' || name.length === 0) throw invalidArgument(`Missing ${what} name.`);
  const parts = name.split('/');
  if (parts.length !== 4 || parts[0] !== 'projects' || parts[2] !== collection || !PROJECT.test(parts[1]!)) {
    throw invalidArgument(
      `Invalid ${what} name: "${name}" (expected projects/{project}/${collection}/{id}).`,
    );
  }
  const id = parts[3]!;
  if (!ID.test(id) || id.toLowerCase().startsWith('goog')) {
    throw invalidArgument(
      `Invalid ${what} id "${id}": it must start with a letter, be 3-255 characters of [A-Za-z0-9-_.~+%], ` +
        `and not start with "goog".`,
    );
  }
  return { project: parts[1]!, id, name };
}

/** Parses `projects/{project}` (List* requests). */
export function parseProject(value: unknown): string {
  if (typeof value !== 'string') throw invalidArgument('Missing project.');
  const parts = value.split('/');
  if (parts.length !== 2 || parts[0] !== 'projects' || !PROJECT.test(parts[1]!)) {
    throw invalidArgument(`Invalid project: "${value}" (expected projects/{project}).`);
  }
  return parts[1]!;
}

/** The collection a name belongs to, for IAM calls that accept any resource. */
export function collectionOf(name: string): Collection | undefined {
  const collection = name.split('/')[2];
  return collection === 'topics' ||
    collection === 'subscriptions' ||
    collection === 'snapshots' ||
    collection === 'schemas'
    ? collection
    : undefined;
}
