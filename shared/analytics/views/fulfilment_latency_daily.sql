-- Fulfilment latency percentiles per step, for the orders placed each day (UTC): p50, p90 and p99
-- in milliseconds from the first event of one step to the first event of the next. Reads
-- events_unique, so each event counts once.
WITH steps AS (
  SELECT
    order_id,
    MIN(IF(type LIKE 'order.created.v%', event_time, NULL)) AS placed_at,
    MIN(IF(type LIKE 'inventory.reserved.v%', event_time, NULL)) AS reserved_at,
    MIN(IF(type LIKE 'payment.processed.v%', event_time, NULL)) AS paid_at,
    MIN(IF(type LIKE 'shipment.dispatched.v%', event_time, NULL)) AS shipped_at,
    MIN(IF(type LIKE 'shipment.delivered.v%', event_time, NULL)) AS delivered_at,
    MIN(IF(type LIKE 'order.completed.v%', event_time, NULL)) AS completed_at
  FROM `${project}.${dataset}.events_unique`
  GROUP BY order_id
),
latencies AS (
  SELECT placed_at, 'placed_to_reserved' AS step, TIMESTAMP_DIFF(reserved_at, placed_at, MILLISECOND) AS ms
  FROM steps
  UNION ALL
  SELECT placed_at, 'reserved_to_paid', TIMESTAMP_DIFF(paid_at, reserved_at, MILLISECOND) FROM steps
  UNION ALL
  SELECT placed_at, 'paid_to_shipped', TIMESTAMP_DIFF(shipped_at, paid_at, MILLISECOND) FROM steps
  UNION ALL
  SELECT placed_at, 'shipped_to_delivered', TIMESTAMP_DIFF(delivered_at, shipped_at, MILLISECOND) FROM steps
  UNION ALL
  SELECT placed_at, 'placed_to_completed', TIMESTAMP_DIFF(completed_at, placed_at, MILLISECOND) FROM steps
)
SELECT
  DATE(placed_at) AS day,
  step,
  COUNT(*) AS orders,
  APPROX_QUANTILES(ms, 100)[OFFSET(50)] AS p50_ms,
  APPROX_QUANTILES(ms, 100)[OFFSET(90)] AS p90_ms,
  APPROX_QUANTILES(ms, 100)[OFFSET(99)] AS p99_ms
FROM latencies
WHERE placed_at IS NOT NULL AND ms IS NOT NULL
GROUP BY day, step
