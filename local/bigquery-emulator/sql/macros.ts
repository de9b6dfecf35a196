/**
 * DuckDB macros that give translated GoogleSQL BigQuery's semantics where DuckDB's built-ins
 * differ: array access that fails out of bounds, JSON_VALUE returning NULL for objects, SUBSTR
 * with position 0, weeks that start on any weekday. Created (or replaced) when the engine opens.
 */
export const MACROS: readonly string[] = [
  // OFFSET(i): zero-based, an error outside the array, as in BigQuery.
  `CREATE OR REPLACE MACRO bq_offset(arr, i) AS CASE
     WHEN arr IS NULL OR i IS NULL THEN NULL
     WHEN i < 0 THEN error('Array index ' || i || ' is out of bounds (underflow)')
     WHEN i >= len(arr) THEN error('Array index ' || i || ' is out of bounds (overflow)')
     ELSE arr[i + 1] END`,
  `CREATE OR REPLACE MACRO bq_ordinal(arr, i) AS CASE
     WHEN arr IS NULL OR i IS NULL THEN NULL
     WHEN i < 1 THEN error('Array index ' || i || ' is out of bounds (underflow)')
     WHEN i > len(arr) THEN error('Array index ' || i || ' is out of bounds (overflow)')
     ELSE arr[i] END`,
  `CREATE OR REPLACE MACRO bq_safe_offset(arr, i) AS CASE
     WHEN i < 0 OR i >= len(arr) THEN NULL ELSE arr[i + 1] END`,
  `CREATE OR REPLACE MACRO bq_safe_ordinal(arr, i) AS CASE
     WHEN i < 1 OR i > len(arr) THEN NULL ELSE arr[i] END`,
  // A bare subscript is OFFSET on arrays and a zero-based index (or key) on JSON.
  `CREATE OR REPLACE MACRO bq_index(x, k) AS CASE
     WHEN typeof(x) = 'JSON' THEN x[k] ELSE bq_offset(x, k) END`,
  `CREATE OR REPLACE MACRO bq_json_value(j, p) AS CASE
     WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END`,
  `CREATE OR REPLACE MACRO bq_json_type(j) AS CASE json_type(j)
     WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' WHEN 'VARCHAR' THEN 'string'
     WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' ELSE 'number' END`,
  `CREATE OR REPLACE MACRO bq_substr3(s, p, l) AS CASE
     WHEN l < 0 THEN error('Third argument in SUBSTR() cannot be negative')
     ELSE substring(s, CASE WHEN p = 0 THEN 1 WHEN p < 0 AND -p > length(s) THEN 1 ELSE p END, l) END`,
  `CREATE OR REPLACE MACRO bq_substr2(s, p) AS
     substring(s, CASE WHEN p = 0 THEN 1 WHEN p < 0 AND -p > length(s) THEN 1 ELSE p END)`,
  // The start of the week containing d for weeks that begin o days after Monday.
  `CREATE OR REPLACE MACRO bq_week_start(d, o) AS date_trunc('week', d - to_days(o)) + to_days(o)`,
  // Week number within the year for weeks starting on weekday w (0 = Sunday); days before the
  // year's first such weekday are in week 0 (EXTRACT(WEEK(<weekday>) ...)).
  `CREATE OR REPLACE MACRO bq_week_of_year(d, w) AS
     (dayofyear(d) - 1 - ((w - dayofweek(make_date(year(d), 1, 1)) + 7) % 7) + 7) // 7`,
  // %E*S: seconds with as many fractional digits as needed.
  `CREATE OR REPLACE MACRO bq_seconds_fraction(t) AS CASE
     WHEN microsecond(t) % 1000000 = 0 THEN strftime(t, '%S')
     ELSE strftime(t, '%S') || '.' || rtrim(lpad(CAST(microsecond(t) % 1000000 AS VARCHAR), 6, '0'), '0') END`,
  // APPROX_QUANTILES(x, n): n + 1 boundaries by nearest rank over the sorted non-null values, in
  // exact integer arithmetic (the k-th boundary is the ceil(k * N / n)-th value, at least the first).
  `CREATE OR REPLACE MACRO bq_quantiles(sorted, n) AS CASE WHEN len(sorted) > 0 THEN
     list_transform(range(n + 1), k -> sorted[greatest(1, (k * len(sorted) + n - 1) // n)]) END`,
  // CAST(x AS INT64): halves round away from zero, as DuckDB does from DECIMAL (from DOUBLE it
  // rounds them to even); text is parsed as an integer, as in GoogleSQL.
  `CREATE OR REPLACE MACRO bq_int64(x) AS CASE
     WHEN typeof(x) = 'VARCHAR' THEN CAST(x AS BIGINT)
     ELSE CAST(CAST(x AS DECIMAL(38, 9)) AS BIGINT) END`,
  `CREATE OR REPLACE MACRO bq_try_int64(x) AS CASE
     WHEN typeof(x) = 'VARCHAR' THEN TRY_CAST(x AS BIGINT)
     ELSE TRY_CAST(TRY_CAST(x AS DECIMAL(38, 9)) AS BIGINT) END`,
  // CAST(x AS STRING) as GoogleSQL prints numbers: NUMERIC without trailing zeros, 1.0 as "1".
  `CREATE OR REPLACE MACRO bq_to_string(x) AS CASE
     WHEN typeof(x) LIKE 'DECIMAL%' AND contains(CAST(x AS VARCHAR), '.')
       THEN rtrim(rtrim(CAST(x AS VARCHAR), '0'), '.')
     WHEN typeof(x) IN ('DOUBLE', 'FLOAT') AND ends_with(CAST(x AS VARCHAR), '.0')
       THEN substring(CAST(x AS VARCHAR), 1, length(CAST(x AS VARCHAR)) - 2)
     ELSE CAST(x AS VARCHAR) END`,
  `CREATE OR REPLACE MACRO bq_regexp_extract(s, re, g) AS CASE
     WHEN regexp_matches(s, re) THEN regexp_extract(s, re, g) END`,
];
