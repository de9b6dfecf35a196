/**
 * Span attribute keys, written once. Conveyor's own are `conveyor.*`; the others are
 * OpenTelemetry semantic conventions (messaging, database, RPC peer) that the stable
 * semantic-conventions entry point does not export yet:
 * https://opentelemetry.io/docs/specs/semconv/messaging/gcp-pubsub/
 */

export const CONVEYOR_ATTRIBUTE = {
  /** Ties every span of one order's flow together, across traces (the envelope's correlationid). */
  correlationId: 'conveyor.correlation_id',
  /** The order (the envelope's subject). */
  orderId: 'conveyor.order_id',
  eventId: 'conveyor.event.id',
  eventType: 'conveyor.event.type',
  /** The consuming function. */
  consumer: 'conveyor.consumer',
  /** Outcome of a push delivery: processed, dead-lettered, retry. */
  outcome: 'conveyor.outcome',
  /** Set on the spans of replayed and redriven messages: the replay's or dead letter's id. */
  replayId: 'conveyor.replay_id',
  redriveId: 'conveyor.redrive_id',
  /** How long an outbox row waited between commit and publish, in milliseconds. */
  outboxWaitMs: 'conveyor.outbox.wait_ms',
} as const;

/** Attributes copied from a span to the spans started under it in the same process. */
export const INHERITED_ATTRIBUTES: readonly string[] = [
  CONVEYOR_ATTRIBUTE.correlationId,
  CONVEYOR_ATTRIBUTE.orderId,
];

export const MESSAGING_ATTRIBUTE = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  subscription: 'messaging.destination.subscription.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  orderingKey: 'messaging.gcp_pubsub.message.ordering_key',
  deliveryAttempt: 'messaging.gcp_pubsub.message.delivery_attempt',
} as const;
export const MESSAGING_SYSTEM = 'gcp_pubsub';

export const DB_ATTRIBUTE = {
  system: 'db.system.name',
  operation: 'db.operation.name',
  summary: 'db.query.summary',
  text: 'db.query.text',
} as const;

/** The logical remote service of a client span (payment, shipping, a shop's webhook). */
export const PEER_SERVICE = 'peer.service';
/** service.instance.id and service.namespace: resource attributes not in the stable entry point. */
export const SERVICE_INSTANCE_ID = 'service.instance.id';
export const SERVICE_NAMESPACE_ATTRIBUTE = 'service.namespace';
