/**
 * Cloud SQL for PostgreSQL: private IP only, TLS required, daily backups with point-in-time
 * recovery, a maintenance window, and deletion protection where the config asks for it.
 *
 * Authentication: one built-in database user whose random password lives in Secret Manager,
 * inside the DATABASE_URL each deployable reads. IAM database authentication was considered and
 * not chosen: the deployables take a plain DATABASE_URL (shared/config) and connect with `pg`;
 * IAM login would need the Cloud SQL Node connector or short-lived tokens in every one of them,
 * and Cloud Functions cannot mount the Cloud SQL socket that does it for Cloud Run.
 */
import { Construct } from 'constructs';
import { SqlDatabase } from '@cdktf/provider-google/lib/sql-database/index.js';
import { SqlDatabaseInstance } from '@cdktf/provider-google/lib/sql-database-instance/index.js';
import { SqlUser } from '@cdktf/provider-google/lib/sql-user/index.js';
import type { EnvironmentConfig } from '../config.ts';
import { setComponent } from './component.ts';
import type { Networking } from './networking.ts';
import { RandomPassword } from './random-password.ts';

export const DATABASE_NAME = 'conveyor';
export const DATABASE_USER = 'conveyor';
/** Where Cloud Run mounts the Cloud SQL socket directory. */
export const CLOUD_SQL_MOUNT = '/cloudsql';

export interface DatabaseProps {
  config: EnvironmentConfig;
  networking: Networking;
}

/** Flags with a reason each; max_connections comes from the config's connection budget. */
function databaseFlags(config: EnvironmentConfig): { name: string; value: string }[] {
  return [
    { name: 'max_connections', value: String(config.sql.maxConnections) },
    // Slow statements and lock waits are what an operator needs first when latency rises.
    { name: 'log_min_duration_statement', value: '500' },
    { name: 'log_lock_waits', value: 'on' },
    // A transaction left idle holds locks and blocks vacuum; the pool sets a shorter one per session.
    { name: 'idle_in_transaction_session_timeout', value: '60000' },
  ];
}

export class Database extends Construct {
  readonly instance: SqlDatabaseInstance;
  /** DATABASE_URL over the private IP (functions): TLS, no CA check (see below). */
  readonly privateUrl: string;
  /** DATABASE_URL over the Cloud SQL socket mounted at /cloudsql (API, migration job). */
  readonly socketUrl: string;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    setComponent(this, 'database');
    const { config, networking } = props;
    const { sql } = config;

    this.instance = new SqlDatabaseInstance(this, 'instance', {
      name: sql.instanceName,
      region: config.region,
      databaseVersion: sql.databaseVersion,
      deletionProtection: config.deletionProtection,
      dependsOn: [networking.privateServices],
      settings: {
        edition: sql.edition,
        tier: sql.tier,
        availabilityType: sql.availabilityType,
        diskType: 'PD_SSD',
        diskSize: sql.diskSizeGb,
        diskAutoresize: true,
        deletionProtectionEnabled: config.deletionProtection,
        ipConfiguration: {
          ipv4Enabled: false,
          privateNetwork: networking.network.id,
          sslMode: 'ENCRYPTED_ONLY',
        },
        backupConfiguration: {
          enabled: true,
          startTime: sql.backupStartTime,
          pointInTimeRecoveryEnabled: true,
          transactionLogRetentionDays: sql.transactionLogRetentionDays,
          backupRetentionSettings: { retainedBackups: sql.retainedBackups, retentionUnit: 'COUNT' },
        },
        maintenanceWindow: {
          day: sql.maintenanceWindow.day,
          hour: sql.maintenanceWindow.hour,
          updateTrack: 'stable',
        },
        insightsConfig: { queryInsightsEnabled: true, recordApplicationTags: true },
        databaseFlags: databaseFlags(config),
      },
    });

    new SqlDatabase(this, 'database', { name: DATABASE_NAME, instance: this.instance.name });

    const password = new RandomPassword(this, 'password', { length: 32, special: false });
    new SqlUser(this, 'user', {
      name: DATABASE_USER,
      instance: this.instance.name,
      password: password.result,
      // The user owns the schema; Postgres refuses to drop it, so destroy leaves it with the instance.
      deletionPolicy: 'ABANDON',
    });

    const credentials = `${DATABASE_USER}:${password.result}`;
    // pg verifies server certificates against public CAs only, and Cloud SQL's server certificate
    // names the instance, not the IP: `no-verify` keeps TLS (which the instance requires) on the
    // private, peered path without a CA bundle in every function.
    this.privateUrl = `postgresql://${credentials}@${this.instance.privateIpAddress}:5432/${DATABASE_NAME}?sslmode=no-verify`;
    // pg reads `host` as the socket directory; the proxy behind it encrypts and authorises.
    this.socketUrl = `postgresql://${credentials}@localhost/${DATABASE_NAME}?host=${CLOUD_SQL_MOUNT}/${this.instance.connectionName}`;
  }
}
