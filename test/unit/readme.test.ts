/**
 * The root README's configuration reference names every variable each deployable's config schema
 * reads, and every setting of `npm start`; its relative links point at files that exist. (Its
 * examples run in test/e2e/readme.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apiConfigSchema } from '../../api/config.ts';
import { analyticsConfigSchema } from '../../functions/analytics/config.ts';
import { deadLetterConfigSchema } from '../../functions/dead-letter/config.ts';
import { ingestConfigSchema } from '../../functions/ingest/config.ts';
import { notifierConfigSchema } from '../../functions/notifier/config.ts';
import { sagaConfigSchema } from '../../functions/saga/config.ts';
import { timeoutsConfigSchema } from '../../functions/timeouts/config.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const reference = readme.slice(readme.indexOf('## Configuration reference'), readme.indexOf('## Benchmarks'));

describe('README', () => {
  const schemas = {
    api: apiConfigSchema,
    saga: sagaConfigSchema,
    analytics: analyticsConfigSchema,
    notifier: notifierConfigSchema,
    ingest: ingestConfigSchema,
    'dead-letter': deadLetterConfigSchema,
    timeouts: timeoutsConfigSchema,
  };
  for (const [name, schema] of Object.entries(schemas)) {
    it(`the configuration reference names every variable of ${name}`, () => {
      const missing = Object.keys(schema.shape).filter((variable) => !reference.includes(`\`${variable}\``));
      assert.deepEqual(missing, []);
    });
  }

  it('names every setting of npm start (local/launcher/main.ts)', () => {
    const launcher = readFileSync(path.join(ROOT, 'local/launcher/main.ts'), 'utf8');
    const settings = [...launcher.matchAll(/^ {2}([A-Z][A-Z0-9_]+): /gm)].map((match) => match[1]!);
    assert.ok(settings.length > 10);
    assert.deepEqual(
      settings.filter((variable) => !reference.includes(`\`${variable}\``)),
      [],
    );
  });

  it('links only to files that exist', () => {
    const links = [...readme.matchAll(/\]\(((?!https?:|#)[^)#\s]+)(#[^)]*)?\)/g)].map((match) => match[1]!);
    assert.ok(links.length > 5);
    assert.deepEqual(
      links.filter((link) => !existsSync(path.join(ROOT, link))),
      [],
    );
  });
});
