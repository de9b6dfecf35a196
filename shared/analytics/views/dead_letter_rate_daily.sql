-- Dead letters per day (UTC, of the event; of the dead-lettering when the message was no event) and
-- subscription: how many, of which kind, and for subscriptions of order-events the share of that
-- day's order events they dead-lettered (each of them receives every order event). A subscription
-- without dead letters on a day has no row. Each dead letter counts once (by dead_letter_id), each
-- event once however often it was dead-lettered; events come from events_unique.
WITH dead_letters AS (
  SELECT * EXCEPT (copy)
  FROM (
    SELECT
      *,
      ROW_NUMBER() OVER (PARTITION BY dead_letter_id ORDER BY dead_lettered_at) AS copy
    FROM `${project}.${dataset}.dead_letters`
  )
  WHERE copy = 1
),
per_subscription AS (
  SELECT
    DATE(COALESCE(event_time, dead_lettered_at)) AS day,
    subscription,
    MAX(source_topic) AS source_topic,
    COUNT(*) AS dead_letters,
    COUNTIF(kind = 'permanent') AS permanent,
    COUNTIF(kind = 'exhausted') AS exhausted,
    COUNT(DISTINCT event_id) AS events_dead_lettered
  FROM dead_letters
  GROUP BY day, subscription
),
events_per_day AS (
  SELECT DATE(event_time) AS day, COUNT(*) AS events
  FROM `${project}.${dataset}.events_unique`
  GROUP BY day
)
SELECT
  d.day,
  d.subscription,
  d.source_topic,
  d.dead_letters,
  d.permanent,
  d.exhausted,
  d.events_dead_lettered,
  IF(d.source_topic = 'order-events', IFNULL(e.events, 0), NULL) AS events_delivered,
  IF(d.source_topic = 'order-events', ROUND(SAFE_DIVIDE(d.events_dead_lettered, e.events), 6), NULL) AS rate
FROM per_subscription AS d
LEFT JOIN events_per_day AS e ON e.day = d.day
