/**
 * A local Google Cloud Pub/Sub emulator speaking the real gRPC API (google.pubsub.v1 Publisher,
 * Subscriber and SchemaService, google.iam.v1.IAMPolicy), so the unmodified @google-cloud/pubsub
 * client works against it through PUBSUB_EMULATOR_HOST. See README.md beside this file.
 *
 *   const emulator = await startPubSubEmulator({ host: '127.0.0.1', port: 0 });
 *   process.env.PUBSUB_EMULATOR_HOST = emulator.address;
 *   ...
 *   await emulator.stop();
 */
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { Broker } from './broker.ts';
import { Code } from './errors.ts';
import { iamService } from './iam-service.ts';
import { OidcSigner, type JsonWebKeySet, type OidcSigningKey } from './oidc.ts';
import { openPersistence, persistentSigningKey, type Persistence } from './persistence.ts';
import { loadServiceDefinitions } from './protos.ts';
import { publisherService } from './publisher-service.ts';
import { createPushController } from './push.ts';
import { SchemaRegistry, schemaService } from './schema-service.ts';
import type { StreamSession } from './streaming-pull.ts';
import { subscriberService } from './subscriber-service.ts';
import { decodePublishRequest } from './wire.ts';

export type { JsonWebKeySet, OidcSigningKey } from './oidc.ts';
export { OIDC_ISSUER } from './oidc.ts';

export interface PubSubEmulatorOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 8085. */
  port?: number;
  /** End every StreamingPull stream with UNAVAILABLE after this many ms (0, the default: never). */
  streamRecycleMs?: number;
  /** How long a unary Pull without return_immediately waits for messages. Default 5000 ms. */
  pullWaitMs?: number;
  /** Key that signs push OIDC tokens; a fresh RSA key by default. */
  oidcSigningKey?: OidcSigningKey;
  /** Most push requests in flight per subscription. Default 100. */
  pushMaxOutstanding?: number;
  /** Push requests a subscription may have in flight when it starts (slow start). Default 4. */
  pushInitialWindow?: number;
  /** Where the emulator reports things worth knowing (default: stderr). */
  log?: (line: string) => void;
  /**
   * Keep topics, subscriptions and unacked messages in this directory across restarts and crashes
   * (persistence.ts), and the OIDC signing key unless one is given. Default: in memory only.
   */
  dataDir?: string;
  /** With dataDir: a checkpoint is written once the journal holds this many bytes. Default 16 MiB. */
  checkpointBytes?: number;
}

export interface PubSubEmulator {
  readonly host: string;
  readonly port: number;
  /** `host:port`, the value for PUBSUB_EMULATOR_HOST. */
  readonly address: string;
  /** Public keys that verify push OIDC tokens (`Authorization: Bearer …`). */
  readonly jwks: JsonWebKeySet;
  /** The `iss` claim of push OIDC tokens. */
  readonly oidcIssuer: string;
  /** What the emulator holds right now (what bounds its memory; see README). */
  stats(): PubSubEmulatorStats;
  /**
   * Consumer lag: seconds since the oldest unacknowledged message of each subscription (full name)
   * was published; 0 for a subscription with none (Pub/Sub's oldest_unacked_message_age metric).
   */
  oldestUnackedAges(now?: number): Record<string, number>;
  /** Stops serving: open streams end with UNAVAILABLE, push stops. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PubSubEmulatorStats {
  topics: number;
  subscriptions: number;
  snapshots: number;
  /** Messages held by subscriptions (unacked, or acked inside an ordering key's open batch). */
  subscriptionMessages: number;
  /** Messages kept in topic logs for seek (topic retention, retain_acked_messages, snapshots). */
  retainedMessages: number;
  /** Open StreamingPull streams. */
  streams: number;
}

