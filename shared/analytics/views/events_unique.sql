-- Every event once. Streaming de-duplication by insertId is best effort (a redelivery or a replay
-- after BigQuery's window is stored again), so this keeps the first delivery of each event id.
-- event_time is the same in every copy of an event: partitioning the window by it too lets
-- BigQuery push a filter on event_time (and so partition pruning) through this view.
SELECT * EXCEPT (delivery)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY event_id, event_time ORDER BY published_at) AS delivery
  FROM `${project}.${dataset}.events`
)
WHERE delivery = 1
