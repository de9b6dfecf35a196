/**
 * Builds the operations console (api/console: Preact + Vite) into dist/console, which the API
 * serves at /console. Fast when nothing changed: the output carries a hash of every input (the
 * sources, this file, the Vite and Preact versions installed), and a build happens only when that
 * hash differs, so `npm start`, `npm test`, the browser tests and `npm run build` can all ask for it.
 * Builds from several processes at once are serialised by a lock directory; each writes into a
 * scratch directory and renames it into place, so a reader never sees half an output.
 *
 *   node api/console/build.ts          # build if stale
 *   node api/console/build.ts --force  # build anyway
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InlineConfig } from 'vite';

export const CONSOLE_SOURCE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(CONSOLE_SOURCE, '../..');
/** Where the built console goes (the API's default console directory when run from source). */
export const CONSOLE_OUTPUT = path.join(ROOT, 'dist', 'console');
const HASH_FILE = '.source-hash';
const LOCK = path.join(ROOT, 'dist', '.console-build.lock');
/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 120_000;

/** The console's Vite configuration; the public path is /console/ (the API's mount). */
export function consoleViteConfig(outDir = CONSOLE_OUTPUT): InlineConfig {
  return {
    configFile: false,
    root: CONSOLE_SOURCE,
    base: '/console/',
    logLevel: 'warn',
    // Preact's automatic JSX runtime (tsconfig says the same for type checking).
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
      // One small app: no chunk warnings, no inline assets (the API's CSP allows only 'self').
      assetsInlineLimit: 0,
      chunkSizeWarningLimit: 300,
    },
  };
}

/** A hash of everything the output is made from. */
export async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = [
    ...(await listFiles(path.join(CONSOLE_SOURCE, 'src'))),
    path.join(CONSOLE_SOURCE, 'index.html'),
    fileURLToPath(import.meta.url),
  ].sort();
  for (const file of files) {
    hash
      .update(path.relative(ROOT, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  }
  for (const name of ['vite', 'preact']) hash.update(`${name}@${installedVersion(name)}\0`);
  return hash.digest('hex');
}

/** Whether dist/console holds a build of the current sources. */
export async function consoleIsCurrent(output = CONSOLE_OUTPUT): Promise<boolean> {
  const built = await readFile(path.join(output, HASH_FILE), 'utf8').catch(() => '');
  return built.trim() === (await sourceHash()) && existsSync(path.join(output, 'index.html'));
}

/**
 * Builds the console unless the output is current. Resolves with what happened, once dist/console
 * holds a build of the current sources (by this process or another one holding the lock).
 */
export async function ensureConsoleBuilt(
  options: { force?: boolean; output?: string } = {},
): Promise<'current' | 'built'> {
  const output = options.output ?? CONSOLE_OUTPUT;
  if (!options.force && (await consoleIsCurrent(output))) return 'current';
  await mkdir(path.dirname(LOCK), { recursive: true });
  await acquireLock();
  try {
    if (!options.force && (await consoleIsCurrent(output))) return 'current';
    const hash = await sourceHash();
    const scratch = `${output}.tmp-${process.pid}`;
    await rm(scratch, { recursive: true, force: true });
    const { build } = await import('vite');
    await build(consoleViteConfig(scratch));
    await writeFile(path.join(scratch, HASH_FILE), `${hash}\n`);
    await rm(output, { recursive: true, force: true });
    await rename(scratch, output);
    return 'built';
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

async function acquireLock(): Promise<void> {
  const deadline = Date.now() + STALE_LOCK_MS * 2;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(path.join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = Date.now() - ((await stat(LOCK).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age > STALE_LOCK_MS) {
      await rm(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the console build lock ${LOCK} is held too long`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else files.push(full);
  }
  return files;
}

function installedVersion(name: string): string {
  try {
    const manifest = readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(manifest) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const result = await ensureConsoleBuilt({ force: process.argv.includes('--force') });
  const took = Math.round(performance.now() - started);
  console.log(
    result === 'built'
      ? `console built into ${path.relative(process.cwd(), CONSOLE_OUTPUT)} in ${took} ms`
      : `console up to date (${path.relative(process.cwd(), CONSOLE_OUTPUT)})`,
  );
}
