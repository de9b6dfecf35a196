import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvironmentConfigSchema, loadEnvironments, overrideVariable } from '../../../infra/config.ts';
import { functionsWithDatabase } from '../../../infra/deployables.ts';

describe('infra config', () => {
  it('has valid defaults: dev cheap and unprotected, prod protected and highly available', () => {
    const { dev, prod } = loadEnvironments({});
    assert.equal(dev.deletionProtection, false);
    assert.equal(prod.deletionProtection, true);
    assert.equal(prod.sql.availabilityType, 'REGIONAL');
    assert.ok(prod.api.minInstances >= 1, 'no cold start for the API in production');
    assert.notEqual(dev.projectId, prod.projectId);
  });

  it('takes project, region and state bucket from the environment', () => {
    const { dev, prod } = loadEnvironments({
      [overrideVariable('dev', 'projectId')]: 'acme-orders-dev',
      [overrideVariable('prod', 'region')]: 'us-central1',
      [overrideVariable('prod', 'stateBucket')]: 'acme-terraform-state',
    });
    assert.equal(overrideVariable('dev', 'projectId'), 'CONVEYOR_DEV_PROJECT_ID');
    assert.deepEqual([dev.projectId, dev.stateBucket], ['acme-orders-dev', 'acme-orders-dev-tfstate']);
    assert.deepEqual([prod.region, prod.stateBucket], ['us-central1', 'acme-terraform-state']);
  });

  it('lists every problem of every environment at once', () => {
    assert.throws(
      () =>
        loadEnvironments({
          CONVEYOR_DEV_PROJECT_ID: 'Not_A_Project',
          CONVEYOR_PROD_REGION: 'moon',
        }),
      (error: Error) => {
        assert.match(error.message, /dev\.projectId: expected a Google Cloud project id/);
        assert.match(error.message, /prod\.region: expected a region/);
        return true;
      },
    );
  });

  it('refuses one project for two environments', () => {
    assert.throws(
      () =>
        loadEnvironments({ CONVEYOR_DEV_PROJECT_ID: 'acme-orders', CONVEYOR_PROD_PROJECT_ID: 'acme-orders' }),
      /every environment needs its own project/,
    );
  });

  it('refuses pools that can open more connections than the database allows', () => {
    const { prod } = loadEnvironments({});
    const result = EnvironmentConfigSchema.safeParse({ ...prod, sql: { ...prod.sql, maxConnections: 100 } });
    assert.equal(result.success, false);
    const budget =
      prod.api.maxInstances * prod.api.poolMax +
      functionsWithDatabase().length * prod.functions.maxInstances * prod.functions.poolMax +
      10;
    assert.match(result.error.issues[0]!.message, new RegExp(`pools can open ${budget} connections`));
    assert.deepEqual(result.error.issues[0]!.path, ['sql', 'maxConnections']);
  });

  it('knows what each Cloud SQL edition allows', () => {
    const { prod } = loadEnvironments({});
    const paths = (sql: Partial<typeof prod.sql>) =>
      EnvironmentConfigSchema.safeParse({ ...prod, sql: { ...prod.sql, ...sql } }).error?.issues.map((i) =>
        i.path.join('.'),
      );
    assert.deepEqual(paths({ transactionLogRetentionDays: 14 }), ['sql.transactionLogRetentionDays']);
    assert.deepEqual(paths({ edition: 'ENTERPRISE_PLUS' }), ['sql.tier']);
    assert.equal(
      paths({ edition: 'ENTERPRISE_PLUS', tier: 'db-perf-optimized-N-2', transactionLogRetentionDays: 14 }),
      undefined,
    );
  });

  it('checks shapes: a /28 connector range, HH:MM backups, POSTGRES_<n>', () => {
    const { dev } = loadEnvironments({});
    const broken = {
      ...dev,
      network: { ...dev.network, connectorCidr: '10.0.0.0/24' },
      sql: { ...dev.sql, backupStartTime: '3am', databaseVersion: 'MYSQL_8_0' },
    };
    const result = EnvironmentConfigSchema.safeParse(broken);
    assert.deepEqual(result.error?.issues.map((issue) => issue.path.join('.')).sort(), [
      'network.connectorCidr',
      'sql.backupStartTime',
      'sql.databaseVersion',
    ]);
  });
});
