/**
 * Values crossing the REST boundary. In: the JSON of tabledata.insertAll rows, checked against the
 * table schema the way BigQuery checks streamed rows, converted to DuckDB values for the appender.
 * Out: DuckDB values rendered as BigQuery's row format, `{f: [{v: ...}]}`, where every scalar is a
 * string (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/list).
 */
import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { BIGNUMERIC_SCALE, NUMERIC_SCALE, type Field } from './schema.ts';

/** One entry of `insertErrors[].errors`, as BigQuery writes it. */
export interface RowError {
  reason: string;
  location: string;
  debugInfo: string;
  message: string;
}

const rowError = (location: string, message: string): RowError => ({
  reason: 'invalid',
  location,
  debugInfo: '',
  message,
});

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MICROS_PER_DAY = 86_400_000_000n;
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, BigQuery's TIMESTAMP range. */
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Converts one row's `json` to DuckDB values in schema order, collecting every problem instead of
 * stopping at the first, as BigQuery reports all of a row's errors.
 */
export function convertRow(
  fields: readonly Field[],
  json: unknown,
  ignoreUnknownValues: boolean,
): { values: DuckDBValue[]; errors: RowError[] } {
  const errors: RowError[] = [];
  const values = convertRecord(fields, json ?? {}, '', ignoreUnknownValues, errors);
  return { values, errors };
}

function convertRecord(
  fields: readonly Field[],
  input: unknown,
  path: string,
  ignoreUnknownValues: boolean,
  errors: RowError[],
): DuckDBValue[] {
  if (!isPlainObject(input)) {
    errors.push(rowError(path, `This field: ${path} is not a record.`));
    return [];
  }
  const byName = new Map<string, Field>();
  for (const field of fields) byName.set(field.name.toLowerCase(), field);
  const given = new Map<string, unknown>();
  for (const [key, value] of Object.entries(input)) {
    const field = byName.get(key.toLowerCase());
    if (!field) {
      if (!ignoreUnknownValues) {
        const location = path ? `${path}.${key}` : key;
        errors.push(rowError(location, `no such field: ${location}.`));
      }
      continue;
    }
    given.set(field.name, value);
  }
  return fields.map((field) =>
    convertField(
      field,
      given.get(field.name),
      path ? `${path}.${field.name}` : field.name,
      ignoreUnknownValues,
      errors,
    ),
  );
}

function convertField(
  field: Field,
  value: unknown,
  location: string,
  ignoreUnknownValues: boolean,
  errors: RowError[],
): DuckDBValue {
  if (value === undefined || value === null) {
    if (field.mode === 'REPEATED') return new DuckDBListValue([]);
    if (field.mode === 'REQUIRED') errors.push(rowError(location, `Missing required field: ${location}.`));
    return null;
  }
  if (field.mode === 'REPEATED') {
    if (!Array.isArray(value)) {
      errors.push(rowError(location, `Repeated field must be imported as a JSON array. Field: ${location}.`));
      return null;
    }
    return new DuckDBListValue(
      value.map((item) => {
        if (item === null || item === undefined) {
          errors.push(rowError(location, `Repeated field ${location} cannot contain a NULL element.`));
          return null;
        }
        return convertSingle(field, item, location, ignoreUnknownValues, errors);
      }),
    );
  }
  if (Array.isArray(value)) {
    errors.push(rowError(location, `Array specified for non-repeated field: ${location}.`));
    return null;
  }
  return convertSingle(field, value, location, ignoreUnknownValues, errors);
}

function convertSingle(
  field: Field,
  value: unknown,
  location: string,
  ignoreUnknownValues: boolean,
  errors: RowError[],
): DuckDBValue {
  if (field.type === 'RECORD') {
    const fields = field.fields ?? [];
    const converted = convertRecord(fields, value, location, ignoreUnknownValues, errors);
    if (converted.length !== fields.length) return null;
    const entries: Record<string, DuckDBValue> = {};
    fields.forEach((f, i) => (entries[f.name] = converted[i] ?? null));
    return new DuckDBStructValue(entries);
  }
  if (isPlainObject(value) && field.type !== 'JSON') {
    errors.push(rowError(location, `This field: ${location} is not a record.`));
    return null;
  }
  const result = convertScalar(field.type, value);
  if (typeof result === 'object' && result !== null && 'error' in result) {
    errors.push(rowError(location, result.error));
    return null;
  }
  return result;
}

