/**
 * The gRPC service definitions, loaded from the .proto files the installed @google-cloud/pubsub
 * package ships (build/protos) plus the google.api / google.iam / google.type imports that its
 * google-gax dependency ships. Field names stay snake_case as in the protos (keepCase), so update
 * masks map onto them directly.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export interface ServiceDefinitions {
  publisher: ServiceDefinition;
  subscriber: ServiceDefinition;
  schema: ServiceDefinition;
  iam: ServiceDefinition;
}

let cached: ServiceDefinitions | undefined;

export function loadServiceDefinitions(): ServiceDefinitions {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const pubsubEntry = require.resolve('@google-cloud/pubsub'); // <pkg>/build/src/index.js
  const pubsubProtos = path.resolve(path.dirname(pubsubEntry), '../protos');
  const gaxEntry = createRequire(pubsubEntry).resolve('google-gax'); // <gax>/build/src/index.js
  const gaxProtos = path.resolve(path.dirname(gaxEntry), '../protos');
  const definition = loadSync(
    ['google/pubsub/v1/pubsub.proto', 'google/pubsub/v1/schema.proto', 'google/iam/v1/iam_policy.proto'],
    {
      includeDirs: [pubsubProtos, gaxProtos],
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: false,
      arrays: true,
      objects: true,
      oneofs: true,
    },
  );
  const service = (name: string) => {
    const found = definition[name];
    if (!found || 'format' in found) throw new Error(`service ${name} missing from the protos`);
    return found as ServiceDefinition;
  };
  cached = {
    publisher: service('google.pubsub.v1.Publisher'),
    subscriber: service('google.pubsub.v1.Subscriber'),
    schema: service('google.pubsub.v1.SchemaService'),
    iam: service('google.iam.v1.IAMPolicy'),
  };
  return cached;
}
