-- Up Migration

-- The tables of DESIGN.md ("State"). Money is in minor units (cents) as bigint; every timestamp
-- is timestamptz. Later migrations add what each feature needs, numbered per area:
-- 01xx order API, 02xx saga and consumers, 03xx analytics and replay, 04xx observability.

-- Current state of each order: a projection of its events, written in the same transaction as
-- them. `version` is the sequence of the last event applied (optimistic concurrency, ETags).
CREATE TABLE orders (
  id               uuid PRIMARY KEY,
  customer_id      text        NOT NULL,
  status           text        NOT NULL,
  currency         char(3)     NOT NULL,
  total_minor      bigint      NOT NULL CHECK (total_minor >= 0),
  shipping_address jsonb       NOT NULL,
  -- The full domain state (saga progress, provider references) as the domain's evolve builds it.
  state            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  version          integer     NOT NULL CHECK (version >= 1),
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
-- Keyset pages newest first, filtered by status or by customer.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC);

CREATE TABLE order_lines (
  order_id         uuid    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          integer NOT NULL CHECK (line_no >= 1),
  sku              text    NOT NULL,
  quantity         integer NOT NULL CHECK (quantity > 0),
  unit_price_minor bigint  NOT NULL CHECK (unit_price_minor >= 0),
  PRIMARY KEY (order_id, line_no)
);

-- Prices come from here, never from the client.
CREATE TABLE catalogue (
  sku              text PRIMARY KEY,
  name             text        NOT NULL,
  unit_price_minor bigint      NOT NULL CHECK (unit_price_minor >= 0),
  currency         char(3)     NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Stock per SKU. Reservation moves units from available to reserved, shipment from reserved to
-- shipped, release back to available: available + reserved + shipped is conserved.
CREATE TABLE inventory (
  sku        text PRIMARY KEY,
  available  integer     NOT NULL CHECK (available >= 0),
  reserved   integer     NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  shipped    integer     NOT NULL DEFAULT 0 CHECK (shipped >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The append-only event store. (order_id, sequence) is unique: two writers that read the same
-- version cannot both append, which is the optimistic concurrency check. `position` orders the
-- whole store for replay and paging.
CREATE TABLE events (
  position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id             uuid        NOT NULL UNIQUE,
  order_id       uuid        NOT NULL,
  sequence       integer     NOT NULL CHECK (sequence >= 1),
  type           text        NOT NULL,
  occurred_at    timestamptz NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  correlation_id text        NOT NULL,
  causation_id   text,
  -- The CloudEvents envelope exactly as published.
  envelope       jsonb       NOT NULL,
  CONSTRAINT events_order_sequence_key UNIQUE (order_id, sequence)
);
CREATE INDEX events_occurred_idx ON events (occurred_at, position);
CREATE INDEX events_type_occurred_idx ON events (type, occurred_at);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the event store is append-only: % on events is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Messages committed with the state change, published by the relay after commit. A row is
-- pending while published_at is null. The relay never relies on ids being gap-free: it reads
-- pending rows, not "rows after the last id".
CREATE TABLE outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id     uuid        NOT NULL,
  topic        text        NOT NULL,
  ordering_key text,
  payload      jsonb       NOT NULL,
  attributes   jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Earliest time the relay may try (again); pushed back with exponential backoff on failure.
  available_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  attempts     integer     NOT NULL DEFAULT 0,
  last_error   text,
  published_at timestamptz,
  message_id   text
);
CREATE INDEX outbox_pending_idx ON outbox (ordering_key, id) WHERE published_at IS NULL;
CREATE INDEX outbox_pending_available_idx ON outbox (available_at, id) WHERE published_at IS NULL;

-- The idempotency record of every consumer: written in the transaction of the effect, so a
-- redelivery, duplicate publish or replay finds it and has no second effect.
CREATE TABLE processed_messages (
  consumer     text        NOT NULL,
  event_id     text        NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

-- The last failure of a message per consumer, so a dead letter can say why it died.
CREATE TABLE message_failures (
  consumer        text        NOT NULL,
  event_id        text        NOT NULL,
  attempts        integer     NOT NULL DEFAULT 1,
  last_error      text        NOT NULL,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

-- API requests by Idempotency-Key, per client. A request in progress holds the row; a finished
-- one stores its response for replay; the hash detects the same key reused for another body.
CREATE TABLE idempotency_keys (
  client_id        text        NOT NULL,
  key              text        NOT NULL,
  request_method   text        NOT NULL,
  request_path     text        NOT NULL,
  request_hash     text        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('in_progress', 'completed')),
  response_status  integer,
  response_headers jsonb,
  response_body    jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Messages that could not be processed: from a subscription's dead-letter policy or dead-lettered
-- at once for a permanent error. Operators inspect, redrive (republish to the source topic with
-- the original event id) or discard them.
CREATE TABLE dead_letters (
  id                  uuid PRIMARY KEY,
  message_id          text        NOT NULL,
  source_subscription text        NOT NULL,
  source_topic        text,
  event_id            text,
  event_type          text,
  order_id            text,
  ordering_key        text,
  data                bytea       NOT NULL,
  attributes          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  attempts            integer     NOT NULL CHECK (attempts >= 0),
  last_error          text,
  status              text        NOT NULL DEFAULT 'open'
                                  CHECK (status IN ('open', 'redriven', 'discarded')),
  status_reason       text,
  dead_lettered_at    timestamptz NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- Dead-lettering is best effort and may deliver the same message twice: one open entry per
-- message and subscription.
CREATE UNIQUE INDEX dead_letters_open_event_idx ON dead_letters (source_subscription, event_id)
  WHERE status = 'open' AND event_id IS NOT NULL;
CREATE INDEX dead_letters_status_idx ON dead_letters (status, dead_lettered_at DESC);
CREATE INDEX dead_letters_order_idx ON dead_letters (order_id) WHERE order_id IS NOT NULL;

-- API clients. Only a hash of the key is stored; scopes decide what a key may do.
CREATE TABLE api_keys (
  id                    uuid PRIMARY KEY,
  name                  text        NOT NULL,
  key_hash              text        NOT NULL UNIQUE,
  scopes                text[]      NOT NULL,
  rate_limit_per_minute integer     CHECK (rate_limit_per_minute > 0),
  created_at            timestamptz NOT NULL DEFAULT now(),
  revoked_at            timestamptz
);

-- Every operator action (approve, redrive, discard, replay): who, what, on which thing.
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text        NOT NULL,
  action      text        NOT NULL,
  target_type text        NOT NULL,
  target_id   text        NOT NULL,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at);

-- Down Migration

DROP TABLE audit_log;
DROP TABLE api_keys;
DROP TABLE dead_letters;
DROP TABLE idempotency_keys;
DROP TABLE message_failures;
DROP TABLE processed_messages;
DROP TABLE outbox;
DROP TABLE events;
DROP FUNCTION events_are_append_only();
DROP TABLE inventory;
DROP TABLE catalogue;
DROP TABLE order_lines;
DROP TABLE orders;
