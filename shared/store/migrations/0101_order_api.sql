-- Up Migration

-- The order API (issue 4): what the event store, the outbox relay and idempotent requests need
-- beyond 0001.

-- A replayed response must be the first response byte for byte. jsonb normalises key order and
-- whitespace, so the body is kept as the exact text that was sent.
ALTER TABLE idempotency_keys ALTER COLUMN response_body TYPE text USING response_body::text;

-- The relay reads pending rows oldest first (ORDER BY id LIMIT n). Without this the planner may
-- walk the primary key through every published row to find the few pending ones.
CREATE INDEX outbox_unpublished_id_idx ON outbox (id) WHERE published_at IS NULL;

-- Down Migration

DROP INDEX outbox_unpublished_id_idx;
ALTER TABLE idempotency_keys ALTER COLUMN response_body TYPE jsonb USING response_body::jsonb;
