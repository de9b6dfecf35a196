/**
 * Builds the deployables with esbuild: the API image context (dist/api) and one source zip per
 * function (dist/functions/<name>.zip), each a single ESM bundle with source map, plus a
 * package.json naming only the externals (externals.ts) at the versions installed here.
 * Output is deterministic: the same sources give byte-identical files, so content hashes change
 * only when the code does.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { zipSync } from 'fflate';
import type { Zippable } from 'fflate';
import { FUNCTION } from '#shared/contracts/catalogue.ts';
import type { FunctionName } from '#shared/contracts/catalogue.ts';
import {
  DIRNAME_TOLERATED,
  EXTERNAL_PACKAGES,
  FUNCTION_RUNTIME_DEPENDENCIES,
  NEVER_INSTALLED,
  packageOf,
} from './externals.ts';
import { hashDirectory, hashFile, shortHash } from './hash.ts';
import { API_BUNDLE, distLayout } from './layout.ts';

export const API_TARGET = 'api';
export type BuildTarget = typeof API_TARGET | FunctionName;
export const ALL_TARGETS: readonly BuildTarget[] = [API_TARGET, ...Object.values(FUNCTION)];

export interface BuildOptions {
  /** Project root: sources, package.json, node_modules. */
  root: string;
  /** Output directory (dist). */
  distDir: string;
  log?: (line: string) => void;
}

export interface Manifest {
  api?: { dir: string; tag: string; sha256: string; externals: Record<string, string> };
  functions: Partial<
    Record<FunctionName, { zip: string; sha256: string; externals: Record<string, string> }>
  >;
}

export class MissingEntryError extends Error {
  readonly missing: readonly string[];
  constructor(missing: string[]) {
    super(
      `cannot build: missing entry file(s)\n${missing.map((line) => `  ${line}`).join('\n')}\n` +
        'Build only what exists by naming targets, e.g. `npm run build -- api saga`.',
    );
    this.name = 'MissingEntryError';
    this.missing = missing;
  }
}

/** The entry files of one target, relative to the root, with what each is. */
export function entriesOf(target: BuildTarget): { file: string; role: string }[] {
  if (target === API_TARGET)
    return [
      { file: 'api/server.ts', role: 'the API server' },
      { file: 'api/migrate.ts', role: 'the migration job' },
    ];
  return [{ file: `functions/${target}/index.ts`, role: `function ${target}` }];
}

export function isBuildTarget(value: string): value is BuildTarget {
  return (ALL_TARGETS as readonly string[]).includes(value);
}

/**
 * Builds `targets` (all by default) after checking that every entry exists; throws
 * MissingEntryError naming each missing one before building anything. Updates dist/manifest.json.
 */
