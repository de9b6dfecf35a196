/**
 * `npm run build`: bundles the deployables into dist/ for infra to deploy.
 *
 *   node infra/build/main.ts [api|<function> ...]     (everything by default)
 *
 * Fails, naming each one, when an entry file is missing. Prints the API image tag and each
 * zip's hash; dist/manifest.json records them.
 */
import path from 'node:path';
import { ALL_TARGETS, buildAll, isBuildTarget, MissingEntryError } from './bundle.ts';

const root = path.resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const unknown = args.filter((arg) => !isBuildTarget(arg));
if (unknown.length > 0) {
  console.error(
    `unknown target(s): ${unknown.join(', ')}\nusage: node infra/build/main.ts [${ALL_TARGETS.join('|')} ...]`,
  );
  process.exit(2);
}
const targets = args.filter(isBuildTarget);

try {
  await buildAll(
    { root, distDir: path.join(root, 'dist'), log: (line) => console.log(line) },
    targets.length > 0 ? targets : ALL_TARGETS,
  );
} catch (error) {
  console.error(
    error instanceof MissingEntryError
      ? error.message
      : `build failed: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
}
