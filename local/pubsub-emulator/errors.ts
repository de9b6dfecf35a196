/**
 * gRPC errors the emulator answers with. Handlers throw {@link RpcError}; the service wrappers turn
 * it (or anything unexpected, as INTERNAL) into a status, so no request can crash the process.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { encodeRpcStatus } from './wire.ts';

export const Code = status;

export class RpcError extends Error {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata | undefined;

  constructor(code: status, details: string, metadata?: Metadata) {
    super(details);
    this.name = 'RpcError';
    this.code = code;
    this.details = details;
    this.metadata = metadata;
  }
}

export const invalidArgument = (details: string) => new RpcError(status.INVALID_ARGUMENT, details);
export const notFound = (details: string) => new RpcError(status.NOT_FOUND, details);
export const alreadyExists = (details: string) => new RpcError(status.ALREADY_EXISTS, details);
export const failedPrecondition = (details: string) => new RpcError(status.FAILED_PRECONDITION, details);
export const unimplemented = (details: string) => new RpcError(status.UNIMPLEMENTED, details);

/** Per-ack-id failure codes of exactly-once delivery, as the client libraries read them. */
export const AckFailure = {
  invalid: 'PERMANENT_FAILURE_INVALID_ACK_ID',
} as const;

/**
 * The error exactly-once subscriptions answer when some ack ids failed: INVALID_ARGUMENT carrying a
 * google.rpc.ErrorInfo (reason EXACTLY_ONCE_ACKID_FAILURE, domain pubsub.googleapis.com, metadata
 * ackId → failure code) in `grpc-status-details-bin`, which google-gax decodes into
 * `errorInfoMetadata` and @google-cloud/pubsub maps per ack id (ack-metadata.js).
 */
export function exactlyOnceAckError(failures: Map<string, string>): RpcError {
  const details = `Some acknowledgement ids in the request were invalid. This could be because the acknowledgement ids have expired or the acknowledgement ids were malformed.`;
  const metadata = new Metadata();
  metadata.set(
    'grpc-status-details-bin',
    encodeRpcStatus(status.INVALID_ARGUMENT, details, {
      reason: 'EXACTLY_ONCE_ACKID_FAILURE',
      domain: 'pubsub.googleapis.com',
      metadata: failures,
    }),
  );
  return new RpcError(status.INVALID_ARGUMENT, details, metadata);
}

/** Whatever was thrown, as a gRPC status object; unexpected errors become INTERNAL. */
export function toStatus(error: unknown): { code: status; details: string; metadata?: Metadata } {
  if (error instanceof RpcError) {
    return error.metadata
      ? { code: error.code, details: error.details, metadata: error.metadata }
      : { code: error.code, details: error.details };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: `internal error: ${message}` };
}
