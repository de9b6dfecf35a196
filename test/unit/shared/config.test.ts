import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { databaseConfig, flag, parseConfig, port } from '#shared/config/index.ts';
import { ConfigError } from '#shared/errors.ts';

const schema = databaseConfig.extend({ API_PORT: port(8080), VERBOSE: flag(false), NAME: z.string().min(2) });
const valid = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', NAME: 'conveyor' };

describe('parseConfig', () => {
  const accepted = [
    {
      name: 'defaults fill what is unset',
      env: valid,
      expect: { API_PORT: 8080, VERBOSE: false, PG_POOL_MAX: 10 },
    },
    {
      name: 'numbers are coerced',
      env: { ...valid, API_PORT: '9000', PG_POOL_MAX: '3' },
      expect: { API_PORT: 9000, PG_POOL_MAX: 3 },
    },
    { name: 'flags read yes/no', env: { ...valid, VERBOSE: 'yes' }, expect: { VERBOSE: true } },
    { name: 'an empty string counts as unset', env: { ...valid, API_PORT: '' }, expect: { API_PORT: 8080 } },
    {
      name: 'postgresql:// is accepted',
      env: { ...valid, DATABASE_URL: 'postgresql://h/db' },
      expect: { DATABASE_URL: 'postgresql://h/db' },
    },
  ];
  for (const { name, env, expect } of accepted) {
    it(name, () => {
      const config = parseConfig(schema, env);
      for (const [key, value] of Object.entries(expect))
        assert.equal(config[key as keyof typeof config], value);
      assert.ok(Object.isFrozen(config));
    });
  }

  const rejected = [
    { name: 'missing variable', env: { NAME: 'conveyor' }, problems: ['DATABASE_URL: required but not set'] },
    {
      name: 'malformed URL',
      env: { ...valid, DATABASE_URL: 'mysql://x' },
      problems: ['DATABASE_URL: expected a postgres:// connection URL'],
    },
    { name: 'port out of range', env: { ...valid, API_PORT: '70000' }, problems: ['API_PORT:'] },
    { name: 'not a number', env: { ...valid, PG_POOL_MAX: 'many' }, problems: ['PG_POOL_MAX:'] },
    { name: 'bad flag', env: { ...valid, VERBOSE: 'maybe' }, problems: ['VERBOSE: expected true or false'] },
    {
      name: 'every problem is named at once',
      env: { API_PORT: 'x', VERBOSE: 'maybe' },
      problems: ['DATABASE_URL:', 'NAME:', 'API_PORT:', 'VERBOSE:'],
    },
  ];
  for (const { name, env, problems } of rejected) {
    it(`rejects: ${name}`, () => {
      assert.throws(
        () => parseConfig(schema, env),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.problems.length, problems.length, error.message);
          for (const expected of problems) {
            assert.ok(
              error.problems.some((p) => p.startsWith(expected)),
              `${expected} in ${error.message}`,
            );
          }
          return true;
        },
      );
    });
  }
});
