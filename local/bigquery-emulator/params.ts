/**
 * Query parameters (https://cloud.google.com/bigquery/docs/parameterized-queries) as typed DuckDB
 * literals, inlined where the query names them. Inlining keeps the parameter's declared type
 * exactly (an INT64 parameter is a BIGINT, a TIMESTAMP one a TIMESTAMPTZ), arrays and structs
 * included, and needs no binding of DuckDB values.
 */
import { ApiError, invalid } from './errors.ts';
import { quoteIdentifier, quoteString } from './sql/tree.ts';
import {
  formatDays,
  parseDate,
  parseDatetime,
  parseDecimal,
  parseInterval,
  parseTime,
  parseTimestamp,
} from './values.ts';

export interface QueryParameterType {
  type?: string;
  arrayType?: QueryParameterType;
  structTypes?: { name?: string; type?: QueryParameterType }[];
}

export interface QueryParameterValue {
  value?: string | null;
  arrayValues?: QueryParameterValue[];
  structValues?: Record<string, QueryParameterValue>;
}

export interface QueryParameter {
  name?: string;
  parameterType?: QueryParameterType;
  parameterValue?: QueryParameterValue;
}

const TYPE_NAMES: Record<string, string> = {
  STRING: 'STRING',
  INT64: 'INT64',
  INTEGER: 'INT64',
  FLOAT64: 'FLOAT64',
  FLOAT: 'FLOAT64',
  BOOL: 'BOOL',
  BOOLEAN: 'BOOL',
  NUMERIC: 'NUMERIC',
  DECIMAL: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  DATETIME: 'DATETIME',
  TIME: 'TIME',
  BYTES: 'BYTES',
  JSON: 'JSON',
  GEOGRAPHY: 'GEOGRAPHY',
  INTERVAL: 'INTERVAL',
  ARRAY: 'ARRAY',
  STRUCT: 'STRUCT',
  RECORD: 'STRUCT',
};

const DUCK_TYPES: Record<string, string> = {
  STRING: 'VARCHAR',
  INT64: 'BIGINT',
  FLOAT64: 'DOUBLE',
  BOOL: 'BOOLEAN',
  NUMERIC: 'DECIMAL(38, 9)',
  BIGNUMERIC: 'DECIMAL(38, 18)',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATE: 'DATE',
  DATETIME: 'TIMESTAMP',
  TIME: 'TIME',
  BYTES: 'BLOB',
  JSON: 'JSON',
  GEOGRAPHY: 'VARCHAR',
  INTERVAL: 'INTERVAL',
};

export interface CompiledParameters {
  named: Map<string, string>;
  positional: string[];
}

/** Checks the request's parameters and renders each as a DuckDB expression. */
export function compileParameters(parameters: unknown, mode: unknown): CompiledParameters {
  const named = new Map<string, string>();
  const positional: string[] = [];
  if (parameters === undefined || parameters === null) return { named, positional };
  if (!Array.isArray(parameters)) throw invalid('queryParameters must be a list');
  const upperMode = typeof mode === 'string' ? mode.toUpperCase() : undefined;
  if (upperMode !== undefined && upperMode !== 'NAMED' && upperMode !== 'POSITIONAL')
    throw invalid(`Invalid value for parameterMode: ${String(mode)}`);
  parameters.forEach((raw: unknown, index) => {
    const parameter = (raw ?? {}) as QueryParameter;
    const isNamed =
      upperMode === 'NAMED' ||
      (upperMode === undefined && typeof parameter.name === 'string' && parameter.name !== '');
    const label = isNamed ? String(parameter.name ?? '') : `#${index + 1}`;
    if (isNamed && !parameter.name) throw invalid('Named query parameters must have a name');
    const rendered = render(parameter.parameterType, parameter.parameterValue, label);
    if (isNamed) {
      const key = label.toLowerCase();
      if (named.has(key)) throw invalid(`Duplicate query parameter name: ${label}`);
      named.set(key, rendered);
    } else positional.push(rendered);
  });
  if (named.size > 0 && positional.length > 0)
    throw invalid('Cannot mix named and positional query parameters');
  return { named, positional };
}

function typeName(type: QueryParameterType | undefined, label: string): string {
  const name = TYPE_NAMES[String(type?.type ?? '').toUpperCase()];
  if (!name) {
    if (String(type?.type).toUpperCase() === 'RANGE')
      throw invalid(
        `Query parameter '${label}': RANGE parameters are not supported by the BigQuery emulator`,
      );
    throw invalid(`Query parameter '${label}' has an invalid type: ${String(type?.type)}`);
  }
  return name;
}

