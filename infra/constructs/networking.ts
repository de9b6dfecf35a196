/**
 * The private network: a VPC whose only job is to reach Cloud SQL on its private IP. Private
 * services access peers Google's service network into it; the API and the migration job join it
 * by Direct VPC egress, the functions through a Serverless VPC Access connector (Cloud Functions
 * gen2 offers no Direct VPC egress). Only private ranges go through the VPC; calls to the payment
 * and shipping providers leave directly, so no Cloud NAT is needed.
 */
import { Construct } from 'constructs';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address/index.js';
import { ComputeNetwork } from '@cdktf/provider-google/lib/compute-network/index.js';
import { ComputeSubnetwork } from '@cdktf/provider-google/lib/compute-subnetwork/index.js';
import { ServiceNetworkingConnection } from '@cdktf/provider-google/lib/service-networking-connection/index.js';
import { VpcAccessConnector } from '@cdktf/provider-google/lib/vpc-access-connector/index.js';
import type { EnvironmentConfig } from '../config.ts';
import { setComponent } from './component.ts';

export interface NetworkingProps {
  config: EnvironmentConfig;
}

export class Networking extends Construct {
  readonly network: ComputeNetwork;
  /** Direct VPC egress subnet (API, migration job). */
  readonly subnet: ComputeSubnetwork;
  readonly connector: VpcAccessConnector;
  /** Cloud SQL's private IP needs this peering in place before the instance is created. */
  readonly privateServices: ServiceNetworkingConnection;

  constructor(scope: Construct, id: string, props: NetworkingProps) {
    super(scope, id);
    setComponent(this, 'networking');
    const { config } = props;

    this.network = new ComputeNetwork(this, 'network', {
      name: 'conveyor',
      description: 'Conveyor: private path from Cloud Run and Cloud Functions to Cloud SQL',
      autoCreateSubnetworks: false,
      routingMode: 'REGIONAL',
    });

    this.subnet = new ComputeSubnetwork(this, 'subnet', {
      name: `conveyor-${config.region}`,
      network: this.network.id,
      region: config.region,
      ipCidrRange: config.network.subnetCidr,
      // Google APIs (Pub/Sub, BigQuery, Secret Manager) stay reachable from private egress.
      privateIpGoogleAccess: true,
    });

    const connectorSubnet = new ComputeSubnetwork(this, 'connector-subnet', {
      name: `conveyor-connector-${config.region}`,
      network: this.network.id,
      region: config.region,
      ipCidrRange: config.network.connectorCidr,
      privateIpGoogleAccess: true,
    });

    this.connector = new VpcAccessConnector(this, 'connector', {
      name: 'conveyor-connector',
      region: config.region,
      subnet: { name: connectorSubnet.name },
      machineType: config.connector.machineType,
      minInstances: config.connector.minInstances,
      maxInstances: config.connector.maxInstances,
    });

    const reserved = new ComputeGlobalAddress(this, 'private-services-range', {
      name: 'conveyor-private-services',
      purpose: 'VPC_PEERING',
      addressType: 'INTERNAL',
      prefixLength: config.network.privateServicesPrefixLength,
      network: this.network.id,
    });

    this.privateServices = new ServiceNetworkingConnection(this, 'private-services', {
      network: this.network.id,
      service: 'servicenetworking.googleapis.com',
      reservedPeeringRanges: [reserved.name],
      // Removing the peering fails while Cloud SQL still uses it; on destroy Terraform forgets it
      // and Google removes it with the network.
      deletionPolicy: 'ABANDON',
    });
  }
}
