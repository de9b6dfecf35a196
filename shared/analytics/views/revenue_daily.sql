-- Revenue and refunds per day (UTC, of the payment event) and currency, in minor units (cents):
-- processed payments, refunds, and what remains. Reads events_unique, so each event counts once.
WITH payments AS (
  SELECT
    DATE(event_time) AS day,
    JSON_VALUE(payload, '$.currency') AS currency,
    type LIKE 'payment.processed.v%' AS processed,
    CAST(JSON_VALUE(payload, '$.amountMinor') AS INT64) AS amount_minor
  FROM `${project}.${dataset}.events_unique`
  WHERE type LIKE 'payment.processed.v%' OR type LIKE 'payment.refunded.v%'
)
SELECT
  day,
  currency,
  COUNTIF(processed) AS payments,
  SUM(IF(processed, amount_minor, 0)) AS revenue_minor,
  COUNTIF(NOT processed) AS refunds,
  SUM(IF(processed, 0, amount_minor)) AS refunded_minor,
  SUM(IF(processed, amount_minor, -amount_minor)) AS net_minor
FROM payments
GROUP BY day, currency