/** Starts the emulator; resolves once it accepts calls. */
export async function startPubSubEmulator(options: PubSubEmulatorOptions = {}): Promise<PubSubEmulator> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => console.error(`[pubsub-emulator] ${line}`));
  const persistence: Persistence | undefined = options.dataDir
    ? openPersistence({ dir: options.dataDir, checkpointBytes: options.checkpointBytes, log })
    : undefined;
  const signingKey =
    options.oidcSigningKey ??
    (options.dataDir ? { privateKeyPem: persistentSigningKey(options.dataDir) } : undefined);
  const signer = await OidcSigner.create(signingKey);
  const broker = new Broker({
    log,
    createPush: (sub) =>
      createPushController(sub, {
        signer: () => Promise.resolve(signer),
        maxOutstanding: options.pushMaxOutstanding ?? 100,
        initialWindow: options.pushInitialWindow ?? 4,
        log,
      }),
  });
  if (persistence) {
    if (persistence.restored) broker.restore(persistence.restored);
    persistence.attach(() => broker.persistedState());
    broker.journal = persistence;
  }
  const schemas = new SchemaRegistry();
  const sessions = new Set<StreamSession>();
  const definitions = loadServiceDefinitions();

  const server = new Server({
    'grpc.max_receive_message_length': 32 * 1024 * 1024,
    'grpc.max_send_message_length': -1,
    'grpc.enable_channelz': 0,
  });
  server.addService(
    {
      ...definitions.publisher,
      Publish: { ...definitions.publisher.Publish!, requestDeserialize: decodePublishRequest },
    },
    publisherService(broker),
  );
  server.addService(
    withRawResponses(definitions.subscriber, ['Pull', 'StreamingPull']),
    subscriberService(
      broker,
      { pullWaitMs: options.pullWaitMs ?? 5000, streamRecycleMs: options.streamRecycleMs ?? 0 },
      sessions,
    ),
  );
  server.addService(definitions.schema, schemaService(schemas));
  server.addService(definitions.iam, iamService(broker, schemas));

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${host}:${options.port ?? 8085}`,
        ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
  } catch (error) {
    persistence?.close();
    broker.close(Code.UNAVAILABLE, 'The Pub/Sub emulator failed to start.');
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    host,
    port,
    address: `${host}:${port}`,
    jwks: signer.jwks,
    oidcIssuer: signer.issuer,
    stats() {
      let subscriptionMessages = 0;
      for (const sub of broker.subscriptions.values()) subscriptionMessages += sub.engine.backlog;
      let retainedMessages = 0;
      for (const topic of broker.topics.values()) retainedMessages += topic.retainedCount;
      return {
        topics: broker.topics.size,
        subscriptions: broker.subscriptions.size,
        snapshots: broker.snapshots.size,
        subscriptionMessages,
        retainedMessages,
        streams: sessions.size,
      };
    },
    oldestUnackedAges(now = Date.now()) {
      const ages: Record<string, number> = {};
      for (const [name, sub] of broker.subscriptions) {
        const oldest = sub.engine.oldestUnackedPublishMs();
        ages[name] = oldest === undefined ? 0 : Math.max(0, now - oldest) / 1000;
      }
      return ages;
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        const details = 'The Pub/Sub emulator is shutting down.';
        // The last checkpoint holds every message not yet acked, leased ones included.
        try {
          persistence?.close();
        } catch (error) {
          log(`writing the final checkpoint failed: ${String(error)}`);
        }
        broker.close(Code.UNAVAILABLE, details);
        for (const session of [...sessions]) session.end(Code.UNAVAILABLE, details);
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopping;
    },
  };
}

/**
 * Pull and StreamingPull responses are encoded by hand around cached message bytes (wire.ts); the
 * handlers return those bytes, so their serializer passes Buffers through.
 */
function withRawResponses(service: ServiceDefinition, methods: string[]): ServiceDefinition {
  const copy: Record<string, ServiceDefinition[string]> = { ...service };
  for (const method of methods) {
    const definition = service[method]!;
    copy[method] = {
      ...definition,
      responseSerialize: (value: unknown) =>
        Buffer.isBuffer(value) ? value : definition.responseSerialize(value),
    };
  }
  return copy as ServiceDefinition;
}
