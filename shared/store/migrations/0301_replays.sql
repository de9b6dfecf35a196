-- Up Migration

-- Replays (issue 6): history republished from the event store to one consumer. A replay runs in
-- the background of an API instance holding its lease, and resumes from its cursor after a
-- restart (the lease expires and any instance takes it over).
CREATE TABLE replays (
  id               uuid PRIMARY KEY,
  consumer         text        NOT NULL,
  -- The request as the client sent it (from, to, types, orderId, consumer).
  request          jsonb       NOT NULL,
  -- Canonical hash of the request: the same request again is the same replay (idempotency).
  request_hash     text        NOT NULL,
  client_id        text        NOT NULL,
  requested_by     text        NOT NULL,
  idempotency_key  text,
  status           text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  -- History as of the request: events appended later are not part of it.
  upto_position    bigint      NOT NULL,
  -- Matching events, counted when the replay first starts.
  total            bigint      CHECK (total >= 0),
  published        bigint      NOT NULL DEFAULT 0 CHECK (published >= 0),
  -- Position of the last event published; the replay resumes after it.
  cursor_position  bigint      NOT NULL DEFAULT 0,
  -- Times an instance took the replay on (a restart or a lost lease adds one).
  runs             integer     NOT NULL DEFAULT 0,
  last_error       text,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE UNIQUE INDEX replays_idempotency_key_idx ON replays (client_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX replays_request_hash_idx ON replays (client_id, request_hash, created_at DESC);
-- Runners look for work here; lists page newest first.
CREATE INDEX replays_active_idx ON replays (created_at) WHERE status IN ('pending', 'running');
CREATE INDEX replays_created_idx ON replays (created_at DESC, id DESC);

-- Down Migration

DROP TABLE replays;
