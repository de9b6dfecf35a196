import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENVIRONMENT_NAMES } from '../../../infra/config.ts';
import { ref, referenced, resource, resources, synthesize } from './synth.ts';

const { json, stacks } = synthesize();

for (const env of ENVIRONMENT_NAMES) {
  const tf = json[env];
  const config = stacks[env].config;
  const instance = resources(tf, 'google_sql_database_instance')[0]!;
  const settings = instance.attributes.settings;
  const network = resources(tf, 'google_compute_network')[0]!;

  describe(`database (${env})`, () => {
    it('is the configured Postgres version, edition and tier', () => {
      assert.equal(resources(tf, 'google_sql_database_instance').length, 1);
      assert.equal(instance.attributes.database_version, config.sql.databaseVersion);
      assert.match(instance.attributes.database_version, /^POSTGRES_\d+$/);
      assert.equal(settings.edition, config.sql.edition);
      assert.equal(settings.tier, config.sql.tier);
      assert.equal(settings.availability_type, config.sql.availabilityType);
      assert.equal(instance.attributes.region, config.region);
    });

    it('has a private IP only, on the Conveyor VPC, and requires TLS', () => {
      assert.deepEqual(settings.ip_configuration, {
        ipv4_enabled: false,
        private_network: ref(network, 'id'),
        ssl_mode: 'ENCRYPTED_ONLY',
      });
      const peering = referenced(tf, `\${${(instance.attributes.depends_on as string[])[0]}.id}`);
      assert.equal(
        peering.type,
        'google_service_networking_connection',
        'created after private services access',
      );
    });

    it('backs up daily with point-in-time recovery', () => {
      assert.deepEqual(settings.backup_configuration, {
        enabled: true,
        start_time: config.sql.backupStartTime,
        point_in_time_recovery_enabled: true,
        transaction_log_retention_days: config.sql.transactionLogRetentionDays,
        backup_retention_settings: { retained_backups: config.sql.retainedBackups, retention_unit: 'COUNT' },
      });
    });

    it(`is ${env === 'prod' ? '' : 'not '}protected against deletion`, () => {
      const expected = env === 'prod';
      assert.equal(config.deletionProtection, expected);
      assert.equal(instance.attributes.deletion_protection, expected, 'Terraform-level');
      assert.equal(settings.deletion_protection_enabled, expected, 'API-level');
    });

    it('has a maintenance window and flags sized to the connection budget', () => {
      assert.deepEqual(settings.maintenance_window, {
        day: config.sql.maintenanceWindow.day,
        hour: config.sql.maintenanceWindow.hour,
        update_track: 'stable',
      });
      const flags = Object.fromEntries(
        (settings.database_flags as { name: string; value: string }[]).map((f) => [f.name, f.value]),
      );
      assert.equal(flags.max_connections, String(config.sql.maxConnections));
      assert.equal(flags.log_min_duration_statement, '500');
    });

    it('creates the database and a user whose password is generated, never written down', () => {
      assert.equal(
        resource(tf, 'google_sql_database', 'conveyor').attributes.instance,
        ref(instance, 'name'),
      );
      const user = resource(tf, 'google_sql_user', 'conveyor').attributes;
      assert.match(String(user.password), /^\$\{random_password\.[^.]+\.result\}$/);
      const password = referenced(tf, user.password).attributes;
      assert.deepEqual(
        { length: password.length, special: password.special },
        { length: 32, special: false },
      );
    });

    it('stores DATABASE_URL for the private IP and for the Cloud SQL socket', () => {
      const data = (id: string) =>
        resources(tf, 'google_secret_manager_secret_version').find(
          (v) => referenced(tf, v.attributes.secret).attributes.secret_id === id,
        )!.attributes.secret_data as string;
      const password = resource(tf, 'google_sql_user', 'conveyor').attributes.password as string;
      assert.equal(
        data('conveyor-database-url-private'),
        `postgresql://conveyor:${password}@${ref(instance, 'private_ip_address')}:5432/conveyor?sslmode=no-verify`,
      );
      assert.equal(
        data('conveyor-database-url-socket'),
        `postgresql://conveyor:${password}@localhost/conveyor?host=/cloudsql/${ref(instance, 'connection_name')}`,
      );
    });

    it('peers private services access into the VPC, and gives serverless egress into it', () => {
      const range = resource(tf, 'google_compute_global_address', 'conveyor-private-services').attributes;
      assert.deepEqual(
        {
          purpose: range.purpose,
          type: range.address_type,
          prefix: range.prefix_length,
          network: range.network,
        },
        {
          purpose: 'VPC_PEERING',
          type: 'INTERNAL',
          prefix: config.network.privateServicesPrefixLength,
          network: ref(network, 'id'),
        },
      );
      const peering = resources(tf, 'google_service_networking_connection')[0]!.attributes;
      assert.equal(peering.service, 'servicenetworking.googleapis.com');
      assert.equal(peering.network, ref(network, 'id'));
      assert.equal(peering.reserved_peering_ranges.length, 1);
      assert.equal(network.attributes.auto_create_subnetworks, false);
      for (const subnet of resources(tf, 'google_compute_subnetwork'))
        assert.equal(subnet.attributes.private_ip_google_access, true);
      const connector = resources(tf, 'google_vpc_access_connector')[0]!.attributes;
      assert.equal(
        referenced(tf, connector.subnet.name).attributes.ip_cidr_range,
        config.network.connectorCidr,
      );
    });
  });
}
