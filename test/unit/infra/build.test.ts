/**
 * The deployables build, on a fixture project: the real entries (api/server.ts,
 * functions/<name>/index.ts) are written by others and may not exist yet, so the fixture stands
 * in for them, sharing this repository's node_modules and shared/ through symlinks.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { unzipSync } from 'fflate';
import { findArtifacts } from '../../../infra/artifacts.ts';
import {
  ALL_TARGETS,
  buildAll,
  entriesOf,
  MissingEntryError,
  packagesUsingDirname,
} from '../../../infra/build/bundle.ts';
import type { BuildOptions, Manifest } from '../../../infra/build/bundle.ts';
import { EXTERNAL_PACKAGES, FUNCTION_RUNTIME_DEPENDENCIES } from '../../../infra/build/externals.ts';
import { hashFile, listFiles } from '../../../infra/build/hash.ts';
import { tempDir } from './synth.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const installed = (name: string) =>
  (
    JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

function fixtureProject(): string {
  const root = tempDir('build');
  writeFileSync(
    path.join(root, 'package.json'),
    JSON.stringify({ type: 'module', imports: { '#shared/*': './shared/*' } }),
  );
  symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  symlinkSync(path.join(repo, 'shared'), path.join(root, 'shared'), 'dir');
  mkdirSync(path.join(root, 'api'));
  writeFileSync(
    path.join(root, 'api/server.ts'),
    "import { TOPIC } from '#shared/contracts/catalogue.ts';\nconsole.log(TOPIC.orderEvents);\n",
  );
  copyFileSync(path.join(repo, 'api/migrate.ts'), path.join(root, 'api/migrate.ts'));
  writeFileSync(
    path.join(root, 'api/Dockerfile'),
    'FROM node:22-slim\nWORKDIR /app\nCOPY . .\nCMD ["node", "server.js"]\n',
  );
  mkdirSync(path.join(root, 'functions/saga'), { recursive: true });
  writeFileSync(
    path.join(root, 'functions/saga/index.ts'),
    [
      "import * as functions from '@google-cloud/functions-framework';",
      "import { PubSub } from '@google-cloud/pubsub';",
      "import { z } from 'zod';",
      "import { TOPIC } from '#shared/contracts/catalogue.ts';",
      'const Push = z.object({ message: z.object({ messageId: z.string() }) });',
      'export const client = () => new PubSub();',
      "functions.http('saga', (req, res) => {",
      '  res.json({ topic: TOPIC.orderEvents, id: Push.parse(req.body).message.messageId });',
      '});',
      '',
    ].join('\n'),
  );
  return root;
}

const root = fixtureProject();
const options: BuildOptions = { root, distDir: path.join(root, 'dist') };
const zipOf = (name: string) => path.join(root, 'dist/functions', `${name}.zip`);

describe('npm run build', () => {
  it('names every missing entry and builds nothing', async () => {
    await assert.rejects(buildAll(options, ['saga', 'analytics', 'ingest']), (error: Error) => {
      assert.ok(error instanceof MissingEntryError);
      assert.deepEqual(error.missing, [
        'functions/analytics/index.ts (function analytics)',
        'functions/ingest/index.ts (function ingest)',
      ]);
      assert.match(error.message, /functions\/analytics\/index\.ts/);
      return true;
    });
    assert.ok(!existsSync(options.distDir));
  });

  describe('built', () => {
    let manifest: Manifest;
    let firstZipHash: string;
    before(async () => {
      manifest = await buildAll(options, ['api', 'saga']);
      firstZipHash = hashFile(zipOf('saga'));
    });

    it('makes the API image context: bundles, migrations beside them, package.json, Dockerfile', () => {
      const dir = path.join(options.distDir, 'api');
      const migrations = readdirSync(path.join(repo, 'shared/store/migrations')).map(
        (f) => `migrations/${f}`,
      );
      assert.deepEqual(
        listFiles(dir),
        [
          'Dockerfile',
          'migrate.js',
          'migrate.js.map',
          ...migrations,
          'package.json',
          'server.js',
          'server.js.map',
        ].sort(),
      );
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      assert.equal(pkg.type, 'module');
      assert.equal(pkg.main, 'server.js');
      assert.deepEqual(pkg.dependencies, {}, 'fully bundled: nothing to install');
      assert.equal(
        manifest.api?.tag,
        findArtifacts(options.distDir).api.tag,
        'infra tags the image as the build does',
      );
    });

    it('zips a function: index.js, its source map and package.json with main and dependencies', () => {
      const files = unzipSync(readFileSync(zipOf('saga')));
      assert.deepEqual(Object.keys(files).sort(), ['index.js', 'index.js.map', 'package.json']);
      const pkg = JSON.parse(Buffer.from(files['package.json']!).toString('utf8'));
      assert.equal(pkg.main, 'index.js');
      assert.equal(pkg.type, 'module');
      assert.deepEqual(pkg.dependencies, {
        '@google-cloud/functions-framework': installed('@google-cloud/functions-framework'),
        '@google-cloud/pubsub': installed('@google-cloud/pubsub'),
      });
    });

    it('bundles everything but the listed externals', () => {
      const code = readFileSync(path.join(options.distDir, 'functions/saga/index.js'), 'utf8');
      const imported = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]!);
      for (const specifier of imported)
        assert.ok(
          specifier.startsWith('node:') || specifier in EXTERNAL_PACKAGES,
          `${specifier} is not bundled`,
        );
      assert.ok(!imported.includes('zod'));
      assert.match(code, /order-events/, 'the catalogue is inlined');
    });

    it('records the hashes infra deploys by, and builds byte-identical zips', async () => {
      assert.equal(manifest.functions.saga?.sha256, firstZipHash);
      assert.equal(findArtifacts(options.distDir).functions.saga.sha256, firstZipHash);
      await buildAll(options, ['saga']);
      assert.equal(hashFile(zipOf('saga')), firstZipHash, 'same sources, same bytes');
    });

    it('registers the handler with the functions framework, as the runtime will load it', async () => {
      await import(pathToFileURL(path.join(options.distDir, 'functions/saga/index.js')).href);
      const server = getTestServer('saga');
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const response = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            message: { messageId: 'm-1' },
            subscription: 'projects/p/subscriptions/saga',
          }),
        });
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), { topic: 'order-events', id: 'm-1' });
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('changes the hash when the code changes', async () => {
      const entry = path.join(root, 'functions/saga/index.ts');
      writeFileSync(entry, `${readFileSync(entry, 'utf8')}console.log('changed');\n`);
      await buildAll(options, ['saga']);
      assert.notEqual(hashFile(zipOf('saga')), firstZipHash);
    });
  });

  it('finds packages that look for files beside themselves, which bundling breaks', () => {
    const code = [
      '// node_modules/@fastify/swagger-ui/lib/routes.js',
      'function routes() {',
      '  // serve the UI',
      '  const root = path.join(__dirname, "..", "static");',
      '}',
      '// node_modules/zod/v4/core/core.js',
      'var x = 1;',
      '// shared/config/index.ts',
      'const __dirnameLike = 2;',
    ].join('\n');
    assert.deepEqual(packagesUsingDirname(code), ['@fastify/swagger-ui']);
  });

  describe('the real deployables, where their entries exist', () => {
    const dist = tempDir('real-dist');
    for (const target of ALL_TARGETS) {
      const missing = entriesOf(target).filter((entry) => !existsSync(path.join(repo, entry.file)));
      it(
        `builds ${target}`,
        { skip: missing.length > 0 && `not written yet: ${missing.map((m) => m.file).join(', ')}` },
        async () => {
          const manifest = await buildAll({ root: repo, distDir: dist }, [target]);
          if (target === 'api') {
            for (const name of Object.keys(manifest.api!.externals))
              assert.ok(name in EXTERNAL_PACKAGES, name);
            assert.ok(existsSync(path.join(dist, 'api/migrations')));
          } else {
            const entry = manifest.functions[target]!;
            for (const name of FUNCTION_RUNTIME_DEPENDENCIES) assert.ok(name in entry.externals, name);
            const pkg = JSON.parse(
              Buffer.from(unzipSync(readFileSync(path.join(dist, entry.zip)))['package.json']!).toString(),
            );
            assert.equal(pkg.main, 'index.js');
          }
        },
      );
    }
  });
});
