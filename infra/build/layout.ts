/**
 * Where `npm run build` writes the deployables and where infra looks for them. The API image
 * context is a directory (Dockerfile, bundles, migrations); each function is one source zip.
 */
import path from 'node:path';
import type { FunctionName } from '#shared/contracts/catalogue.ts';

export interface DistLayout {
  root: string;
  /** The API image context: server.js, migrate.js, migrations/, package.json, Dockerfile. */
  api: string;
  functions: string;
  functionZip(name: FunctionName): string;
  /** Hashes and tags of the last build (dist/manifest.json). */
  manifest: string;
}

export function distLayout(distDir: string): DistLayout {
  const root = path.resolve(distDir);
  return {
    root,
    api: path.join(root, 'api'),
    functions: path.join(root, 'functions'),
    functionZip: (name) => path.join(root, 'functions', `${name}.zip`),
    manifest: path.join(root, 'manifest.json'),
  };
}

/** In the API image: the bundle the container starts, the migration job's, and the console it serves. */
export const API_BUNDLE = {
  server: 'server.js',
  migrate: 'migrate.js',
  migrations: 'migrations',
  console: 'console',
} as const;
