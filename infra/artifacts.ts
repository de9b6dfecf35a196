/**
 * The build artifacts a stack deploys, found in dist/ and named by content hash. Synth works
 * before a build (the names then say `unbuilt` and a warning says what is missing) so that the
 * infrastructure can be reviewed and tested on its own; `--require-artifacts` makes it an error.
 */
import { existsSync } from 'node:fs';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import type { FunctionName } from '#shared/contracts/catalogue.ts';
import { hashDirectory, hashFile, shortHash } from './build/hash.ts';
import { distLayout } from './build/layout.ts';

export interface FunctionArtifact {
  /** Absolute path of the source zip. */
  zip: string;
  /** Hex SHA-256 of the zip; undefined when it has not been built. */
  sha256: string | undefined;
}

export interface Artifacts {
  api: {
    contextDir: string;
    /** Image tag: short content hash of the image context; undefined when not built. */
    tag: string | undefined;
    /** A full image reference to deploy instead (CONVEYOR_API_IMAGE), e.g. one CI pushed. */
    imageOverride?: string | undefined;
  };
  functions: Readonly<Record<FunctionName, FunctionArtifact>>;
  /** Human-readable list of what is missing, empty when everything is built. */
  missing: readonly string[];
}

export function findArtifacts(distDir: string, options: { apiImage?: string | undefined } = {}): Artifacts {
  const layout = distLayout(distDir);
  const missing: string[] = [];
  const apiBuilt = existsSync(layout.api);
  if (!apiBuilt && !options.apiImage) missing.push(`${layout.api} (API image context)`);
  const functions = {} as Record<FunctionName, FunctionArtifact>;
  for (const name of Object.values(FUNCTION)) {
    const zip = layout.functionZip(name);
    const built = existsSync(zip);
    if (!built) missing.push(zip);
    functions[name] = { zip, sha256: built ? hashFile(zip) : undefined };
  }
  return {
    api: {
      contextDir: layout.api,
      tag: apiBuilt ? shortHash(hashDirectory(layout.api)) : undefined,
      imageOverride: options.apiImage,
    },
    functions,
    missing,
  };
}