type Converted = DuckDBValue | { error: string };

function convertScalar(type: string, value: unknown): Converted {
  switch (type) {
    case 'STRING':
    case 'GEOGRAPHY':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'bigint') return String(value);
      return { error: `Cannot convert value to string (bad value): ${show(value)}` };
    case 'INTEGER':
      return toInt64(value);
    case 'FLOAT':
      return toFloat(value);
    case 'BOOLEAN':
      return toBoolean(value);
    case 'NUMERIC':
      return toDecimal(value, NUMERIC_SCALE, 'NUMERIC');
    case 'BIGNUMERIC':
      return toDecimal(value, BIGNUMERIC_SCALE, 'BIGNUMERIC');
    case 'BYTES':
      return toBytes(value);
    case 'TIMESTAMP': {
      const micros = parseTimestamp(value);
      return micros === undefined
        ? {
            error: `Could not parse '${show(value)}' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]`,
          }
        : new DuckDBTimestampTZValue(micros);
    }
    case 'DATE': {
      const days = typeof value === 'string' ? parseDate(value.trim()) : undefined;
      return days === undefined ? { error: `Invalid date: '${show(value)}'` } : new DuckDBDateValue(days);
    }
    case 'DATETIME': {
      const micros = typeof value === 'string' ? parseDatetime(value.trim()) : undefined;
      return micros === undefined
        ? { error: `Invalid datetime string "${show(value)}"` }
        : new DuckDBTimestampValue(micros);
    }
    case 'TIME': {
      const micros = typeof value === 'string' ? parseTime(value.trim()) : undefined;
      return micros === undefined
        ? { error: `Invalid time string "${show(value)}"` }
        : new DuckDBTimeValue(micros);
    }
    case 'JSON':
      return toJson(value);
    case 'INTERVAL': {
      const interval = typeof value === 'string' ? parseInterval(value.trim()) : undefined;
      return interval ?? { error: `Invalid interval value: ${show(value)}` };
    }
    default:
      return { error: `Unsupported field type ${type}` };
  }
}

function toInt64(value: unknown): Converted {
  let parsed: bigint | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) parsed = BigInt(value);
  else if (typeof value === 'bigint') parsed = value;
  else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) parsed = BigInt(value.trim());
  if (parsed === undefined || parsed < INT64_MIN || parsed > INT64_MAX)
    return { error: `Cannot convert value to integer (bad value): ${show(value)}` };
  return parsed;
}

function toFloat(value: unknown): Converted {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const text = value.trim();
    const lower = text.toLowerCase();
    if (lower === 'nan') return NaN;
    if (lower === 'infinity' || lower === 'inf' || lower === '+infinity' || lower === '+inf') return Infinity;
    if (lower === '-infinity' || lower === '-inf') return -Infinity;
    if (text !== '' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  }
  return { error: `Cannot convert value to floating point (bad value): ${show(value)}` };
}

function toBoolean(value: unknown): Converted {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true' || lower === '1') return true;
    if (lower === 'false' || lower === '0') return false;
  }
  return { error: `Cannot convert value to boolean (bad value): ${show(value)}` };
}

/** Parses a decimal to a value scaled by 10^scale, rounding half away from zero as BigQuery does. */
export function parseDecimal(text: string, scale: number): bigint | undefined {
  const match = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?\s*$/i.exec(text);
  if (!match) return undefined;
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  if (whole === '' && fraction === '') return undefined;
  let digits = (whole + fraction).replace(/^0+(?=\d)/, '');
  let pointShift = Number(exponent) - fraction.length + scale;
  if (!Number.isSafeInteger(pointShift) || pointShift > 200) return undefined;
  let roundUp = false;
  if (pointShift < 0) {
    const cut = digits.length + pointShift;
    const dropped = cut > 0 ? digits.slice(cut) : digits.padStart(-pointShift, '0');
    roundUp = dropped.length > 0 && dropped.length >= -pointShift && dropped[0]! >= '5';
    digits = cut > 0 ? digits.slice(0, cut) : '0';
    pointShift = 0;
  }
  let scaled = BigInt(digits || '0') * 10n ** BigInt(pointShift);
  if (roundUp) scaled += 1n;
  return sign === '-' ? -scaled : scaled;
}

