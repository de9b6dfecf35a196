/**
 * google.iam.v1.IAMPolicy for topics, subscriptions, snapshots and schemas: policies are stored
 * and returned with etags (a stale etag on SetIamPolicy is ABORTED), and TestIamPermissions grants
 * every permission asked for, since the emulator does no access control.
 */
import { randomBytes } from 'node:crypto';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Broker } from './broker.ts';
import { Code, RpcError, invalidArgument } from './errors.ts';
import { collectionOf } from './names.ts';
import { implementation } from './rpc.ts';
import type { SchemaRegistry } from './schema-service.ts';

interface Policy {
  version?: number;
  bindings?: { role?: string; members?: string[]; condition?: unknown }[];
  audit_configs?: unknown[];
  etag?: Buffer;
}

const EMPTY_ETAG = Buffer.from('ACAB', 'base64');

export function iamService(broker: Broker, schemas: SchemaRegistry): UntypedServiceImplementation {
  const policies = new Map<string, Policy>();

  const checkResource = (resource: unknown): string => {
    if (typeof resource !== 'string' || resource === '') throw invalidArgument('Missing resource.');
    switch (collectionOf(resource)) {
      case 'topics':
        broker.topic(resource);
        break;
      case 'subscriptions':
        broker.subscription(resource);
        break;
      case 'snapshots':
        broker.snapshot(resource);
        break;
      case 'schemas':
        schemas.latest(resource);
        break;
      case undefined:
        throw invalidArgument(`Invalid resource name: "${resource}".`);
    }
    return resource;
  };

  return implementation({
    GetIamPolicy: (request: { resource?: string }) => {
      const resource = checkResource(request.resource);
      return policies.get(resource) ?? { version: 1, bindings: [], etag: EMPTY_ETAG };
    },

    SetIamPolicy: (request: { resource?: string; policy?: Policy }) => {
      const resource = checkResource(request.resource);
      if (!request.policy) throw invalidArgument('Missing policy.');
      const current = policies.get(resource);
      const etag = request.policy.etag;
      if (etag && etag.length > 0 && !etag.equals(current?.etag ?? EMPTY_ETAG)) {
        throw new RpcError(Code.ABORTED, 'The policy was changed concurrently (etag mismatch).');
      }
      for (const binding of request.policy.bindings ?? []) {
        if (!binding.role) throw invalidArgument('A binding has no role.');
      }
      const stored: Policy = {
        version: request.policy.version || 1,
        bindings: request.policy.bindings ?? [],
        etag: randomBytes(8),
      };
      policies.set(resource, stored);
      return stored;
    },

    TestIamPermissions: (request: { resource?: string; permissions?: string[] }) => {
      checkResource(request.resource);
      return { permissions: request.permissions ?? [] };
    },
  });
}
