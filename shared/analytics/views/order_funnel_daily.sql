-- The order funnel per day: the orders placed that day (UTC) and how many of them have reached each
-- step since; conversion = completed / placed. Reads events_unique, so each event counts once.
WITH orders AS (
  SELECT
    order_id,
    MIN(IF(type LIKE 'order.created.v%', event_time, NULL)) AS placed_at,
    LOGICAL_OR(type LIKE 'order.approval_requested.v%') AS approval_requested,
    LOGICAL_OR(type LIKE 'inventory.reserved.v%') AS reserved,
    LOGICAL_OR(type LIKE 'payment.processed.v%') AS paid,
    LOGICAL_OR(type LIKE 'shipment.dispatched.v%') AS shipped,
    LOGICAL_OR(type LIKE 'shipment.delivered.v%') AS delivered,
    LOGICAL_OR(type LIKE 'order.completed.v%') AS completed,
    LOGICAL_OR(type LIKE 'order.cancelled.v%') AS cancelled
  FROM `${project}.${dataset}.events_unique`
  GROUP BY order_id
)
SELECT
  DATE(placed_at) AS day,
  COUNT(*) AS placed,
  COUNTIF(approval_requested) AS approval_requested,
  COUNTIF(reserved) AS reserved,
  COUNTIF(paid) AS paid,
  COUNTIF(shipped) AS shipped,
  COUNTIF(delivered) AS delivered,
  COUNTIF(completed) AS completed,
  COUNTIF(cancelled) AS cancelled,
  ROUND(SAFE_DIVIDE(COUNTIF(completed), COUNT(*)), 4) AS conversion
FROM orders
WHERE placed_at IS NOT NULL
GROUP BY day