function toDecimal(value: unknown, scale: number, typeName: string): Converted {
  const text =
    typeof value === 'number' ? numberToPlainString(value) : typeof value === 'string' ? value : undefined;
  const scaled = text === undefined ? undefined : parseDecimal(text, scale);
  const limit = 10n ** 38n;
  if (scaled === undefined || scaled >= limit || scaled <= -limit)
    return { error: `Invalid ${typeName} value: ${show(value)}` };
  return new DuckDBDecimalValue(scaled, 38, scale);
}

function numberToPlainString(value: number): string | undefined {
  return Number.isFinite(value) ? String(value) : undefined;
}

function toBytes(value: unknown): Converted {
  if (typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value.replace(/\s/g, '')))
    return new DuckDBBlobValue(new Uint8Array(Buffer.from(value, 'base64')));
  return { error: `Could not decode base64 string to bytes. Value: ${show(value)}` };
}

/**
 * JSON columns take JSON text in streamed rows, as BigQuery documents for insertAll. Anything
 * else is refused rather than guessed at, so rows the emulator accepts are rows BigQuery accepts.
 */
function toJson(value: unknown): Converted {
  if (typeof value !== 'string')
    return {
      error: `Cannot convert value to JSON: a JSON column takes JSON text (a string), got ${show(value)}`,
    };
  try {
    return JSON.stringify(JSON.parse(value));
  } catch {
    return { error: `Invalid JSON string: ${value}` };
  }
}

function daysFromCivil(year: number, month: number, day: number): number | undefined {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1) return undefined;
  return Math.round(date.getTime() / 86_400_000);
}

