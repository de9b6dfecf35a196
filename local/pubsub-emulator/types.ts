/**
 * The proto messages as @grpc/proto-loader hands them over (keepCase, longs as numbers, enums as
 * strings, repeated and map fields always present, unset scalars and messages absent). Only the
 * fields the emulator reads or writes are declared; everything arrives from the network, so each
 * field is still validated before use.
 */

export interface Duration {
  seconds?: number;
  nanos?: number;
}

export interface Timestamp {
  seconds?: number;
  nanos?: number;
}

export interface FieldMask {
  paths?: string[];
}

export interface PubsubMessageProto {
  data?: Buffer;
  attributes?: Record<string, string>;
  message_id?: string;
  publish_time?: Timestamp;
  ordering_key?: string;
}

export interface TopicProto {
  name?: string;
  labels?: Record<string, string>;
  message_storage_policy?: unknown;
  kms_key_name?: string;
  schema_settings?: SchemaSettingsProto;
  satisfies_pzs?: boolean;
  message_retention_duration?: Duration;
  state?: string;
  ingestion_data_source_settings?: unknown;
  message_transforms?: unknown[];
  tags?: Record<string, string>;
}

export interface SchemaSettingsProto {
  schema?: string;
  encoding?: string;
  first_revision_id?: string;
  last_revision_id?: string;
}

export interface OidcTokenProto {
  service_account_email?: string;
  audience?: string;
}

export interface PushConfigProto {
  push_endpoint?: string;
  attributes?: Record<string, string>;
  oidc_token?: OidcTokenProto;
  pubsub_wrapper?: Record<string, never>;
  no_wrapper?: { write_metadata?: boolean };
  authentication_method?: string;
  wrapper?: string;
}

export interface RetryPolicyProto {
  minimum_backoff?: Duration;
  maximum_backoff?: Duration;
}

export interface DeadLetterPolicyProto {
  dead_letter_topic?: string;
  max_delivery_attempts?: number;
}

export interface ExpirationPolicyProto {
  ttl?: Duration;
}

export interface SubscriptionProto {
  name?: string;
  topic?: string;
  push_config?: PushConfigProto;
  bigquery_config?: unknown;
  cloud_storage_config?: unknown;
  bigtable_config?: unknown;
  ack_deadline_seconds?: number;
  retain_acked_messages?: boolean;
  message_retention_duration?: Duration;
  labels?: Record<string, string>;
  enable_message_ordering?: boolean;
  expiration_policy?: ExpirationPolicyProto;
  filter?: string;
  dead_letter_policy?: DeadLetterPolicyProto;
  retry_policy?: RetryPolicyProto;
  detached?: boolean;
  enable_exactly_once_delivery?: boolean;
  topic_message_retention_duration?: Duration;
  state?: string;
  message_transforms?: unknown[];
  tags?: Record<string, string>;
}

export interface SnapshotProto {
  name?: string;
  topic?: string;
  expire_time?: Timestamp;
  labels?: Record<string, string>;
}

export interface StreamingPullRequestProto {
  subscription?: string;
  ack_ids?: string[];
  modify_deadline_seconds?: number[];
  modify_deadline_ack_ids?: string[];
  stream_ack_deadline_seconds?: number;
  client_id?: string;
  max_outstanding_messages?: number;
  max_outstanding_bytes?: number;
  protocol_version?: number;
}

export interface SchemaProto {
  name?: string;
  type?: string;
  definition?: string;
  revision_id?: string;
  revision_create_time?: Timestamp;
}
