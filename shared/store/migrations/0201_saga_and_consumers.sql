-- Up Migration

-- The saga and the other consumers (issue 5): per-order reservations, provider webhooks processed
-- once, provider effects no order recorded, notifications sent per subscriber.

-- What each order holds in stock, one row per order. Written in the transaction that records the
-- event it goes with (inventory.reserved, the saga's step after shipment.dispatched,
-- inventory.released), so units move exactly once per order however often a message comes back.
-- reserved: counted in inventory.reserved; shipped: counted in inventory.shipped (left the
-- warehouse); released: given back to inventory.available.
CREATE TABLE inventory_reservations (
  order_id   uuid        PRIMARY KEY,
  lines      jsonb       NOT NULL,
  status     text        NOT NULL CHECK (status IN ('reserved', 'shipped', 'released')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Provider webhook events processed, by the provider's event id: a redelivered or duplicated
-- webhook finds its row and changes nothing. Written in the transaction of what it caused.
CREATE TABLE webhook_events (
  provider    text        NOT NULL CHECK (provider IN ('payment', 'shipping')),
  event_id    text        NOT NULL,
  type        text        NOT NULL,
  order_id    text,
  -- recorded (new events), unchanged (already recorded), unrecorded_effect (see below), ignored.
  outcome     text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, event_id)
);

-- Effects a provider reports that their order never recorded: the saga crashed after the
-- provider accepted a call and before committing, and the order was cancelled meanwhile, so no
-- step will ever look at it again. The timeouts function compensates them (refunds a charge,
-- cancels a shipment) or hands them to an operator.
CREATE TABLE unrecorded_effects (
  provider     text        NOT NULL CHECK (provider IN ('payment', 'shipping')),
  -- The provider's payment or shipment id.
  reference    text        NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('charge', 'shipment')),
  order_id     uuid        NOT NULL,
  amount_minor bigint,
  currency     char(3),
  status       text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'compensated', 'failed')),
  attempts     integer     NOT NULL DEFAULT 0,
  detail       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, reference)
);
CREATE INDEX unrecorded_effects_open_idx ON unrecorded_effects (created_at) WHERE status = 'open';

-- Notifications delivered, per event and subscriber: a redelivered event is not sent again to a
-- subscriber that already accepted it.
CREATE TABLE notification_deliveries (
  event_id     text        NOT NULL,
  subscriber   text        NOT NULL,
  status_code  integer     NOT NULL,
  delivered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, subscriber)
);

-- The timeouts function looks at every order awaiting approval on each tick.
CREATE INDEX orders_awaiting_approval_idx ON orders (created_at) WHERE status = 'awaiting_approval';

-- Dead letters listed newest first, by subscription.
CREATE INDEX dead_letters_subscription_idx ON dead_letters (source_subscription, dead_lettered_at DESC);

-- Down Migration

DROP INDEX dead_letters_subscription_idx;
DROP INDEX orders_awaiting_approval_idx;
DROP TABLE notification_deliveries;
DROP TABLE unrecorded_effects;
DROP TABLE webhook_events;
DROP TABLE inventory_reservations;