/** `YYYY-MM-DD` (or with slashes) to days since the epoch. */
export function parseDate(text: string): number | undefined {
  const match = /^(\d{1,4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(text);
  if (!match) return undefined;
  return daysFromCivil(Number(match[1]), Number(match[2]), Number(match[3]));
}

function timeOfDayMicros(h: string, m: string, s = '0', fraction = ''): bigint | undefined {
  const hours = Number(h);
  const minutes = Number(m);
  const seconds = Number(s);
  if (hours > 23 || minutes > 59 || seconds > 59 || fraction.length > 9) return undefined;
  const micros = BigInt(fraction.padEnd(6, '0').slice(0, 6) || '0');
  return (BigInt(hours) * 3600n + BigInt(minutes) * 60n + BigInt(seconds)) * 1_000_000n + micros;
}

const DATETIME_PATTERN =
  /^(\d{1,4}[-/]\d{1,2}[-/]\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?)?/i;

/** DATETIME text (`YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]`) to microseconds since the epoch, no zone. */
export function parseDatetime(text: string): bigint | undefined {
  const match = DATETIME_PATTERN.exec(text);
  if (!match || match[0].length !== text.length) return undefined;
  return datetimeMicros(match);
}

function datetimeMicros(match: RegExpExecArray): bigint | undefined {
  const days = parseDate(match[1]!);
  if (days === undefined) return undefined;
  const time = match[2] === undefined ? 0n : timeOfDayMicros(match[2], match[3]!, match[4], match[5]);
  if (time === undefined) return undefined;
  return BigInt(days) * MICROS_PER_DAY + time;
}

/**
 * TIMESTAMP as streamed rows may carry it: a number of seconds since the epoch, or text with an
 * optional zone (`Z`, `UTC`, `±HH[:MM]`); without a zone the time is UTC.
 */
export function parseTimestamp(value: unknown): bigint | undefined {
  let micros: bigint | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) micros = BigInt(Math.round(value * 1e6));
  else if (typeof value === 'string') {
    const text = value.trim();
    if (/^[+-]?\d+(\.\d+)?$/.test(text)) micros = BigInt(Math.round(Number(text) * 1e6));
    else {
      const match = DATETIME_PATTERN.exec(text);
      if (!match) return undefined;
      const local = datetimeMicros(match);
      const offset = zoneOffsetMicros(text.slice(match[0].length));
      if (local === undefined || offset === undefined) return undefined;
      micros = local - offset;
    }
  }
  if (micros === undefined || micros < MIN_MICROS || micros > MAX_MICROS) return undefined;
  return micros;
}

function zoneOffsetMicros(zone: string): bigint | undefined {
  const text = zone.trim();
  if (text === '' || /^(z|utc|gmt)$/i.test(text)) return 0n;
  const match = /^(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  if (minutes > 14 * 60) return undefined;
  return BigInt(match[1] === '-' ? -minutes : minutes) * 60_000_000n;
}

/** `HH:MM[:SS[.ffffff]]` to microseconds since midnight. */
export function parseTime(text: string): bigint | undefined {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?$/.exec(text);
  if (!match) return undefined;
  return timeOfDayMicros(match[1]!, match[2]!, match[3], match[4]);
}

/** BigQuery's canonical interval text, `Y-M D H:M:S[.F]`, each part optionally signed. */
export function parseInterval(text: string): DuckDBIntervalValue | undefined {
  const match = /^([+-]?)(\d+)-(\d+) ([+-]?\d+) ([+-]?)(\d+):(\d+):(\d+)(?:\.(\d{1,6}))?$/.exec(text);
  if (!match) return undefined;
  const [, ySign, years, months, days, tSign, h, m, s, f = ''] = match;
  const totalMonths = (Number(years) * 12 + Number(months)) * (ySign === '-' ? -1 : 1);
  const micros =
    (BigInt(h!) * 3_600_000_000n +
      BigInt(m!) * 60_000_000n +
      BigInt(s!) * 1_000_000n +
      BigInt(f.padEnd(6, '0'))) *
    (tSign === '-' ? -1n : 1n);
  return new DuckDBIntervalValue(totalMonths, Number(days), micros);
}

/** How TIMESTAMP values are rendered: the client asks for int64 micros (formatOptions). */
export type TimestampFormat = 'FLOAT64' | 'INT64' | 'ISO8601_STRING';

/** BigQuery's row format for a whole row of DuckDB values described by `fields`. */
export function formatRow(
  fields: readonly Field[],
  row: readonly DuckDBValue[],
  timestamps: TimestampFormat,
): { f: { v: unknown }[] } {
  return { f: fields.map((field, i) => ({ v: formatCell(field, row[i] ?? null, timestamps) })) };
}

function formatCell(field: Field, value: DuckDBValue, timestamps: TimestampFormat): unknown {
  if (field.mode === 'REPEATED') {
    if (value === null) return [];
    const items = value instanceof DuckDBListValue ? value.items : [value];
    return items.map((item) => ({ v: formatSingle(field, item, timestamps) }));
  }
  return formatSingle(field, value, timestamps);
}

function formatSingle(field: Field, value: DuckDBValue, timestamps: TimestampFormat): unknown {
  if (value === null || value === undefined) return null;
  switch (field.type) {
    case 'RECORD': {
      const entries = value instanceof DuckDBStructValue ? value.entries : {};
      const names = Object.keys(entries);
      return {
        f: (field.fields ?? []).map((sub, i) => {
          const key = sub.name in entries ? sub.name : (names[i] ?? sub.name);
          return { v: formatCell(sub, entries[key] ?? null, timestamps) };
        }),
      };
    }
    case 'INTEGER':
      return typeof value === 'bigint' || typeof value === 'number' ? String(value) : String(value);
    case 'FLOAT':
      return formatFloat(typeof value === 'number' ? value : Number(String(value)));
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return value instanceof DuckDBDecimalValue ? formatDecimal(value) : String(value);
    case 'BOOLEAN':
      return value === true ? 'true' : 'false';
    case 'BYTES':
      return value instanceof DuckDBBlobValue
        ? Buffer.from(value.bytes).toString('base64')
        : Buffer.from(String(value as unknown)).toString('base64');
    case 'TIMESTAMP':
      return formatTimestamp(microsOf(value), timestamps);
    case 'DATETIME':
      return formatDatetime(microsOf(value), 'T');
    case 'DATE':
      return value instanceof DuckDBDateValue ? formatDays(value.days) : String(value);
    case 'TIME':
      return value instanceof DuckDBTimeValue ? formatTimeOfDay(value.micros) : String(value);
    case 'INTERVAL':
      return value instanceof DuckDBIntervalValue ? formatInterval(value) : String(value);
    default:
      return typeof value === 'string' ? value : String(value);
  }
}

function microsOf(value: DuckDBValue): bigint {
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) return value.micros;
  const v = value as unknown as { micros?: bigint; millis?: bigint; seconds?: bigint; nanos?: bigint };
  if (typeof v.micros === 'bigint') return v.micros;
  if (typeof v.millis === 'bigint') return v.millis * 1000n;
  if (typeof v.seconds === 'bigint') return v.seconds * 1_000_000n;
  if (typeof v.nanos === 'bigint') return v.nanos / 1000n;
  return 0n;
}

/** Shortest round-tripping text; Number() on the client reads it back exactly. */
export function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return String(value);
}