/** The DuckDB type of a parameter type. */
function duckType(type: QueryParameterType | undefined, label: string): string {
  const name = typeName(type, label);
  if (name === 'ARRAY') return `${duckType(type?.arrayType, label)}[]`;
  if (name === 'STRUCT')
    return `STRUCT(${(type?.structTypes ?? [])
      .map((f, k) => `${quoteIdentifier(f.name || `_field_${k + 1}`)} ${duckType(f.type, label)}`)
      .join(', ')})`;
  return DUCK_TYPES[name]!;
}

function isNullValue(value: QueryParameterValue | undefined): boolean {
  return (
    value === undefined ||
    value === null ||
    ((value.value === undefined || value.value === null) &&
      value.arrayValues === undefined &&
      value.structValues === undefined)
  );
}

function render(
  type: QueryParameterType | undefined,
  value: QueryParameterValue | undefined,
  label: string,
): string {
  const name = typeName(type, label);
  if (name === 'ARRAY') {
    if (value?.arrayValues === undefined && isNullValue(value))
      return `CAST(NULL AS ${duckType(type, label)})`;
    const items = (value?.arrayValues ?? []).map((item) => render(type?.arrayType, item, label));
    return `CAST([${items.join(', ')}] AS ${duckType(type, label)})`;
  }
  if (name === 'STRUCT') {
    if (isNullValue(value)) return `CAST(NULL AS ${duckType(type, label)})`;
    const fields = (type?.structTypes ?? []).map((field, k) => {
      const fieldName = field.name || `_field_${k + 1}`;
      return `${quoteIdentifier(fieldName)} := ${render(field.type, value?.structValues?.[fieldName], label)}`;
    });
    return `struct_pack(${fields.join(', ')})`;
  }
  if (isNullValue(value)) return `CAST(NULL AS ${DUCK_TYPES[name]})`;
  const raw: unknown = value?.value;
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')
    throw invalid(
      `Invalid JSON payload received. Query parameter '${label}': parameterValue.value must be a string, not ${JSON.stringify(raw)}`,
    );
  const text = String(raw);
  const bad = () =>
    new ApiError(
      400,
      'invalidQuery',
      `Query parameter '${label}' has value '${text}' that cannot be interpreted as ${name}`,
    );
  switch (name) {
    case 'STRING':
    case 'GEOGRAPHY':
      return quoteString(text);
    case 'INT64': {
      if (!/^\s*[+-]?\d+\s*$/.test(text)) throw bad();
      const parsed = BigInt(text.trim());
      if (parsed < -(2n ** 63n) || parsed > 2n ** 63n - 1n) throw bad();
      return `CAST(${parsed.toString()} AS BIGINT)`;
    }
    case 'FLOAT64': {
      const lower = text.trim().toLowerCase();
      if (['nan', 'inf', '+inf', '-inf', 'infinity', '+infinity', '-infinity'].includes(lower))
        return `CAST(${quoteString(lower.replace('infinity', 'inf'))} AS DOUBLE)`;
      if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim())) throw bad();
      return `CAST(${quoteString(text.trim())} AS DOUBLE)`;
    }
    case 'BOOL': {
      const lower = text.trim().toLowerCase();
      if (lower !== 'true' && lower !== 'false') throw bad();
      return lower.toUpperCase();
    }
    case 'NUMERIC':
    case 'BIGNUMERIC': {
      const scale = name === 'NUMERIC' ? 9 : 18;
      const scaled = parseDecimal(text, scale);
      if (scaled === undefined || scaled >= 10n ** 38n || scaled <= -(10n ** 38n)) throw bad();
      return `CAST(${quoteString(text.trim())} AS DECIMAL(38, ${scale}))`;
    }
    case 'TIMESTAMP': {
      const micros = parseTimestamp(text);
      if (micros === undefined) throw bad();
      return `CAST(make_timestamp(${micros}) AS TIMESTAMPTZ)`;
    }
    case 'DATE': {
      const days = parseDate(text.trim());
      if (days === undefined) throw bad();
      return `CAST('${formatDays(days)}' AS DATE)`;
    }
    case 'DATETIME': {
      const micros = parseDatetime(text.trim());
      if (micros === undefined) throw bad();
      return `make_timestamp(${micros})`;
    }
    case 'TIME': {
      if (parseTime(text.trim()) === undefined) throw bad();
      return `CAST(${quoteString(text.trim())} AS TIME)`;
    }
    case 'BYTES':
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw bad();
      return `from_base64(${quoteString(text)})`;
    case 'JSON':
      try {
        return `json(${quoteString(JSON.stringify(JSON.parse(text)))})`;
      } catch {
        throw bad();
      }
    case 'INTERVAL': {
      const interval = parseInterval(text.trim());
      if (!interval) throw bad();
      return `(to_months(${interval.months}) + to_days(${interval.days}) + to_microseconds(${interval.micros}))`;
    }
    default:
      throw bad();
  }
}
