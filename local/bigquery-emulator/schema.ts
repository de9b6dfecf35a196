/**
 * Table schemas: BigQuery's TableFieldSchema, normalised the way the API reports it (legacy type
 * names, mode always present), and its mapping to and from DuckDB column types.
 */
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { invalid, invalidQuery, text } from './errors.ts';

export type FieldMode = 'NULLABLE' | 'REQUIRED' | 'REPEATED';

export interface Field {
  name: string;
  type: string;
  mode: FieldMode;
  fields?: Field[];
  description?: string;
  /** Other TableFieldSchema properties (maxLength, precision, policyTags, ...) are kept as given. */
  [other: string]: unknown;
}

/** Standard SQL names the API accepts, mapped to the names it reports. */
const TYPE_ALIASES: Record<string, string> = {
  STRING: 'STRING',
  BYTES: 'BYTES',
  INTEGER: 'INTEGER',
  INT64: 'INTEGER',
  FLOAT: 'FLOAT',
  FLOAT64: 'FLOAT',
  NUMERIC: 'NUMERIC',
  DECIMAL: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
  BOOLEAN: 'BOOLEAN',
  BOOL: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  TIME: 'TIME',
  DATETIME: 'DATETIME',
  GEOGRAPHY: 'GEOGRAPHY',
  JSON: 'JSON',
  INTERVAL: 'INTERVAL',
  RECORD: 'RECORD',
  STRUCT: 'RECORD',
};

/**
 * NUMERIC is DECIMAL(38, 9) exactly as in BigQuery. DuckDB decimals stop at 38 digits, so
 * BIGNUMERIC (76 digits, scale 38 in BigQuery) is stored as DECIMAL(38, 18): 20 integer digits.
 */
export const NUMERIC_SCALE = 9;
export const BIGNUMERIC_SCALE = 18;

const DUCK_SCALARS: Record<string, string> = {
  STRING: 'VARCHAR',
  BYTES: 'BLOB',
  INTEGER: 'BIGINT',
  FLOAT: 'DOUBLE',
  NUMERIC: `DECIMAL(38, ${NUMERIC_SCALE})`,
  BIGNUMERIC: `DECIMAL(38, ${BIGNUMERIC_SCALE})`,
  BOOLEAN: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATE: 'DATE',
  TIME: 'TIME',
  DATETIME: 'TIMESTAMP',
  GEOGRAPHY: 'VARCHAR',
  JSON: 'JSON',
  INTERVAL: 'INTERVAL',
};

const MAX_FIELD_NAME = 300;
const MAX_DEPTH = 15;