export async function buildAll(
  options: BuildOptions,
  targets: readonly BuildTarget[] = ALL_TARGETS,
): Promise<Manifest> {
  const missing = targets.flatMap((target) =>
    entriesOf(target)
      .filter((entry) => !existsSync(path.join(options.root, entry.file)))
      .map((entry) => `${entry.file} (${entry.role})`),
  );
  if (missing.length > 0) throw new MissingEntryError(missing);

  const layout = distLayout(options.distDir);
  const manifest = readManifest(layout.manifest);
  for (const target of targets) {
    if (target === API_TARGET) manifest.api = await buildApi(options);
    else manifest.functions[target] = await buildFunction(target, options);
  }
  mkdirSync(layout.root, { recursive: true });
  writeFileSync(layout.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * dist/api: server.js, migrate.js (+ maps), migrations/, console/ (the operations console, built
 * if stale by api/console/build.ts), package.json, and api/Dockerfile if present.
 */
export async function buildApi(options: BuildOptions): Promise<NonNullable<Manifest['api']>> {
  const { root } = options;
  const dir = distLayout(options.distDir).api;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const metafile = await bundle(root, {
    entryPoints: {
      [path.basename(API_BUNDLE.server, '.js')]: path.join(root, 'api/server.ts'),
      [path.basename(API_BUNDLE.migrate, '.js')]: path.join(root, 'api/migrate.ts'),
    },
    outdir: dir,
  });
  // shared/store/migrate.ts looks for migrations/ beside the bundled module.
  cpSync(path.join(root, 'shared/store/migrations'), path.join(dir, API_BUNDLE.migrations), {
    recursive: true,
  });
  await copyConsole(options, path.join(dir, API_BUNDLE.console));
  const dockerfile = path.join(root, 'api/Dockerfile');
  if (existsSync(dockerfile)) copyFileSync(dockerfile, path.join(dir, 'Dockerfile'));
  else options.log?.('warning: api/Dockerfile not found; dist/api has no Dockerfile to build the image with');

  const externals = externalsOf(root, metafile, []);
  writeJson(path.join(dir, 'package.json'), {
    name: 'conveyor-api',
    private: true,
    type: 'module',
    main: API_BUNDLE.server,
    scripts: { start: `node ${API_BUNDLE.server}`, migrate: `node ${API_BUNDLE.migrate}` },
    dependencies: externals,
  });
  const sha256 = hashDirectory(dir);
  options.log?.(`api: ${path.relative(root, dir)} (image tag ${shortHash(sha256)})`);
  return { dir: path.relative(options.distDir, dir), tag: shortHash(sha256), sha256, externals };
}

/** The built console into the image context, building it first if its sources changed. */
async function copyConsole(options: BuildOptions, into: string): Promise<void> {
  const builder = path.join(options.root, 'api/console/build.ts');
  if (!existsSync(builder)) {
    options.log?.('warning: api/console not found; the API image serves no operations console');
    return;
  }
  const built = (await import(builder)) as {
    ensureConsoleBuilt(): Promise<'current' | 'built'>;
    CONSOLE_OUTPUT: string;
  };
  const result = await built.ensureConsoleBuilt();
  const where = path.relative(options.root, built.CONSOLE_OUTPUT);
  options.log?.(`console: ${result === 'built' ? 'built' : 'up to date'} (${where})`);
  cpSync(built.CONSOLE_OUTPUT, into, {
    recursive: true,
    // The build's own bookkeeping stays out of the image.
    filter: (source) => !path.basename(source).startsWith('.'),
  });
}

/** dist/functions/<name>.zip holding index.js, its map, and package.json (main + dependencies). */
export async function buildFunction(
  name: FunctionName,
  options: BuildOptions,
): Promise<Manifest['functions'][FunctionName] & object> {
  const { root } = options;
  const layout = distLayout(options.distDir);
  const staging = path.join(layout.functions, name);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const metafile = await bundle(root, {
    entryPoints: { index: path.join(root, 'functions', name, 'index.ts') },
    outdir: staging,
  });
  const externals = externalsOf(root, metafile, FUNCTION_RUNTIME_DEPENDENCIES);
  writeJson(path.join(staging, 'package.json'), {
    name: `conveyor-${name}`,
    version: '0.0.0',
    private: true,
    type: 'module',
    main: 'index.js',
    dependencies: externals,
  });

  const zip = layout.functionZip(name);
  writeFileSync(zip, zipDirectory(staging, ['index.js', 'index.js.map', 'package.json']));
  const sha256 = hashFile(zip);
  options.log?.(`${name}: ${path.relative(root, zip)} (${shortHash(sha256)})`);
  return { zip: path.relative(options.distDir, zip), sha256, externals };
}

/** DOS timestamps are local time: a date built from local fields zips identically in any zone. */
const FIXED_MTIME = new Date(1980, 0, 2, 0, 0, 0);

function zipDirectory(dir: string, files: readonly string[]): Uint8Array {
  const entries: Zippable = {};
  for (const file of files) {
    const source = path.join(dir, file);
    if (existsSync(source)) entries[file] = [readFileSync(source), { mtime: FIXED_MTIME }];
  }
  return zipSync(entries, { level: 9, mtime: FIXED_MTIME });
}

const REQUIRE_SHIM =
  // Bundled CommonJS packages call require() for Node built-ins, which ESM lacks.
  "import { createRequire as __conveyorCreateRequire } from 'node:module';\n" +
  'const require = __conveyorCreateRequire(import.meta.url);';

async function bundle(
  root: string,
  options: { entryPoints: Record<string, string>; outdir: string },
): Promise<Metafile> {
  const result = await build({
    entryPoints: options.entryPoints,
    outdir: options.outdir,
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: 'linked',
    // Source paths in maps relative to the output, without the machine's absolute paths.
    sourceRoot: '',
    external: [...Object.keys(EXTERNAL_PACKAGES), ...Object.keys(NEVER_INSTALLED)],
    banner: { js: REQUIRE_SHIM },
    metafile: true,
    logLevel: 'silent',
  });
  for (const output of Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js'))) {
    const file = path.resolve(root, output);
    const offenders = packagesUsingDirname(readFileSync(file, 'utf8')).filter(
      (name) => !(name in DIRNAME_TOLERATED),
    );
    if (offenders.length > 0)
      throw new Error(
        `${path.relative(root, file)}: bundled ${offenders.join(', ')} use(s) __dirname/__filename, which an ESM ` +
          'bundle does not have (usually to read files shipped in the package): add to EXTERNAL_PACKAGES in ' +
          'infra/build/externals.ts, or to DIRNAME_TOLERATED with the reason it is never reached',
      );
  }
  return result.metafile;
}

/** Packages whose bundled code mentions __dirname/__filename, from esbuild's `// node_modules/…` markers. */
export function packagesUsingDirname(code: string): string[] {
  const found = new Set<string>();
  let current: string | undefined;
  for (const line of code.split('\n')) {
    const source = /^\/\/ (\S+\.(?:[cm]?[jt]sx?|json))$/.exec(line)?.[1];
    if (source) current = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(source)?.[1];
    else if (current && /\b__(dirname|filename)\b/.test(line)) found.add(current);
  }
  return [...found].sort();
}

/** The external packages the bundle imports (plus `always`), pinned to the installed versions. */
function externalsOf(root: string, metafile: Metafile, always: readonly string[]): Record<string, string> {
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  const imported = Object.values(metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((entry) => entry.external && !builtins.has(entry.path) && !entry.path.startsWith('node:'))
    .map((entry) => packageOf(entry.path))
    .filter((name) => !(name in NEVER_INSTALLED));
  const names = [...new Set([...always, ...imported])].sort();
  const unexpected = names.filter((name) => !(name in EXTERNAL_PACKAGES));
  if (unexpected.length > 0) throw new Error(`unexpected external import(s): ${unexpected.join(', ')}`);
  return Object.fromEntries(names.map((name) => [name, installedVersion(root, name)]));
}

function installedVersion(root: string, name: string): string {
  const file = path.join(root, 'node_modules', name, 'package.json');
  if (!existsSync(file)) throw new Error(`${name} is external but not installed (npm install)`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function readManifest(file: string): Manifest {
  if (!existsSync(file)) return { functions: {} };
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Manifest>;
  return { ...parsed, functions: parsed.functions ?? {} };
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
