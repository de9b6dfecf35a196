-- Up Migration

-- The relay finds due rows through outbox_unpublished_id_idx (oldest first, backoff checked on the
-- row) and a key's rows through outbox_pending_idx; nothing reads (available_at, id). Every outbox
-- insert and every failed publish paid for maintaining it.
DROP INDEX outbox_pending_available_idx;

-- Down Migration

CREATE INDEX outbox_pending_available_idx ON outbox (available_at, id) WHERE published_at IS NULL;