/** Validates a schema from a request and returns it as BigQuery reports it back. */
export function normalizeFields(input: unknown, path = ''): Field[] {
  if (!Array.isArray(input)) throw invalid('Invalid schema: fields must be a list.');
  if (path.split('.').length > MAX_DEPTH) throw invalid(`Field ${path} exceeds the maximum nesting depth.`);
  const seen = new Set<string>();
  return input.map((raw: unknown) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalid('Invalid field in schema.');
    const { name, type, mode, fields, ...rest } = raw as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0) throw invalid('Empty field name in schema.');
    const fullName = path ? `${path}.${name}` : name;
    if (
      name.length > MAX_FIELD_NAME ||
      /[\s.`"\\]/.test(name) ||
      /^_(PARTITION|TABLE_|FILE_|ROW_TIMESTAMP)/i.test(name)
    )
      throw invalid(
        `Invalid field name "${name}". Fields must contain only letters, numbers, and underscores, start with a letter or underscore, and be at most ${MAX_FIELD_NAME} characters long.`,
      );
    const key = name.toLowerCase();
    if (seen.has(key)) throw invalid(`Field ${fullName} already exists in schema`);
    seen.add(key);
    const normalizedType = TYPE_ALIASES[text(type).toUpperCase()];
    if (!normalizedType) {
      if (text(type).toUpperCase() === 'RANGE')
        throw invalid('RANGE columns are not supported by the BigQuery emulator');
      throw invalid(`Invalid value for type: ${text(type)} is not a valid value`);
    }
    const normalizedMode = text(mode ?? 'NULLABLE').toUpperCase();
    if (normalizedMode !== 'NULLABLE' && normalizedMode !== 'REQUIRED' && normalizedMode !== 'REPEATED')
      throw invalid(`Invalid value for mode: ${text(mode)} is not a valid value`);
    const field: Field = { name, type: normalizedType, mode: normalizedMode, ...rest };
    if (normalizedType === 'RECORD') {
      if (!Array.isArray(fields) || fields.length === 0)
        throw invalid(`Field ${fullName} is type RECORD but has no schema`);
      field.fields = normalizeFields(fields, fullName);
    }
    return field;
  });
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** The DuckDB type of a column (without NOT NULL). */
export function duckType(field: Field): string {
  const base =
    field.type === 'RECORD'
      ? `STRUCT(${(field.fields ?? []).map((f) => `${quote(f.name)} ${duckType(f)}`).join(', ')})`
      : DUCK_SCALARS[field.type];
  if (!base) throw invalid(`Unsupported field type ${field.type}`);
  return field.mode === 'REPEATED' ? `${base}[]` : base;
}

/** Column definitions for CREATE TABLE. */
export function columnDefinitions(fields: readonly Field[]): string {
  return fields
    .map((f) => `${quote(f.name)} ${duckType(f)}${f.mode === 'REQUIRED' ? ' NOT NULL' : ''}`)
    .join(', ');
}

/** The BigQuery field describing a DuckDB result column (query results, views, CTAS). */
export function fieldFromDuckType(name: string, type: DuckDBType): Field {
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) {
    const element = (type as DuckDBType & { valueType: DuckDBType }).valueType;
    if (element.typeId === DuckDBTypeId.LIST || element.typeId === DuckDBTypeId.ARRAY)
      throw invalidQuery(
        `Cannot return an array of arrays in column ${name}: nested arrays are not supported`,
      );
    return { ...fieldFromDuckType(name, element), mode: 'REPEATED' };
  }
  if (type.typeId === DuckDBTypeId.STRUCT) {
    const struct = type as DuckDBType & { entryNames: readonly string[]; entryTypes: readonly DuckDBType[] };
    return {
      name,
      type: 'RECORD',
      mode: 'NULLABLE',
      fields: struct.entryNames.map((entry, i) => fieldFromDuckType(entry, struct.entryTypes[i]!)),
    };
  }
  return { name, type: scalarTypeFromDuck(type), mode: 'NULLABLE' };
}

const SCALAR_TYPES = new Map<DuckDBTypeId, string>([
  [DuckDBTypeId.BOOLEAN, 'BOOLEAN'],
  ...[
    DuckDBTypeId.TINYINT,
    DuckDBTypeId.SMALLINT,
    DuckDBTypeId.INTEGER,
    DuckDBTypeId.BIGINT,
    DuckDBTypeId.HUGEINT,
    DuckDBTypeId.UHUGEINT,
    DuckDBTypeId.UTINYINT,
    DuckDBTypeId.USMALLINT,
    DuckDBTypeId.UINTEGER,
    DuckDBTypeId.UBIGINT,
    DuckDBTypeId.SQLNULL,
  ].map((id) => [id, 'INTEGER'] as const),
  [DuckDBTypeId.FLOAT, 'FLOAT'],
  [DuckDBTypeId.DOUBLE, 'FLOAT'],
  [DuckDBTypeId.BLOB, 'BYTES'],
  [DuckDBTypeId.DATE, 'DATE'],
  [DuckDBTypeId.TIME, 'TIME'],
  [DuckDBTypeId.TIME_TZ, 'TIME'],
  [DuckDBTypeId.TIMESTAMP_TZ, 'TIMESTAMP'],
  [DuckDBTypeId.TIMESTAMP, 'DATETIME'],
  [DuckDBTypeId.TIMESTAMP_S, 'DATETIME'],
  [DuckDBTypeId.TIMESTAMP_MS, 'DATETIME'],
  [DuckDBTypeId.TIMESTAMP_NS, 'DATETIME'],
  [DuckDBTypeId.INTERVAL, 'INTERVAL'],
]);

/** Anything else DuckDB may produce (VARCHAR, UUID, ENUM, MAP, ...) is reported as STRING. */
function scalarTypeFromDuck(type: DuckDBType): string {
  if (type.alias?.toUpperCase() === 'JSON') return 'JSON';
  if (type.typeId === DuckDBTypeId.DECIMAL)
    return (type as DuckDBType & { scale: number }).scale > NUMERIC_SCALE ? 'BIGNUMERIC' : 'NUMERIC';
  return SCALAR_TYPES.get(type.typeId) ?? 'STRING';
}

/** Finds a field by name, case-insensitively as BigQuery does. */
export function findField(fields: readonly Field[], name: string): Field | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower);
}
