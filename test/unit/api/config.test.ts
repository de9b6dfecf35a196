import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseApiConfig } from '../../../api/config.ts';
import { ConfigError } from '#shared/errors.ts';

const required = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/conveyor' };

describe('API configuration', () => {
  it('needs only DATABASE_URL; the rest has production defaults', () => {
    const config = parseApiConfig(required);
    assert.equal(config.PORT, 8080);
    assert.equal(config.HOST, '0.0.0.0');
    assert.equal(config.CONVEYOR_PROJECT_ID, 'conveyor-local');
    assert.equal(config.LOG_LEVEL, 'info');
    assert.equal(config.PUBSUB_EMULATOR_HOST, undefined);
    assert.equal(config.OUTBOX_LISTEN, true);
    assert.equal(config.IDEMPOTENCY_TTL_SECONDS, 86_400);
  });

  it('reads what Cloud Run and infra set', () => {
    const config = parseApiConfig({
      ...required,
      PORT: '9090',
      CONVEYOR_PROJECT_ID: 'my-project-123',
      LOG_LEVEL: 'warn',
      PUBSUB_EMULATOR_HOST: 'localhost:8085',
      OUTBOX_LISTEN: 'false',
      APPROVAL_THRESHOLD_MINOR: '100000',
    });
    assert.equal(config.PORT, 9090);
    assert.equal(config.CONVEYOR_PROJECT_ID, 'my-project-123');
    assert.equal(config.PUBSUB_EMULATOR_HOST, 'localhost:8085');
    assert.equal(config.OUTBOX_LISTEN, false);
  });

  it('names every problem at once', () => {
    assert.throws(
      () => parseApiConfig({ PORT: 'eighty', PUBSUB_EMULATOR_HOST: 'no port', API_BODY_LIMIT_BYTES: '-1' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const names = error.problems.map((problem) => problem.split(':')[0]);
        for (const name of ['DATABASE_URL', 'PORT', 'PUBSUB_EMULATOR_HOST', 'API_BODY_LIMIT_BYTES']) {
          assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
        }
        return true;
      },
    );
  });
});
