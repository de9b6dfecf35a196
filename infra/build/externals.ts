/**
 * What the bundles leave out, and why. Everything else (our code, zod, pg, pino, …) is bundled,
 * so a deployable is one file plus, at most, the few packages below, which the Cloud Functions
 * buildpack (or the API's Dockerfile) installs from the generated package.json.
 */

/** Installed at deploy time, at the exact version this repository resolved. */
export const EXTERNAL_PACKAGES: Readonly<Record<string, string>> = {
  '@google-cloud/functions-framework':
    'the runtime loads the function through its own copy of the framework and finds handlers in ' +
    "that copy's registry: a bundled second copy would register where nobody looks",
  '@google-cloud/pubsub':
    'google-gax locates its .proto/.json descriptors relative to its own files (__dirname) at ' +
    'run time; bundled, it fails on load',
  '@google-cloud/bigquery': 'a Google client library like @google-cloud/pubsub: kept whole, as published',
};

/** Optional requires inside bundled packages, left unresolved and never installed. */
export const NEVER_INSTALLED: Readonly<Record<string, string>> = {
  'pg-native': 'pg requires it only when pg.native is used, which Conveyor does not',
};

/** Every function's package.json depends on the framework, whether or not its code imports it. */
export const FUNCTION_RUNTIME_DEPENDENCIES: readonly string[] = ['@google-cloud/functions-framework'];

/** The package an import specifier names: `@scope/name/sub` → `@scope/name`, `pkg/sub` → `pkg`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
