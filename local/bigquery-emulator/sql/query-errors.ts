/**
 * Errors of a query as BigQuery words them: `invalidQuery` with the message and `at [line:column]`
 * of the GoogleSQL text. DuckDB reports errors as JSON (errors_as_json) with a character offset in
 * the translated SQL, which the translation's source map turns back into the analyst's position.
 */
import { ApiError, internal, invalidQuery } from '../errors.ts';
import { lineColumn, SqlError } from './lexer.ts';
import { sourcePosition } from './tree.ts';

interface DuckDBErrorInfo {
  exception_type?: string;
  exception_message?: string;
  position?: string;
}

function parse(error: unknown): DuckDBErrorInfo | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(message.slice(start)) as DuckDBErrorInfo;
  } catch {
    return undefined;
  }
}

const REWRITES: [RegExp, (...groups: string[]) => string][] = [
  [/^Referenced column "([^"]+)" not found in FROM clause!?/, (name) => `Unrecognized name: ${name}`],
  [
    /^Referenced column "([^"]+)" was not found because the FROM clause is missing/,
    (name) => `Unrecognized name: ${name}`,
  ],
  [/^Referenced table "([^"]+)" not found!?/, (name) => `Unrecognized name: ${name}`],
  [
    /^Table "([^"]+)" does not have a column named "([^"]+)"/,
    (table, column) => `Name ${column} not found inside ${table}`,
  ],
  [
    /^Values list "([^"]+)" does not have a column named "([^"]+)"/,
    (table, column) => `Name ${column} not found inside ${table}`,
  ],
  [/^Could not find key "([^"]+)" in struct/, (key) => `Field name ${key} does not exist in STRUCT`],
  [/^Scalar Function with name (\S+) does not exist!?/, (name) => `Function not found: ${name}`],
  [/^Table with name (\S+) does not exist!?/, (name) => `Table not found: ${name}`],
  [/^syntax error at or near "([^"]*)"/, (near) => `Syntax error: Unexpected "${near}"`],
  [/^syntax error at end of input/, () => 'Syntax error: Unexpected end of script'],
  [
    /^column "([^"]+)" must appear in the GROUP BY clause or must be part of an aggregate function/,
    (name) => `SELECT list expression references column ${name} which is neither grouped nor aggregated`,
  ],
  [/^Could not convert string '(.*)' to INT(64|32|16|8)/s, (value) => `Bad int64 value: ${value}`],
  [/^Could not convert string '(.*)' to DOUBLE/s, (value) => `Bad double value: ${value}`],
  [/^Could not convert string '(.*)' to BOOL/s, (value) => `Bad bool value: ${value}`],
  [/^Could not convert string '(.*)' to DECIMAL/s, (value) => `Invalid NUMERIC value: ${value}`],
  [/^Overflow in (\w+) of INT64/, (operation) => `int64 overflow in ${operation}`],
  [
    /^No function matches the given name and argument types '([^(']+)\(([^)]*)\)'/,
    (name, types) => `No matching signature for function ${name.toUpperCase()} for argument types: ${types}`,
  ],
];

function rewrite(message: string): string {
  const firstLine = message.split('\n')[0]!.trim();
  for (const [pattern, make] of REWRITES) {
    const match = pattern.exec(firstLine);
    if (match) return make(...match.slice(1));
  }
  return firstLine;
}

/**
 * The API error for a failure while compiling or running a query. `map` and `prefix` locate DuckDB
 * positions: `prefix` is how many characters the executed statement put before the compiled SQL.
 */
export function queryError(
  error: unknown,
  source: string,
  map: readonly { out: number; src: number }[] = [],
  prefix = 0,
): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof SqlError) {
    const at = error.position === undefined ? '' : ` at ${lineColumn(source, error.position)}`;
    return invalidQuery(`${error.message}${at}`);
  }
  const info = parse(error);
  if (!info?.exception_message) {
    const message = error instanceof Error ? error.message : String(error);
    if (/stopping/.test(message))
      return new ApiError(503, 'backendError', 'The BigQuery emulator is stopping');
    return internal(error);
  }
  const type = (info.exception_type ?? '').toUpperCase();
  if (type === 'INTERNAL' || type === 'FATAL') return internal(error);
  if (type === 'INTERRUPT') return new ApiError(400, 'stopped', 'Job execution was cancelled');
  let at = '';
  if (/^syntax error at end of input/.test(info.exception_message))
    at = ` at ${lineColumn(source, source.trimEnd().length)}`;
  else if (info.position !== undefined && map.length > 0) {
    const src = sourcePosition(map, Number(info.position) - prefix);
    if (src !== undefined) at = ` at ${lineColumn(source, src)}`;
  }
  return invalidQuery(`${rewrite(info.exception_message)}${at}`);
}
