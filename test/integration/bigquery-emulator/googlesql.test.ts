/**
 * GoogleSQL as analysts write it, each construct with the answer BigQuery gives, on a small
 * generated events table (and inline data where that is clearer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  datasetName,
  startEmulatedBigQuery,
  TEST_PROJECT,
  type EmulatedBigQuery,
} from '../../helpers/bigquery-emulator.ts';

/** Client values as plain data: timestamps as ISO text without trailing zeros, numerics as text. */
function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(plain);
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'object') {
    const name = value.constructor.name;
    if (name === 'BigQueryTimestamp')
      return (value as { value: string }).value.replace(/(\.\d*?)0+Z$/, '$1Z').replace(/\.Z$/, 'Z');
    if (name === 'BigQueryDate' || name === 'BigQueryDatetime' || name === 'BigQueryTime')
      return (value as { value: string }).value;
    if (name === 'Big') return (value as { toFixed(): string }).toFixed();
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

type Case = [name: string, sql: string, expected: unknown[] | RegExp];

describe('BigQuery emulator: GoogleSQL constructs', () => {
  let bq: EmulatedBigQuery;
  let ds: string;

  before(async () => {
    bq = await startEmulatedBigQuery();
    ds = datasetName('gsql');
    const [dataset] = await bq.client.createDataset(ds);
    await dataset.createTable('events', {
      schema: [
        { name: 'event_id', type: 'STRING' },
        { name: 'type', type: 'STRING' },
        { name: 'order_id', type: 'STRING' },
        { name: 'sequence', type: 'INTEGER' },
        { name: 'event_time', type: 'TIMESTAMP' },
        { name: 'payload', type: 'JSON' },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
        {
          name: 'lines',
          type: 'RECORD',
          mode: 'REPEATED',
          fields: [
            { name: 'sku', type: 'STRING' },
            { name: 'qty', type: 'INTEGER' },
            { name: 'price', type: 'NUMERIC' },
          ],
        },
      ],
    });
    const events = [
      [
        'e1',
        'order.created.v1',
        'o1',
        1,
        '2024-01-01T10:00:00Z',
        { total: '30.00', customer: { tier: 'gold' } },
        ['new'],
        [
          { sku: 'a', qty: 1, price: '10' },
          { sku: 'b', qty: 2, price: '10' },
        ],
      ],
      ['e2', 'payment.processed.v1', 'o1', 2, '2024-01-01T10:00:01.500Z', { amount: '30.00' }, [], []],
      [
        'e3',
        'order.created.v1',
        'o2',
        1,
        '2024-01-02T23:59:59Z',
        { total: '5.00', customer: { tier: 'silver' } },
        ['new', 'promo'],
        [{ sku: 'c', qty: 5, price: '1' }],
      ],
      [
        'e3',
        'order.created.v1',
        'o2',
        1,
        '2024-01-02T23:59:59Z',
        { total: '5.00', customer: { tier: 'silver' } },
        ['new', 'promo'],
        [{ sku: 'c', qty: 5, price: '1' }],
      ],
      ['e4', 'order.cancelled.v1', 'o2', 2, '2024-01-03T00:00:30Z', { reason: 'changed mind' }, [], []],
    ] as const;
    await dataset.table('events').insert(
      events.map(([event_id, type, order_id, sequence, event_time, payload, tags, lines]) => ({
        event_id,
        type,
        order_id,
        sequence,
        event_time,
        payload: JSON.stringify(payload),
        tags,
        lines,
      })),
      { createInsertId: false },
    );
  });
  after(() => bq.stop());

  const run = async (sql: string) => {
    const [rows] = await bq.client.query({
      query: sql.replaceAll('{ds}', ds),
      defaultDataset: { datasetId: ds },
    });
    return plain(rows) as unknown[];
  };

  const cases: Case[] = [
    // Names.
    [
      'backticked project.dataset.table',
      `SELECT COUNT(*) AS n FROM \`${TEST_PROJECT}.{ds}.events\``,
      [{ n: 5 }],
    ],
    [
      'dataset.table and backticked parts',
      `SELECT COUNT(DISTINCT event_id) AS n FROM \`{ds}\`.events`,
      [{ n: 4 }],
    ],
    ['a table of the default dataset', 'SELECT COUNT(*) AS n FROM events', [{ n: 5 }]],
    [
      'anonymous columns are f0_, f1_, ...',
      "SELECT 1, event_id, UPPER(type) FROM events WHERE event_id = 'e2'",
      [{ f0_: 1, event_id: 'e2', f1_: 'PAYMENT.PROCESSED.V1' }],
    ],
    [
      'literal arithmetic is INT64',
      'SELECT 3000 * 1000000 AS micros, 7 / 2 AS ratio',
      [{ micros: 3_000_000_000, ratio: 3.5 }],
    ],
    // De-duplication, windows, CTEs, sets.
    [
      'QUALIFY keeps one row per event id',
      'SELECT event_id FROM events WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY sequence) = 1 ORDER BY event_id',
      [{ event_id: 'e1' }, { event_id: 'e2' }, { event_id: 'e3' }, { event_id: 'e4' }],
    ],
    [
      'window functions: LAG, running SUM, RANK',
      `SELECT x, LAG(x) OVER (ORDER BY x) AS prev, SUM(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
              RANK() OVER (ORDER BY MOD(x, 2)) AS parity_rank
       FROM UNNEST([1, 2, 3, 4]) AS x ORDER BY x`,
      [
        { x: 1, prev: null, running: 1, parity_rank: 3 },
        { x: 2, prev: 1, running: 3, parity_rank: 1 },
        { x: 3, prev: 2, running: 6, parity_rank: 3 },
        { x: 4, prev: 3, running: 10, parity_rank: 1 },
      ],
    ],
    [
      'PERCENTILE_CONT over a window',
      'SELECT DISTINCT PERCENTILE_CONT(x, 0.5) OVER () AS median FROM UNNEST([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) AS x',
      [{ median: 5.5 }],
    ],
    [
      'FIRST_VALUE ... IGNORE NULLS',
      'SELECT FIRST_VALUE(x IGNORE NULLS) OVER (ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first FROM UNNEST([STRUCT(1 AS o, CAST(NULL AS INT64) AS x), STRUCT(2, 5)]) LIMIT 1',
      [{ first: 5 }],
    ],
    [
      'CTEs referring to earlier CTEs',
      "WITH created AS (SELECT DISTINCT order_id FROM events WHERE type = 'order.created.v1'), cancelled AS (SELECT order_id FROM events WHERE type = 'order.cancelled.v1') SELECT COUNT(*) AS still_open FROM created WHERE order_id NOT IN (SELECT order_id FROM cancelled)",
      [{ still_open: 1 }],
    ],
    [
      'UNION ALL / UNION DISTINCT',
      'SELECT COUNT(*) AS n FROM ((SELECT 1 AS x UNION ALL SELECT 1) UNION DISTINCT SELECT 2)',
      [{ n: 2 }],
    ],
    [
      'EXCEPT DISTINCT and INTERSECT DISTINCT',
      '(SELECT x FROM UNNEST([1, 2, 3, 4]) x EXCEPT DISTINCT SELECT 2) INTERSECT DISTINCT SELECT x FROM UNNEST([1, 3]) x ORDER BY x',
      [{ x: 1 }, { x: 3 }],
    ],
    [
      'different set operations need parentheses, as in BigQuery',
      'SELECT 1 UNION ALL SELECT 2 UNION DISTINCT SELECT 3',
      /Different set operations cannot be used in the same query without using parentheses for grouping at \[1:29\]/,
    ],
    [
      'SELECT * EXCEPT / REPLACE',
      "SELECT * EXCEPT (payload, lines, tags, event_time) REPLACE (UPPER(type) AS type) FROM events WHERE event_id = 'e4'",
      [{ event_id: 'e4', type: 'ORDER.CANCELLED.V1', order_id: 'o2', sequence: 2 }],
    ],
    // Dates and times.
    [
      'TIMESTAMP_TRUNC to hour, day, week, week(monday), month',
      `SELECT TIMESTAMP_TRUNC(t, HOUR) AS h, TIMESTAMP_TRUNC(t, DAY) AS d, TIMESTAMP_TRUNC(t, WEEK) AS w, TIMESTAMP_TRUNC(t, WEEK(MONDAY)) AS wm,
              TIMESTAMP_TRUNC(t, MONTH) AS m, TIMESTAMP_TRUNC(t, DAY, 'America/New_York') AS ny
       FROM (SELECT TIMESTAMP '2024-01-03 02:20:30.5+00' AS t)`,
      [
        {
          h: '2024-01-03T02:00:00Z',
          d: '2024-01-03T00:00:00Z',
          w: '2023-12-31T00:00:00Z',
          wm: '2024-01-01T00:00:00Z',
          m: '2024-01-01T00:00:00Z',
          ny: '2024-01-02T05:00:00Z',
        },
      ],
    ],
    [
      'DATE_TRUNC to week, ISO week, month, quarter, year',
      "SELECT DATE_TRUNC(d, WEEK) AS w, DATE_TRUNC(d, ISOWEEK) AS iw, DATE_TRUNC(d, MONTH) AS m, DATE_TRUNC(d, QUARTER) AS q, DATE_TRUNC(d, YEAR) AS y FROM (SELECT DATE '2024-05-15' AS d)",
      [{ w: '2024-05-12', iw: '2024-05-13', m: '2024-05-01', q: '2024-04-01', y: '2024-01-01' }],
    ],
    [
      'DATE() of a timestamp, in UTC and in a time zone',
      "SELECT DATE(TIMESTAMP '2024-01-02 03:00:00+00') AS utc, DATE(TIMESTAMP '2024-01-02 03:00:00+00', 'America/New_York') AS ny, DATE(2024, 2, 29) AS built",
      [{ utc: '2024-01-02', ny: '2024-01-01', built: '2024-02-29' }],
    ],
    [
      'EXTRACT with BigQuery’s numbering',
      `SELECT EXTRACT(DAYOFWEEK FROM DATE '2024-01-07') AS sunday, EXTRACT(DAYOFWEEK FROM DATE '2024-01-06') AS saturday,
              EXTRACT(WEEK FROM DATE '2024-01-06') AS week_before_first_sunday, EXTRACT(WEEK FROM DATE '2024-01-07') AS first_week,
              EXTRACT(ISOWEEK FROM DATE '2024-01-06') AS isoweek, EXTRACT(DAYOFYEAR FROM DATE '2024-02-01') AS doy,
              EXTRACT(HOUR FROM TIMESTAMP '2024-01-01 13:45:00+00') AS hour,
              EXTRACT(HOUR FROM TIMESTAMP '2024-01-01 13:45:00+00' AT TIME ZONE 'America/New_York') AS ny_hour,
              EXTRACT(MICROSECOND FROM TIMESTAMP '2024-01-01 00:00:05.123456+00') AS micros,
              EXTRACT(MILLISECOND FROM TIMESTAMP '2024-01-01 00:00:05.123456+00') AS millis,
              EXTRACT(DATE FROM TIMESTAMP '2024-01-01 23:00:00+00') AS day`,
      [
        {
          sunday: 1,
          saturday: 7,
          week_before_first_sunday: 0,
          first_week: 1,
          isoweek: 1,
          doy: 32,
          hour: 13,
          ny_hour: 8,
          micros: 123456,
          millis: 123,
          day: '2024-01-01',
        },
      ],
    ],
    [
      'TIMESTAMP_DIFF counts whole units',
      `SELECT TIMESTAMP_DIFF(TIMESTAMP '2024-01-02 00:00:00+00', TIMESTAMP '2024-01-01 23:00:00.5+00', MILLISECOND) AS ms,
              TIMESTAMP_DIFF(TIMESTAMP '2024-01-02 00:00:00+00', TIMESTAMP '2024-01-01 23:00:00.5+00', SECOND) AS s,
              TIMESTAMP_DIFF(TIMESTAMP '2024-01-02 00:00:00+00', TIMESTAMP '2024-01-01 23:00:00.5+00', HOUR) AS h,
              TIMESTAMP_DIFF(TIMESTAMP '2024-01-03 00:00:00+00', TIMESTAMP '2024-01-01 12:00:00+00', DAY) AS d`,
      [{ ms: 3599500, s: 3599, h: 0, d: 1 }],
    ],
    [
      'DATE_DIFF counts boundaries',
      `SELECT DATE_DIFF(DATE '2024-03-01', DATE '2024-02-28', DAY) AS days, DATE_DIFF(DATE '2024-01-07', DATE '2024-01-06', WEEK) AS sunday_week,
              DATE_DIFF(DATE '2024-01-08', DATE '2024-01-07', WEEK) AS same_week, DATE_DIFF(DATE '2024-01-08', DATE '2024-01-07', ISOWEEK) AS isoweek,
              DATE_DIFF(DATE '2024-02-01', DATE '2024-01-31', MONTH) AS months, DATE_DIFF(DATE '2024-01-01', DATE '2023-12-31', YEAR) AS years`,
      [{ days: 2, sunday_week: 1, same_week: 0, isoweek: 1, months: 1, years: 1 }],
    ],
    [
      'TIMESTAMP_ADD / TIMESTAMP_SUB / DATE_ADD / DATE_SUB with INTERVAL',
      `SELECT TIMESTAMP_ADD(TIMESTAMP '2024-01-31 10:00:00+00', INTERVAL 90 MINUTE) AS plus, TIMESTAMP_SUB(TIMESTAMP '2024-01-31 10:00:00+00', INTERVAL 1 DAY) AS minus,
              TIMESTAMP '2024-01-31 10:00:00+00' - INTERVAL 2 HOUR AS operator, DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH) AS month_end,
              DATE_SUB(DATE '2024-03-01', INTERVAL 1 DAY) AS leap_day`,
      [
        {
          plus: '2024-01-31T11:30:00Z',
          minus: '2024-01-30T10:00:00Z',
          operator: '2024-01-31T08:00:00Z',
          month_end: '2024-02-29',
          leap_day: '2024-02-29',
        },
      ],
    ],
    [
      'FORMAT_TIMESTAMP and FORMAT_DATE format elements',
      `SELECT FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%E3S', t) AS millis, FORMAT_TIMESTAMP('%F %T %Z', t) AS full, FORMAT_TIMESTAMP('%E*S', t) AS frac,
              FORMAT_TIMESTAMP('%H:%M', t, 'America/New_York') AS ny, FORMAT_DATE('%A %d %B %Y', DATE '2024-01-07') AS long_date,
              FORMAT_DATE('%Y-W%V-%u', DATE '2024-01-07') AS iso
       FROM (SELECT TIMESTAMP '2024-01-02 03:04:05.678901+00' AS t)`,
      [
        {
          millis: '2024-01-02 03:04:05.678',
          full: '2024-01-02 03:04:05 UTC',
          frac: '05.678901',
          ny: '22:04',
          long_date: 'Sunday 07 January 2024',
          iso: '2024-W01-7',
        },
      ],
    ],
    [
      'PARSE_DATE / PARSE_TIMESTAMP and SAFE.',
      "SELECT PARSE_DATE('%Y%m%d', '20240229') AS d, PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S', '2024-01-02 03:04:05') AS t, SAFE.PARSE_DATE('%Y-%m-%d', 'nope') AS bad",
      [{ d: '2024-02-29', t: '2024-01-02T03:04:05Z', bad: null }],
    ],
    [
      'UNIX_* and TIMESTAMP_* conversions',
      "SELECT UNIX_MILLIS(TIMESTAMP '1970-01-01 00:00:01.5+00') AS ms, UNIX_SECONDS(TIMESTAMP '1970-01-01 00:00:01.5+00') AS s, TIMESTAMP_MILLIS(1500) AS from_ms, TIMESTAMP_SECONDS(86400) AS from_s, UNIX_DATE(DATE '1970-01-10') AS days",
      [{ ms: 1500, s: 1, from_ms: '1970-01-01T00:00:01.5Z', from_s: '1970-01-02T00:00:00Z', days: 9 }],
    ],
    [
      'GENERATE_DATE_ARRAY, with a step',
      "SELECT GENERATE_DATE_ARRAY(DATE '2024-02-27', DATE '2024-03-01') AS days, ARRAY_LENGTH(GENERATE_DATE_ARRAY(DATE '2024-01-01', DATE '2024-01-31', INTERVAL 1 WEEK)) AS weeks",
      [{ days: ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01'], weeks: 5 }],
    ],
    [
      'CURRENT_TIMESTAMP and CURRENT_DATE',
      "SELECT CURRENT_TIMESTAMP() > TIMESTAMP '2020-01-01' AS ts, CURRENT_DATE() > DATE '2020-01-01' AS d, CURRENT_TIMESTAMP IS NOT NULL AS bare",
      [{ ts: true, d: true, bare: true }],
    ],
    // JSON.
    [
      'JSON_VALUE, JSON_QUERY, JSON_EXTRACT_SCALAR, dot access',
      `SELECT JSON_VALUE(payload, '$.total') AS total, JSON_VALUE(payload, '$.customer') AS object_is_null, JSON_QUERY(payload, '$.customer') AS customer,
              JSON_EXTRACT_SCALAR(payload, '$.customer.tier') AS tier, JSON_VALUE(payload.customer.tier) AS dotted, JSON_TYPE(payload.total) AS kind,
              JSON_VALUE(payload, "$['customer']['tier']") AS bracketed
       FROM events WHERE event_id = 'e1'`,
      [
        {
          total: '30.00',
          object_is_null: null,
          customer: '{"tier":"gold"}',
          tier: 'gold',
          dotted: 'gold',
          kind: 'string',
          bracketed: 'gold',
        },
      ],
    ],
    [
      'JSON functions on JSON text in a STRING',
      `SELECT JSON_VALUE('{"a": {"b": 1}}', '$.a.b') AS b, JSON_QUERY('{"a": [1, 2]}', '$.a') AS a`,
      [{ b: '1', a: '[1,2]' }],
    ],
    // Structs and arrays.
    [
      'STRUCT construction and field access',
      "SELECT STRUCT(1 AS a, 'x' AS b) AS s, STRUCT<a INT64, b STRING>(2, 'y').b AS typed, (SELECT AS STRUCT 3 AS c).c AS as_struct",
      [{ s: { a: 1, b: 'x' }, typed: 'y', as_struct: 3 }],
    ],
    [
      'ARRAY access with OFFSET, ORDINAL, SAFE_OFFSET',
      "SELECT [1, 2, 3][OFFSET(1)] AS off, [1, 2, 3][ORDINAL(1)] AS ord, [1, 2, 3][SAFE_OFFSET(5)] AS safe, ARRAY_LENGTH([1, 2]) AS len, ARRAY_TO_STRING(['a', 'b'], '-') AS joined",
      [{ off: 2, ord: 1, safe: null, len: 2, joined: 'a-b' }],
    ],
    [
      'OFFSET out of bounds is an error, as in BigQuery',
      'SELECT [1, 2, 3][OFFSET(5)] AS x',
      /Array index 5 is out of bounds \(overflow\)/,
    ],
    [
      'ARRAY subqueries and SELECT AS STRUCT',
      "SELECT ARRAY(SELECT x * 2 FROM UNNEST([3, 1, 2]) AS x ORDER BY x) AS doubled, ARRAY(SELECT AS STRUCT sku, qty FROM UNNEST(lines) ORDER BY sku DESC) AS lines FROM events WHERE event_id = 'e1'",
      [
        {
          doubled: [2, 4, 6],
          lines: [
            { sku: 'b', qty: 2 },
            { sku: 'a', qty: 1 },
          ],
        },
      ],
    ],
    [
      'the latest row per key: ARRAY_AGG(row ORDER BY ... LIMIT 1)[OFFSET(0)]',
      'SELECT latest.order_id, latest.event_id FROM (SELECT ARRAY_AGG(e ORDER BY e.sequence DESC LIMIT 1)[OFFSET(0)] AS latest FROM events e GROUP BY e.order_id) ORDER BY latest.order_id',
      [
        { order_id: 'o1', event_id: 'e2' },
        { order_id: 'o2', event_id: 'e4' },
      ],
    ],
    [
      'struct.* expands a struct: an UNNEST element, an expression',
      "SELECT l.*, STRUCT(1 AS a, 2 AS b).* FROM events, UNNEST(lines) AS l WHERE event_id = 'e1' ORDER BY l.sku",
      [
        { sku: 'a', qty: 1, price: '10', a: 1, b: 2 },
        { sku: 'b', qty: 2, price: '10', a: 1, b: 2 },
      ],
    ],
    [
      'record fields of array elements',
      "SELECT lines[OFFSET(0)].sku AS first_sku, ARRAY_LENGTH(lines) AS n FROM events WHERE event_id = 'e1'",
      [{ first_sku: 'a', n: 2 }],
    ],
    [
      'UNNEST with alias and WITH OFFSET, correlated',
      "SELECT e.event_id, l.sku, l.qty * l.price AS amount, pos FROM events e, UNNEST(e.lines) AS l WITH OFFSET AS pos WHERE e.event_id = 'e1' ORDER BY pos",
      [
        { event_id: 'e1', sku: 'a', amount: '10', pos: 0 },
        { event_id: 'e1', sku: 'b', amount: '20', pos: 1 },
      ],
    ],
    [
      'LEFT JOIN UNNEST keeps rows with empty arrays',
      "SELECT COUNT(*) AS n, COUNTIF(tag IS NULL) AS untagged FROM (SELECT DISTINCT event_id, tags FROM events WHERE event_id IN ('e1', 'e2', 'e3')) e LEFT JOIN UNNEST(e.tags) AS tag",
      [{ n: 4, untagged: 1 }],
    ],
    [
      'implicit UNNEST of an array column',
      "SELECT COUNT(*) AS n FROM events e, e.lines AS line WHERE line.sku = 'c'",
      [{ n: 2 }],
    ],
    [
      'IN UNNEST and EXISTS over UNNEST',
      "SELECT COUNT(DISTINCT event_id) AS n FROM events WHERE 'promo' IN UNNEST(tags) AND EXISTS (SELECT 1 FROM UNNEST(tags) t WHERE t = 'new')",
      [{ n: 1 }],
    ],
    [
      'UNNEST of structs without an alias exposes their fields',
      "SELECT k, v FROM UNNEST([STRUCT('a' AS k, 1 AS v), ('b', 2)]) ORDER BY k",
      [
        { k: 'a', v: 1 },
        { k: 'b', v: 2 },
      ],
    ],
    // Conversions and NULL handling.
    [
      'SAFE_CAST, CAST, SAFE_DIVIDE, IEEE_DIVIDE',
      "SELECT SAFE_CAST('12x' AS INT64) AS bad, SAFE_CAST('12' AS INT64) AS good, CAST('1.50' AS NUMERIC) AS num, SAFE_DIVIDE(1, 0) AS safe_zero, SAFE_DIVIDE(3, 2) AS ratio, IEEE_DIVIDE(1, 0) AS inf",
      [{ bad: null, good: 12, num: '1.5', safe_zero: null, ratio: 1.5, inf: Infinity }],
    ],
    [
      'CAST to INT64 rounds halves away from zero; CAST to STRING prints numbers as BigQuery does',
      "SELECT CAST(2.5 AS INT64) AS up, CAST(-2.5 AS INT64) AS down, CAST(0.5 AS INT64) AS half, CAST(CAST('1.50' AS NUMERIC) AS STRING) AS numeric_text, CAST(1.0 AS STRING) AS float_text, CAST(12 AS STRING) AS int_text",
      [{ up: 3, down: -3, half: 1, numeric_text: '1.5', float_text: '1', int_text: '12' }],
    ],
    ['CAST failures are query errors', "SELECT CAST('12x' AS INT64) AS x", /Bad int64 value: 12x/],
    [
      'IF, IFNULL, COALESCE, NULLIF, GREATEST with NULL',
      "SELECT IF(1 < 2, 'yes', 'no') AS i, IFNULL(NULL, 3) AS n, COALESCE(NULL, NULL, 4) AS c, NULLIF(5, 5) AS z, GREATEST(1, NULL, 3) AS g, LEAST(4, 2) AS l",
      [{ i: 'yes', n: 3, c: 4, z: null, g: null, l: 2 }],
    ],
    // Aggregates.
    [
      'COUNTIF, LOGICAL_AND/OR, ANY_VALUE, APPROX_COUNT_DISTINCT',
      "SELECT order_id, COUNTIF(type = 'order.created.v1') AS created, LOGICAL_AND(sequence > 0) AS all_positive, LOGICAL_OR(type LIKE '%cancelled%') AS cancelled, ANY_VALUE(order_id) AS any, APPROX_COUNT_DISTINCT(event_id) AS events FROM events GROUP BY order_id ORDER BY order_id",
      [
        { order_id: 'o1', created: 1, all_positive: true, cancelled: false, any: 'o1', events: 2 },
        { order_id: 'o2', created: 2, all_positive: true, cancelled: true, any: 'o2', events: 2 },
      ],
    ],
    [
      'ARRAY_AGG with DISTINCT, ORDER BY, IGNORE NULLS, LIMIT; STRING_AGG',
      "SELECT ARRAY_AGG(DISTINCT order_id ORDER BY order_id) AS orders, (SELECT ARRAY_AGG(x IGNORE NULLS ORDER BY x DESC LIMIT 2) FROM UNNEST([3, NULL, 1, 2]) AS x) AS top, STRING_AGG(DISTINCT type, ',' ORDER BY type) AS types FROM events",
      [
        {
          orders: ['o1', 'o2'],
          top: [3, 2],
          types: 'order.cancelled.v1,order.created.v1,payment.processed.v1',
        },
      ],
    ],
    [
      'APPROX_QUANTILES boundaries and [OFFSET(k)]',
      'SELECT APPROX_QUANTILES(x, 4) AS quartiles, APPROX_QUANTILES(x, 100)[OFFSET(90)] AS p90, APPROX_QUANTILES(x, 2) AS halves FROM UNNEST([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) AS x',
      [{ quartiles: [1, 3, 5, 8, 10], p90: 9, halves: [1, 5, 10] }],
    ],
    [
      'APPROX_QUANTILES as in BigQuery’s documentation',
      'SELECT APPROX_QUANTILES(x, 2) AS q FROM UNNEST([1, 1, 1, 4, 5, 6, 7, 8, 9, 10]) AS x',
      [{ q: [1, 5, 10] }],
    ],
    // Strings and math.
    [
      'string functions',
      `SELECT CONCAT('a', NULL) AS null_concat, CONCAT('a', 'b', 'c') AS abc, SPLIT('a,b,,c') AS parts, REGEXP_EXTRACT('order-123', r'(\\d+)') AS digits,
              REGEXP_EXTRACT('abc', r'\\d+') AS none, REGEXP_CONTAINS('abc', r'^a') AS starts, REGEXP_REPLACE('a1b2', r'\\d', '#') AS masked,
              SUBSTR('hello', 0, 2) AS head, SUBSTR('hello', -3) AS tail, LPAD('7', 3, '0') AS padded, FORMAT('%d items', 3) AS formatted,
              STRPOS('hello', 'l') AS pos, TRIM('  x  ') AS trimmed, STARTS_WITH('conveyor', 'con') AS sw`,
      [
        {
          null_concat: null,
          abc: 'abc',
          parts: ['a', 'b', '', 'c'],
          digits: '123',
          none: null,
          starts: true,
          masked: 'a#b#',
          head: 'he',
          tail: 'llo',
          padded: '007',
          formatted: '3 items',
          pos: 3,
          trimmed: 'x',
          sw: true,
        },
      ],
    ],
    [
      'math functions',
      'SELECT ROUND(2.5) AS r, ROUND(-2.5) AS rn, ROUND(2.345, 2) AS r2, DIV(7, 2) AS d, MOD(-7, 2) AS m, LOG(8, 2) AS lg, POW(2, 10) AS p, ABS(-3) AS a, 5 / 2 AS q',
      [{ r: 3, rn: -3, r2: 2.35, d: 3, m: -1, lg: 3, p: 1024, a: 3, q: 2.5 }],
    ],
    [
      'GROUP BY, HAVING, ORDER BY alias, LIMIT / OFFSET',
      'SELECT type, COUNT(*) AS n FROM events GROUP BY type HAVING n >= 1 ORDER BY n DESC, type LIMIT 2 OFFSET 1',
      [
        { type: 'order.cancelled.v1', n: 1 },
        { type: 'payment.processed.v1', n: 1 },
      ],
    ],
    // Errors.
    ['an unknown column', 'SELECT nope FROM events', /^Unrecognized name: nope at \[1:8\]$/],
    ['an unknown function', 'SELECT NOT_A_FUNCTION(1)', /^Function not found: NOT_A_FUNCTION at \[1:8\]$/],
    [
      'a BigQuery feature the emulator does not translate',
      'SELECT * FROM events FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()',
      /FOR SYSTEM_TIME AS OF is not supported by the BigQuery emulator at \[1:22\]/,
    ],
    [
      'a syntax error, located',
      'SELECT event_id\nFROM events\nWHERE (type = ',
      /^Syntax error: Unexpected end of script at \[3:15\]$/,
    ],
    [
      'a missing table',
      'SELECT * FROM {ds}.nope',
      /^Not found: Table conveyor-test:gsql_\w+\.nope was not found in location US$/,
    ],
    [
      'scripts are refused',
      'SELECT 1; SELECT 2',
      /Multi-statement queries \(scripts\) are not supported by the BigQuery emulator at \[1:11\]/,
    ],
  ];

  for (const [name, sql, expected] of cases) {
    it(name, async () => {
      if (expected instanceof RegExp) {
        await assert.rejects(run(sql), (error: { message: string; errors?: { reason: string }[] }) => {
          assert.match(error.message, expected);
          return true;
        });
        return;
      }
      assert.deepEqual(await run(sql), expected);
    });
  }

  it('sums revenue read from JSON payloads exactly', async () => {
    const rows = await run(
      "SELECT SUM(CAST(JSON_VALUE(payload, '$.total') AS NUMERIC)) AS revenue FROM events WHERE type = 'order.created.v1'",
    );
    assert.deepEqual(rows, [{ revenue: '40' }]);
  });
});
