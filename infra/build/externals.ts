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
  '@fastify/swagger-ui':
    'serves the Swagger UI files from its own static/ folder, found through __dirname (bundled, the ' +
    'API fails on start)',
  '@fastify/swagger': 'reads its own package.json through __dirname',
};

/** Optional requires inside bundled packages, left unresolved and never installed. */
export const NEVER_INSTALLED: Readonly<Record<string, string>> = {
  'pg-native': 'pg requires it only when pg.native is used, which Conveyor does not',
};

/**
 * Bundled packages that mention __dirname / __filename (undefined in an ESM bundle) without
 * needing them in Conveyor; any other package that does fails the build (see bundle.ts).
 */
export const DIRNAME_TOLERATED: Readonly<Record<string, string>> = {
  pino: 'only for transports (worker threads); Conveyor logs JSON to stdout without one',
  'thread-stream': "pino's transport worker, unused for the same reason",
  jiti: 'the word appears inside generated code text (node-pg-migrate loads no TypeScript migrations)',
  '@grpc/grpc-js':
    'pulled in by the Cloud Trace exporter; __dirname appears only where the channelz and ORCA ' +
    'service descriptors are loaded, which serve those services and are never reached by a client',
};

/** Every function's package.json depends on the framework, whether or not its code imports it. */
export const FUNCTION_RUNTIME_DEPENDENCIES: readonly string[] = ['@google-cloud/functions-framework'];

/** The package an import specifier names: `@scope/name/sub` → `@scope/name`, `pkg/sub` → `pkg`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