/** NUMERIC as BigQuery prints it: no exponent, no trailing zeros. */
export function formatDecimal(value: DuckDBDecimalValue): string {
  const negative = value.value < 0n;
  const digits = (negative ? -value.value : value.value).toString().padStart(value.scale + 1, '0');
  const whole = digits.slice(0, digits.length - value.scale);
  const fraction = digits.slice(digits.length - value.scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

export function formatDays(days: number): string {
  const date = new Date(days * 86_400_000);
  const year = date.getUTCFullYear();
  return `${String(year).padStart(4, '0')}-${String(date.getUTCMonth() + 1).padStart(2, '0')}-${String(date.getUTCDate()).padStart(2, '0')}`;
}

function formatTimeOfDay(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  const hh = String(seconds / 3600n).padStart(2, '0');
  const mm = String((seconds / 60n) % 60n).padStart(2, '0');
  const ss = String(seconds % 60n).padStart(2, '0');
  const frac = fraction === 0n ? '' : `.${String(fraction).padStart(6, '0')}`;
  return `${hh}:${mm}:${ss}${frac}`;
}

function formatDatetime(micros: bigint, separator: string): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  return `${formatDays(Number(days))}${separator}${formatTimeOfDay(micros - days * MICROS_PER_DAY)}`;
}

/**
 * TIMESTAMP in the REST API: int64 microseconds when the client sets formatOptions.useInt64Timestamp
 * (the Node client always does), otherwise seconds as a floating-point string like "1.7040672E9".
 */
export function formatTimestamp(micros: bigint, format: TimestampFormat): string {
  if (format === 'INT64') return micros.toString();
  if (format === 'ISO8601_STRING') return `${formatDatetime(micros, 'T')}Z`;
  if (micros === 0n) return '0.0';
  const negative = micros < 0n;
  // Scientific notation with every digit kept: N microseconds is d.ddd × 10^(digits - 7) seconds.
  const digits = (negative ? -micros : micros).toString();
  const significant = digits.replace(/0+$/, '');
  const mantissa = `${significant[0]}.${significant.slice(1) || '0'}`;
  return `${negative ? '-' : ''}${mantissa}E${digits.length - 7}`;
}

function formatInterval(value: DuckDBIntervalValue): string {
  const months = value.months;
  const sign = months < 0 ? '-' : '';
  const years = Math.floor(Math.abs(months) / 12);
  const restMonths = Math.abs(months) % 12;
  const micros = value.micros;
  const timeSign = micros < 0n ? '-' : '';
  const abs = micros < 0n ? -micros : micros;
  const seconds = abs / 1_000_000n;
  const fraction = abs % 1_000_000n;
  const frac = fraction === 0n ? '' : `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}`;
  return `${sign}${years}-${restMonths} ${value.days} ${timeSign}${seconds / 3600n}:${(seconds / 60n) % 60n}:${seconds % 60n}${frac}`;
}
