import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startProcess } from '../../helpers/processes.ts';

/** Runs the migration job's entry point with exactly `env` and returns how it ended. */
async function runMigrate(env: Record<string, string>) {
  const child = startProcess(process.execPath, ['api/migrate.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  await new Promise((resolve) => child.child.once('exit', resolve));
  return { code: child.child.exitCode, output: child.output() };
}

describe('an entry point with bad configuration', () => {
  const cases: { name: string; env: Record<string, string>; expect: RegExp }[] = [
    { name: 'missing DATABASE_URL', env: {}, expect: /DATABASE_URL: required but not set/ },
    {
      name: 'malformed DATABASE_URL',
      env: { DATABASE_URL: 'not a url' },
      expect: /DATABASE_URL: expected a postgres:\/\/ connection URL/,
    },
    {
      name: 'malformed PG_POOL_MAX beside a good URL',
      env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db', PG_POOL_MAX: 'lots' },
      expect: /PG_POOL_MAX:/,
    },
  ];
  for (const { name, env, expect } of cases) {
    it(`exits 78 naming the variable: ${name}`, async () => {
      const { code, output } = await runMigrate(env);
      assert.equal(code, 78, output);
      assert.match(output, expect);
      assert.match(output, /^migrate: invalid configuration/m);
    });
  }
});
