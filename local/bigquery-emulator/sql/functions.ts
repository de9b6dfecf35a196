/**
 * GoogleSQL functions as DuckDB expressions. Each entry receives the call's arguments (raw and
 * translated) and returns DuckDB SQL with BigQuery's semantics: same result type where DuckDB has
 * one, same NULL handling, same date-part and week rules. A function missing here is answered
 * "Function not found" (or "not supported by the emulator" for known BigQuery functions).
 */
import { SqlError, type Token } from './lexer.ts';
import { DATE_PARTS, WEEKDAYS } from './keywords.ts';
import { isGroup, isWord, Out, quoteString, splitCommas, sql, type Group, type Node } from './tree.ts';
import type { Translator } from './translate.ts';

export interface CallContext {
  /** Upper-cased function name. */
  name: string;
  position: number;
  /** Arguments split at top-level commas, untranslated. */
  raw: Node[][];
  group: Group;
  translator: Translator;
  arg(k: number): Out;
  args(): Out[];
}

type Handler = (c: CallContext) => Out;

function call(name: string, args: readonly Out[], position: number): Out {
  const out = new Out().push(`${name}(`, position);
  args.forEach((arg, k) => {
    if (k > 0) out.push(',', position);
    out.append(arg);
  });
  return out.push(')', position);
}

function arity(c: CallContext, min: number, max = min): void {
  const count = c.raw.length === 1 && c.raw[0]!.length === 0 ? 0 : c.raw.length;
  if (count < min || count > max)
    throw new SqlError(
      `No matching signature for function ${c.name} with ${count} argument${count === 1 ? '' : 's'}`,
      c.position,
    );
}

/** The same function under a DuckDB name, arguments translated one by one. */
const rename =
  (duck: string, min = 1, max = min): Handler =>
  (c) => {
    arity(c, min, max);
    return call(duck, c.args(), c.position);
  };

/** The whole argument list passed through (keeps DISTINCT, ORDER BY, IGNORE NULLS). */
const passthrough =
  (duck: string): Handler =>
  (c) =>
    new Out()
      .push(`${duck}(`, c.position)
      .append(c.translator.seq(c.group.children))
      .push(')', c.group.end - 1);

interface DatePart {
  part: string;
  /** For WEEK(<weekday>): 0 = Sunday. */
  weekday: number;
}

function datePart(c: CallContext, k: number): DatePart {
  const nodes = c.raw[k] ?? [];
  const word = nodes[0];
  if (!isWord(word))
    throw new SqlError(
      `A date part is expected as argument ${k + 1} of ${c.name}`,
      word?.start ?? c.position,
    );
  const part = word.value.toUpperCase();
  if (nodes.length === 2 && part === 'WEEK' && isGroup(nodes[1], '(')) {
    const day = (nodes[1] as Group).children[0];
    const weekday = isWord(day) ? WEEKDAYS.indexOf(day.value.toUpperCase()) : -1;
    if (weekday < 0) throw new SqlError('WEEK(<weekday>) expects SUNDAY ... SATURDAY', nodes[1].start);
    return { part, weekday };
  }
  if (nodes.length !== 1 || !DATE_PARTS.has(part))
    throw new SqlError(
      `Invalid date part for ${c.name}: ${nodes.map((n) => ('text' in n ? n.text : '(...)')).join(' ')}`,
      word.start,
    );
  return { part, weekday: part === 'ISOWEEK' ? 1 : 0 };
}

/** DuckDB's week starts on Monday; a week starting on `weekday` starts this many days later. */
const mondayOffset = (weekday: number) => (weekday + 6) % 7;

const MICROS: Record<string, bigint> = {
  MICROSECOND: 1n,
  MILLISECOND: 1000n,
  SECOND: 1_000_000n,
  MINUTE: 60_000_000n,
  HOUR: 3_600_000_000n,
  DAY: 86_400_000_000n,
};

const TRUNC_PARTS = new Set([
  'MICROSECOND',
  'MILLISECOND',
  'SECOND',
  'MINUTE',
  'HOUR',
  'DAY',
  'MONTH',
  'QUARTER',
  'YEAR',
  'ISOYEAR',
]);

/** date_trunc with BigQuery's weeks (Sunday or any weekday) and ISO weeks. */
function truncate(value: Out, part: DatePart, position: number, name: string): Out {
  if (part.part === 'WEEK' || part.part === 'ISOWEEK')
    return sql(position, 'bq_week_start(', value, `, ${mondayOffset(part.weekday)})`);
  if (!TRUNC_PARTS.has(part.part))
    throw new SqlError(`Unsupported date part ${part.part} for ${name}`, position);
  return sql(position, `date_trunc('${part.part.toLowerCase()}', `, value, ')');
}

/** Whole date boundaries crossed from b to a (DATE_DIFF, and DATETIME_DIFF from DAY up). */
function dateDiff(a: Out, b: Out, part: DatePart, position: number): Out {
  const da = sql(position, 'CAST(', a, 'AS DATE)');
  const db = sql(position, 'CAST(', b, 'AS DATE)');
  switch (part.part) {
    case 'DAY':
      return sql(position, '(', da, '-', db, ')');
    case 'WEEK':
    case 'ISOWEEK': {
      const o = mondayOffset(part.weekday);
      return sql(
        position,
        `((CAST(bq_week_start(`,
        da,
        `, ${o}) AS DATE) - CAST(bq_week_start(`,
        db,
        `, ${o}) AS DATE)) // 7)`,
      );
    }
    case 'MONTH':
    case 'QUARTER':
    case 'YEAR':
      return sql(position, `date_diff('${part.part.toLowerCase()}', `, db, ',', da, ')');
    case 'ISOYEAR':
      return sql(position, '(isoyear(', da, ') - isoyear(', db, '))');
    default:
      throw new SqlError(`Unsupported date part ${part.part} for DATE_DIFF`, position);
  }
}

function microsDiff(a: Out, b: Out, part: DatePart, position: number, name: string): Out {
  const unit = MICROS[part.part];
  if (unit === undefined) throw new SqlError(`Unsupported date part ${part.part} for ${name}`, position);
  return sql(position, '((epoch_us(', a, ') - epoch_us(', b, `)) // ${unit})`);
}

/** EXTRACT(part FROM value), BigQuery's numbering (DAYOFWEEK 1 = Sunday, WEEK from Sunday, ...). */
function extract(part: DatePart, value: Out, position: number): Out {
  switch (part.part) {
    case 'MICROSECOND':
      return sql(position, '(microsecond(', value, ') % 1000000)');
    case 'MILLISECOND':
      return sql(position, '(millisecond(', value, ') % 1000)');
    case 'SECOND':
    case 'MINUTE':
    case 'HOUR':
    case 'DAY':
    case 'MONTH':
    case 'QUARTER':
    case 'YEAR':
    case 'DAYOFYEAR':
      return sql(position, `${part.part.toLowerCase()}(`, value, ')');
    case 'DAYOFWEEK':
      return sql(position, '(dayofweek(', value, ') + 1)');
    case 'WEEK':
      return sql(position, 'bq_week_of_year(', value, `, ${part.weekday})`);
    case 'ISOWEEK':
      return sql(position, 'week(', value, ')');
    case 'ISOYEAR':
      return sql(position, 'isoyear(', value, ')');
    case 'DATE':
      return sql(position, 'CAST(', value, 'AS DATE)');
    case 'TIME':
      return sql(position, 'CAST(', value, 'AS TIME)');
    case 'DATETIME':
      return sql(position, 'CAST(', value, 'AS TIMESTAMP)');
    default:
      throw new SqlError(`Unsupported date part ${part.part} for EXTRACT`, position);
  }
}

/** Indexes of a top-level word sequence (e.g. AT TIME ZONE) in nodes. */
function findWords(nodes: readonly Node[], ...words: string[]): number {
  for (let k = 0; k + words.length <= nodes.length; k++) {
    if (words.every((w, j) => isWord(nodes[k + j], w))) return k;
  }
  return -1;
}

/** The literal text of a string argument (formats, JSON paths), or undefined. */
function literal(c: CallContext, k: number): string | undefined {
  const nodes = c.raw[k];
  return nodes?.length === 1 && nodes[0]!.kind === 'string' ? nodes[0]!.value : undefined;
}

/** A BigQuery JSONPath in DuckDB's dialect: `$['a']` and `$."a"` become `$."a"`. */
function jsonPath(c: CallContext, k: number): Out {
  const text = literal(c, k);
  if (text === undefined) return c.arg(k);
  const converted = text.replace(/\[\s*'((?:[^'\\]|\\.)*)'\s*\]/g, (_m, key: string) => `."${key}"`);
  return new Out().push(quoteString(converted), c.raw[k]![0]!.start);
}

function jsonArgs(c: CallContext): [Out, Out] {
  arity(c, 1, 2);
  return [c.arg(0), c.raw.length > 1 ? jsonPath(c, 1) : new Out().push("'$'", c.position)];
}

/** Splits an aggregate's argument list: [DISTINCT] args [IGNORE|RESPECT NULLS] [ORDER BY ...] [LIMIT n]. */
function aggregateParts(c: CallContext): {
  distinct: boolean;
  args: Node[][];
  nulls: 'IGNORE' | 'RESPECT' | undefined;
  orderBy: Node[] | undefined;
  limit: Node[] | undefined;
} {
  let nodes = [...c.group.children];
  const distinct = isWord(nodes[0], 'DISTINCT');
  if (distinct) nodes = nodes.slice(1);
  let limit: Node[] | undefined;
  const limitAt = nodes.findIndex((n) => isWord(n, 'LIMIT'));
  if (limitAt >= 0) {
    limit = nodes.slice(limitAt + 1);
    nodes = nodes.slice(0, limitAt);
  }
  let orderBy: Node[] | undefined;
  const orderAt = findWords(nodes, 'ORDER', 'BY');
  if (orderAt >= 0) {
    orderBy = nodes.slice(orderAt + 2);
    nodes = nodes.slice(0, orderAt);
  }
  let nulls: 'IGNORE' | 'RESPECT' | undefined;
  const nullsAt = nodes.findIndex((n, k) => isWord(n, 'IGNORE', 'RESPECT') && isWord(nodes[k + 1], 'NULLS'));
  if (nullsAt >= 0) {
    nulls = (nodes[nullsAt] as Token).value.toUpperCase() as 'IGNORE' | 'RESPECT';
    nodes = [...nodes.slice(0, nullsAt), ...nodes.slice(nullsAt + 2)];
  }
  return { distinct, args: nodes.length === 0 ? [] : splitCommas(nodes), nulls, orderBy, limit };
}

/** Format elements of FORMAT_* / PARSE_* (https://cloud.google.com/bigquery/docs/reference/standard-sql/format-elements). */
type FormatPiece = { strftime: string } | { expr: (value: Out) => Out };

const STRFTIME_SAME = new Set([
  'a',
  'A',
  'b',
  'B',
  'd',
  'H',
  'I',
  'j',
  'm',
  'M',
  'p',
  'S',
  'U',
  'w',
  'W',
  'y',
  'Y',
  'Z',
  '%',
]);

function formatPieces(format: string, position: number): FormatPiece[] {
  const pieces: FormatPiece[] = [];
  const text = (t: string) => pieces.push({ strftime: t.replaceAll('%', '%%') });
  const expand: Record<string, string> = {
    F: '%Y-%m-%d',
    T: '%H:%M:%S',
    D: '%m/%d/%y',
    x: '%m/%d/%y',
    R: '%H:%M',
    X: '%H:%M:%S',
    r: '%I:%M:%S %p',
    c: '%a %b %e %H:%M:%S %Y',
    h: '%b',
  };
  const work = format.replace(/%([FTDxRXrch])/g, (m, k: string) => expand[k] ?? m);
  for (let i = 0; i < work.length; i++) {
    const ch = work[i]!;
    if (ch !== '%') {
      text(ch);
      continue;
    }
    const spec = work[i + 1];
    if (spec === undefined) throw new SqlError('Invalid format string: it ends with "%"', position);
    i++;
    if (spec === '%') {
      text('%');
      continue;
    }
    if (spec === 'n') {
      text('\n');
      continue;
    }
    if (spec === 't') {
      text('\t');
      continue;
    }
    if (STRFTIME_SAME.has(spec)) {
      pieces.push({ strftime: `%${spec}` });
      continue;
    }
    if (spec === 'E') {
      const rest = /^(\*S|\d+S|4Y|z|Y)/.exec(work.slice(i + 1));
      if (!rest) throw new SqlError(`Unsupported format element %E${work.slice(i + 1, i + 3)}`, position);
      i += rest[0].length;
      const element = rest[0];
      if (element === '4Y' || element === 'Y') pieces.push({ strftime: '%Y' });
      else if (element === 'z') pieces.push({ strftime: '+00:00' });
      else if (element === '*S') pieces.push({ expr: (v) => sql(position, 'bq_seconds_fraction(', v, ')') });
      else {
        const digits = Number(element.slice(0, -1));
        if (digits === 0) pieces.push({ strftime: '%S' });
        else if (digits > 6)
          pieces.push({ expr: (v) => sql(position, `rpad(strftime(`, v, `, '%S.%f'), ${3 + digits}, '0')`) });
        else
          pieces.push({
            expr: (v) => sql(position, 'substring(strftime(', v, `, '%S.%f'), 1, ${3 + digits})`),
          });
      }
      continue;
    }
    const custom: Record<string, (v: Out) => Out> = {
      e: (v) => sql(position, 'lpad(CAST(day(', v, ") AS VARCHAR), 2, ' ')"),
      k: (v) => sql(position, 'lpad(CAST(hour(', v, ") AS VARCHAR), 2, ' ')"),
      l: (v) => sql(position, 'lpad(CAST(((hour(', v, ") + 11) % 12) + 1 AS VARCHAR), 2, ' ')"),
      C: (v) => sql(position, 'lpad(CAST(year(', v, ") // 100 AS VARCHAR), 2, '0')"),
      G: (v) => sql(position, 'CAST(isoyear(', v, ') AS VARCHAR)'),
      g: (v) => sql(position, 'lpad(CAST(isoyear(', v, ") % 100 AS VARCHAR), 2, '0')"),
      V: (v) => sql(position, 'lpad(CAST(week(', v, ") AS VARCHAR), 2, '0')"),
      u: (v) => sql(position, 'CAST(isodow(', v, ') AS VARCHAR)'),
      Q: (v) => sql(position, 'CAST(quarter(', v, ') AS VARCHAR)'),
      s: (v) => sql(position, 'CAST(floor(epoch(', v, ')) AS BIGINT)::VARCHAR'),
      P: (v) => sql(position, 'lower(strftime(', v, ", '%p'))"),
      z: () => sql(position, "'+0000'"),
    };
    const make = custom[spec];
    if (!make) throw new SqlError(`Unsupported format element %${spec}`, position);
    pieces.push({ expr: make });
  }
  return pieces;
}

function formatValue(c: CallContext, value: Out): Out {
  const format = literal(c, 0);
  if (format === undefined)
    throw new SqlError(
      `${c.name} with a format that is not a string literal is not supported by the BigQuery emulator`,
      c.position,
    );
  const pieces = formatPieces(format, c.position);
  const parts: Out[] = [];
  let pending = '';
  const flush = () => {
    if (pending) parts.push(sql(c.position, 'strftime(', value, `, ${quoteString(pending)})`));
    pending = '';
  };
  for (const piece of pieces) {
    if ('strftime' in piece) pending += piece.strftime;
    else {
      flush();
      parts.push(piece.expr(value));
    }
  }
  flush();
  if (parts.length === 0) return new Out().push("''", c.position);
  const out = new Out().push('(', c.position);
  parts.forEach((p, k) => {
    if (k > 0) out.push('||', c.position);
    out.append(p);
  });
  return out.push(')', c.position);
}

function parseFormat(c: CallContext): string {
  const format = literal(c, 0);
  if (format === undefined)
    throw new SqlError(
      `${c.name} with a format that is not a string literal is not supported by the BigQuery emulator`,
      c.position,
    );
  return format
    .replace(/%E\*S|%E6S/g, '%S.%f')
    .replace(/%E3S/g, '%S.%g')
    .replace(/%Ez/g, '%z')
    .replace(/%E4Y/g, '%Y')
    .replace(/%F/g, '%Y-%m-%d')
    .replace(/%T/g, '%H:%M:%S')
    .replace(/%e/g, '%-d')
    .replace(/%D/g, '%m/%d/%y')
    .replace(/%R/g, '%H:%M');
}

const withTimeZone = (value: Out, zone: Out | undefined, position: number): Out =>
  zone ? sql(position, 'timezone(', zone, ',', value, ')') : value;

function structCall(c: CallContext): Out {
  const out = new Out();
  const args = c.raw.length === 1 && c.raw[0]!.length === 0 ? [] : c.raw;
  c.translator.structPack(args, undefined, c.position, out);
  return out;
}

function castCall(c: CallContext, safe: boolean): Out {
  arity(c, 1);
  const nodes = c.group.children;
  const asAt = nodes.findIndex((n) => isWord(n, 'AS'));
  if (asAt < 0) throw new SqlError(`Syntax error: Expected keyword AS in ${c.name}`, c.position);
  const formatAt = nodes.findIndex((n, k) => k > asAt && isWord(n, 'FORMAT'));
  if (formatAt >= 0)
    throw new SqlError('CAST ... FORMAT is not supported by the BigQuery emulator', nodes[formatAt]!.start);
  const value = c.translator.seq(nodes.slice(0, asAt));
  const target = c.translator.type(nodes, asAt + 1);
  if (target.end !== nodes.length)
    throw new SqlError('Syntax error: Unexpected input after the type', nodes[target.end]!.start);
  const cast = safe ? 'TRY_CAST(' : 'CAST(';
  // GoogleSQL rounds halves away from zero when casting to INT64 (macros bq_int64, bq_try_int64).
  if (target.type === 'BIGINT') return sql(c.position, safe ? 'bq_try_int64(' : 'bq_int64(', value, ')');
  if (target.type === 'VARCHAR') return sql(c.position, 'bq_to_string(', value, ')');
  return sql(c.position, cast, value, `AS ${target.type})`);
}

function extractCall(c: CallContext): Out {
  arity(c, 1);
  const nodes = c.raw[0]!;
  const fromAt = nodes.findIndex((n) => isWord(n, 'FROM'));
  if (fromAt < 1) throw new SqlError('Syntax error: Expected EXTRACT(part FROM value)', c.position);
  const partContext: CallContext = { ...c, raw: [nodes.slice(0, fromAt)] };
  const part = datePart(partContext, 0);
  let valueNodes = nodes.slice(fromAt + 1);
  let zone: Out | undefined;
  const atAt = findWords(valueNodes, 'AT', 'TIME', 'ZONE');
  if (atAt >= 0) {
    zone = c.translator.seq(valueNodes.slice(atAt + 3));
    valueNodes = valueNodes.slice(0, atAt);
  }
  return extract(part, withTimeZone(c.translator.seq(valueNodes), zone, c.position), c.position);
}

function arrayAgg(c: CallContext): Out {
  const parts = aggregateParts(c);
  if (parts.args.length !== 1) throw new SqlError('ARRAY_AGG takes one argument', c.position);
  const value = c.translator.seq(parts.args[0]!);
  const out = new Out().push(`array_agg(${parts.distinct ? 'DISTINCT ' : ''}`, c.position).append(value);
  if (parts.orderBy) out.push('ORDER BY', c.position).append(c.translator.seq(parts.orderBy));
  out.push(')', c.position);
  if (parts.nulls === 'IGNORE')
    out
      .push('FILTER (WHERE', c.position)
      .append(c.translator.seq(parts.args[0]!))
      .push('IS NOT NULL)', c.position);
  return parts.limit ? sql(c.position, 'list_slice(', out, ', 1, ', c.translator.seq(parts.limit), ')') : out;
}

function stringAgg(c: CallContext): Out {
  const parts = aggregateParts(c);
  if (parts.args.length < 1 || parts.args.length > 2)
    throw new SqlError('STRING_AGG takes one or two arguments', c.position);
  const value = c.translator.seq(parts.args[0]!);
  const separator = parts.args[1] ? c.translator.seq(parts.args[1]) : new Out().push("','", c.position);
  const order = parts.orderBy ? sql(c.position, 'ORDER BY ', c.translator.seq(parts.orderBy)) : new Out();
  if (parts.limit) {
    const list = sql(
      c.position,
      `array_agg(${parts.distinct ? 'DISTINCT ' : ''}`,
      value,
      order,
      ') FILTER (WHERE ',
      c.translator.seq(parts.args[0]!),
      'IS NOT NULL)',
    );
    return sql(
      c.position,
      'array_to_string(list_slice(',
      list,
      ', 1, ',
      c.translator.seq(parts.limit),
      '),',
      separator,
      ')',
    );
  }
  return sql(
    c.position,
    `string_agg(${parts.distinct ? 'DISTINCT ' : ''}`,
    value,
    ',',
    separator,
    order,
    ')',
  );
}

function approxQuantiles(c: CallContext): Out {
  const parts = aggregateParts(c);
  if (parts.args.length !== 2) throw new SqlError('APPROX_QUANTILES takes two arguments', c.position);
  if (parts.nulls === 'RESPECT')
    throw new SqlError(
      'APPROX_QUANTILES ... RESPECT NULLS is not supported by the BigQuery emulator',
      c.position,
    );
  const count = parts.args[1]!;
  if (
    count.length !== 1 ||
    count[0]!.kind !== 'number' ||
    !/^\d+$/.test(count[0]!.value) ||
    Number(count[0]!.value) < 1
  )
    throw new SqlError(
      'APPROX_QUANTILES requires a positive integer literal as the number of quantiles',
      count[0]?.start ?? c.position,
    );
  const value = c.translator.seq(parts.args[0]!);
  const filter = c.translator.seq(parts.args[0]!);
  return sql(
    c.position,
    `bq_quantiles(list_sort(array_agg(${parts.distinct ? 'DISTINCT ' : ''}`,
    value,
    ') FILTER (WHERE ',
    filter,
    `IS NOT NULL)), ${count[0]!.value})`,
  );
}

/** LPAD/RPAD: the length is an INT64 in GoogleSQL and an INTEGER in DuckDB; the pad a space by default. */
function pad(c: CallContext, duck: string): Out {
  arity(c, 2, 3);
  const fill = c.raw.length === 3 ? c.arg(2) : new Out().push("' '", c.position);
  return sql(c.position, `${duck}(`, c.arg(0), ', CAST(', c.arg(1), 'AS INTEGER),', fill, ')');
}

/** GREATEST/LEAST are NULL when any argument is (DuckDB's skip NULLs). */
const nullStrict =
  (duck: string): Handler =>
  (c) => {
    if (c.raw.length < 1 || c.raw[0]!.length === 0)
      throw new SqlError(`${c.name} requires arguments`, c.position);
    const anyNull = new Out();
    c.raw.forEach((_, k) => {
      if (k > 0) anyNull.push('OR', c.position);
      anyNull.append(c.arg(k)).push('IS NULL', c.position);
    });
    return sql(
      c.position,
      'CASE WHEN ',
      anyNull,
      ' THEN NULL ELSE ',
      call(duck, c.args(), c.position),
      ' END',
    );
  };

function concat(c: CallContext): Out {
  if (c.raw.length === 1 && c.raw[0]!.length === 0)
    throw new SqlError('CONCAT requires arguments', c.position);
  const out = new Out().push('(', c.position);
  c.args().forEach((a, k) => {
    if (k > 0) out.push('||', c.position);
    out.append(a);
  });
  return out.push(')', c.position);
}

function regexpGroups(pattern: string | undefined): number {
  if (pattern === undefined) return 0;
  let groups = 0;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === '(' && pattern[i + 1] !== '?') groups++;
  }
  return groups;
}

function unixDate(c: CallContext): Out {
  arity(c, 1);
  return sql(c.position, '(CAST(', c.arg(0), " AS DATE) - DATE '1970-01-01')");
}

const timestampTrunc: Handler = (c) => {
  arity(c, 2, 3);
  const zone = c.raw.length > 2 ? c.arg(2) : undefined;
  const part = datePart(c, 1);
  if (!zone) return truncate(sql(c.position, 'CAST(', c.arg(0), 'AS TIMESTAMPTZ)'), part, c.position, c.name);
  return sql(
    c.position,
    'timezone(',
    zone,
    ',',
    truncate(sql(c.position, 'timezone(', zone, ',', c.arg(0), ')'), part, c.position, c.name),
    ')',
  );
};

export const FUNCTIONS: Record<string, Handler> = {
  // Aggregates.
  COUNT: passthrough('count'),
  SUM: passthrough('sum'),
  AVG: passthrough('avg'),
  MIN: passthrough('min'),
  MAX: passthrough('max'),
  COUNTIF: passthrough('count_if'),
  LOGICAL_AND: passthrough('bool_and'),
  LOGICAL_OR: passthrough('bool_or'),
  ANY_VALUE: passthrough('any_value'),
  BIT_AND: passthrough('bit_and'),
  BIT_OR: passthrough('bit_or'),
  BIT_XOR: passthrough('bit_xor'),
  STDDEV: passthrough('stddev_samp'),
  STDDEV_SAMP: passthrough('stddev_samp'),
  STDDEV_POP: passthrough('stddev_pop'),
  VARIANCE: passthrough('var_samp'),
  VAR_SAMP: passthrough('var_samp'),
  VAR_POP: passthrough('var_pop'),
  CORR: passthrough('corr'),
  COVAR_POP: passthrough('covar_pop'),
  COVAR_SAMP: passthrough('covar_samp'),
  MAX_BY: passthrough('max_by'),
  MIN_BY: passthrough('min_by'),
  ARRAY_AGG: arrayAgg,
  ARRAY_CONCAT_AGG: (c) => sql(c.position, 'flatten(', passthrough('array_agg')(c), ')'),
  STRING_AGG: stringAgg,
  APPROX_COUNT_DISTINCT: (c) => {
    arity(c, 1);
    return sql(c.position, 'count(DISTINCT ', c.arg(0), ')');
  },
  APPROX_QUANTILES: approxQuantiles,
  PERCENTILE_CONT: (c) => {
    const parts = aggregateParts(c);
    if (parts.args.length !== 2) throw new SqlError('PERCENTILE_CONT takes two arguments', c.position);
    return call(
      'quantile_cont',
      parts.args.map((a) => c.translator.seq(a)),
      c.position,
    );
  },
  PERCENTILE_DISC: (c) => {
    const parts = aggregateParts(c);
    if (parts.args.length !== 2) throw new SqlError('PERCENTILE_DISC takes two arguments', c.position);
    return call(
      'quantile_disc',
      parts.args.map((a) => c.translator.seq(a)),
      c.position,
    );
  },
  GROUPING: rename('grouping'),

  // Window functions.
  ROW_NUMBER: rename('row_number', 0),
  RANK: rename('rank', 0),
  DENSE_RANK: rename('dense_rank', 0),
  PERCENT_RANK: rename('percent_rank', 0),
  CUME_DIST: rename('cume_dist', 0),
  NTILE: rename('ntile'),
  LAG: passthrough('lag'),
  LEAD: passthrough('lead'),
  FIRST_VALUE: passthrough('first_value'),
  LAST_VALUE: passthrough('last_value'),
  NTH_VALUE: passthrough('nth_value'),

  // Conditionals.
  IF: (c) => {
    arity(c, 3);
    return sql(c.position, 'CASE WHEN ', c.arg(0), ' THEN ', c.arg(1), ' ELSE ', c.arg(2), ' END');
  },
  IFNULL: rename('coalesce', 2),
  NULLIF: rename('nullif', 2),
  COALESCE: (c) => call('coalesce', c.args(), c.position),
  GREATEST: nullStrict('greatest'),
  LEAST: nullStrict('least'),
  NULLIFZERO: (c) => {
    arity(c, 1);
    return sql(c.position, 'nullif(', c.arg(0), ', 0)');
  },
  ZEROIFNULL: (c) => {
    arity(c, 1);
    return sql(c.position, 'coalesce(', c.arg(0), ', 0)');
  },

  // Conversion.
  CAST: (c) => castCall(c, false),
  SAFE_CAST: (c) => castCall(c, true),
  STRUCT: structCall,
  ERROR: rename('error'),

  // Dates and times.
  CURRENT_TIMESTAMP: (c) => sql(c.position, 'CAST(current_timestamp AS TIMESTAMPTZ)'),
  CURRENT_DATE: (c) =>
    c.raw.length > 0 && c.raw[0]!.length > 0
      ? sql(c.position, 'CAST(timezone(', c.arg(0), ', current_timestamp) AS DATE)')
      : sql(c.position, "CAST(timezone('UTC', current_timestamp) AS DATE)"),
  CURRENT_DATETIME: (c) =>
    sql(
      c.position,
      'timezone(',
      c.raw.length > 0 && c.raw[0]!.length > 0 ? c.arg(0) : "'UTC'",
      ', current_timestamp)',
    ),
  CURRENT_TIME: (c) =>
    sql(
      c.position,
      'CAST(timezone(',
      c.raw.length > 0 && c.raw[0]!.length > 0 ? c.arg(0) : "'UTC'",
      ', current_timestamp) AS TIME)',
    ),
  EXTRACT: extractCall,
  DATE: (c) => {
    arity(c, 1, 3);
    if (c.raw.length === 3) return call('make_date', c.args(), c.position);
    if (c.raw.length === 2) return sql(c.position, 'CAST(timezone(', c.arg(1), ',', c.arg(0), ') AS DATE)');
    return sql(c.position, 'CAST(', c.arg(0), 'AS DATE)');
  },
  DATETIME: (c) => {
    arity(c, 1, 6);
    if (c.raw.length === 6) return call('make_timestamp', c.args(), c.position);
    if (c.raw.length === 2) {
      const second = c.raw[1]!;
      if (second.length === 1 && second[0]!.kind === 'string')
        return sql(c.position, 'timezone(', c.arg(1), ',', c.arg(0), ')');
      return sql(c.position, '(CAST(', c.arg(0), 'AS DATE) +', c.arg(1), ')');
    }
    return sql(c.position, 'CAST(', c.arg(0), 'AS TIMESTAMP)');
  },
  TIME: (c) => {
    arity(c, 1, 3);
    if (c.raw.length === 3) return call('make_time', c.args(), c.position);
    if (c.raw.length === 2) return sql(c.position, 'CAST(timezone(', c.arg(1), ',', c.arg(0), ') AS TIME)');
    return sql(c.position, 'CAST(', c.arg(0), 'AS TIME)');
  },
  TIMESTAMP: (c) => {
    arity(c, 1, 2);
    if (c.raw.length === 2)
      return sql(c.position, 'timezone(', c.arg(1), ', CAST(', c.arg(0), 'AS TIMESTAMP))');
    return sql(c.position, 'CAST(', c.arg(0), 'AS TIMESTAMPTZ)');
  },
  TIMESTAMP_TRUNC: timestampTrunc,
  DATE_TRUNC: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST(', truncate(c.arg(0), datePart(c, 1), c.position, c.name), 'AS DATE)');
  },
  DATETIME_TRUNC: (c) => {
    arity(c, 2);
    return sql(
      c.position,
      'CAST(',
      truncate(sql(c.position, 'CAST(', c.arg(0), 'AS TIMESTAMP)'), datePart(c, 1), c.position, c.name),
      'AS TIMESTAMP)',
    );
  },
  TIME_TRUNC: (c) => {
    arity(c, 2);
    return sql(
      c.position,
      'CAST(',
      truncate(
        sql(c.position, "(TIMESTAMP '1970-01-01' + ", c.arg(0), ')'),
        datePart(c, 1),
        c.position,
        c.name,
      ),
      'AS TIME)',
    );
  },
  TIMESTAMP_ADD: (c) => {
    arity(c, 2);
    return sql(c.position, '(CAST(', c.arg(0), 'AS TIMESTAMPTZ) +', c.arg(1), ')');
  },
  TIMESTAMP_SUB: (c) => {
    arity(c, 2);
    return sql(c.position, '(CAST(', c.arg(0), 'AS TIMESTAMPTZ) -', c.arg(1), ')');
  },
  DATETIME_ADD: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST((', c.arg(0), '+', c.arg(1), ') AS TIMESTAMP)');
  },
  DATETIME_SUB: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST((', c.arg(0), '-', c.arg(1), ') AS TIMESTAMP)');
  },
  DATE_ADD: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST((CAST(', c.arg(0), 'AS DATE) +', c.arg(1), ') AS DATE)');
  },
  DATE_SUB: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST((CAST(', c.arg(0), 'AS DATE) -', c.arg(1), ') AS DATE)');
  },
  TIME_ADD: (c) => {
    arity(c, 2);
    return sql(c.position, '(', c.arg(0), '+', c.arg(1), ')');
  },
  TIME_SUB: (c) => {
    arity(c, 2);
    return sql(c.position, '(', c.arg(0), '-', c.arg(1), ')');
  },
  TIMESTAMP_DIFF: (c) => {
    arity(c, 3);
    return microsDiff(c.arg(0), c.arg(1), datePart(c, 2), c.position, c.name);
  },
  DATETIME_DIFF: (c) => {
    arity(c, 3);
    const part = datePart(c, 2);
    return part.part in MICROS && part.part !== 'DAY'
      ? microsDiff(
          sql(c.position, 'CAST(', c.arg(0), 'AS TIMESTAMP)'),
          sql(c.position, 'CAST(', c.arg(1), 'AS TIMESTAMP)'),
          part,
          c.position,
          c.name,
        )
      : dateDiff(c.arg(0), c.arg(1), part, c.position);
  },
  DATE_DIFF: (c) => {
    arity(c, 3);
    return dateDiff(c.arg(0), c.arg(1), datePart(c, 2), c.position);
  },
  TIME_DIFF: (c) => {
    arity(c, 3);
    const epoch = (v: Out) => sql(c.position, "(TIMESTAMP '1970-01-01' + ", v, ')');
    return microsDiff(epoch(c.arg(0)), epoch(c.arg(1)), datePart(c, 2), c.position, c.name);
  },
  FORMAT_TIMESTAMP: (c) => {
    arity(c, 2, 3);
    const zone = c.raw.length > 2 ? c.arg(2) : undefined;
    return formatValue(
      c,
      withTimeZone(sql(c.position, 'CAST(', c.arg(1), 'AS TIMESTAMPTZ)'), zone, c.position),
    );
  },
  FORMAT_DATE: (c) => {
    arity(c, 2);
    return formatValue(c, sql(c.position, 'CAST(', c.arg(1), 'AS DATE)'));
  },
  FORMAT_DATETIME: (c) => {
    arity(c, 2);
    return formatValue(c, sql(c.position, 'CAST(', c.arg(1), 'AS TIMESTAMP)'));
  },
  FORMAT_TIME: (c) => {
    arity(c, 2);
    return formatValue(c, sql(c.position, "(TIMESTAMP '1970-01-01' + CAST(", c.arg(1), 'AS TIME))'));
  },
  PARSE_TIMESTAMP: (c) => {
    arity(c, 2, 3);
    const parsed = sql(c.position, 'strptime(', c.arg(1), `, ${quoteString(parseFormat(c))})`);
    if (c.raw.length > 2) return sql(c.position, 'timezone(', c.arg(2), ', CAST(', parsed, 'AS TIMESTAMP))');
    return sql(c.position, 'CAST(', parsed, 'AS TIMESTAMPTZ)');
  },
  PARSE_DATETIME: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST(strptime(', c.arg(1), `, ${quoteString(parseFormat(c))}) AS TIMESTAMP)`);
  },
  PARSE_DATE: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST(strptime(', c.arg(1), `, ${quoteString(parseFormat(c))}) AS DATE)`);
  },
  PARSE_TIME: (c) => {
    arity(c, 2);
    return sql(c.position, 'CAST(strptime(', c.arg(1), `, ${quoteString(parseFormat(c))}) AS TIME)`);
  },
  UNIX_SECONDS: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(floor(epoch_us(', c.arg(0), ') / 1000000) AS BIGINT)');
  },
  UNIX_MILLIS: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(floor(epoch_us(', c.arg(0), ') / 1000) AS BIGINT)');
  },
  UNIX_MICROS: rename('epoch_us'),
  UNIX_DATE: unixDate,
  TIMESTAMP_SECONDS: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(make_timestamp(CAST(', c.arg(0), 'AS BIGINT) * 1000000) AS TIMESTAMPTZ)');
  },
  TIMESTAMP_MILLIS: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(make_timestamp(CAST(', c.arg(0), 'AS BIGINT) * 1000) AS TIMESTAMPTZ)');
  },
  TIMESTAMP_MICROS: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(make_timestamp(CAST(', c.arg(0), 'AS BIGINT)) AS TIMESTAMPTZ)');
  },
  DATE_FROM_UNIX_DATE: (c) => {
    arity(c, 1);
    return sql(c.position, "CAST(DATE '1970-01-01' + to_days(CAST(", c.arg(0), 'AS BIGINT)) AS DATE)');
  },
  LAST_DAY: (c) => {
    arity(c, 1, 2);
    const part = c.raw.length > 1 ? datePart(c, 1) : { part: 'MONTH', weekday: 0 };
    const start = truncate(sql(c.position, 'CAST(', c.arg(0), 'AS DATE)'), part, c.position, c.name);
    const length = {
      WEEK: 'to_days(7)',
      ISOWEEK: 'to_days(7)',
      MONTH: 'to_months(1)',
      QUARTER: 'to_months(3)',
      YEAR: 'to_years(1)',
      ISOYEAR: 'to_years(1)',
    }[part.part];
    if (!length) throw new SqlError(`Unsupported date part ${part.part} for LAST_DAY`, c.position);
    return sql(c.position, 'CAST(', start, `+ ${length} - to_days(1) AS DATE)`);
  },
  GENERATE_DATE_ARRAY: (c) => {
    arity(c, 2, 3);
    const step = c.raw.length > 2 ? c.arg(2) : new Out().push('to_days(1)', c.position);
    return sql(
      c.position,
      'CAST(generate_series(CAST(',
      c.arg(0),
      'AS DATE), CAST(',
      c.arg(1),
      'AS DATE),',
      step,
      ') AS DATE[])',
    );
  },
  GENERATE_TIMESTAMP_ARRAY: (c) => {
    arity(c, 3);
    return sql(
      c.position,
      'generate_series(CAST(',
      c.arg(0),
      'AS TIMESTAMPTZ), CAST(',
      c.arg(1),
      'AS TIMESTAMPTZ),',
      c.arg(2),
      ')',
    );
  },
  GENERATE_ARRAY: (c) => {
    arity(c, 2, 3);
    const args = c.args().map((a) => sql(c.position, 'CAST(', a, 'AS BIGINT)'));
    return call('generate_series', args, c.position);
  },

  // Strings.
  CONCAT: concat,
  LENGTH: rename('length'),
  CHAR_LENGTH: rename('length'),
  CHARACTER_LENGTH: rename('length'),
  BYTE_LENGTH: rename('strlen'),
  LOWER: rename('lower'),
  UPPER: rename('upper'),
  TRIM: rename('trim', 1, 2),
  LTRIM: rename('ltrim', 1, 2),
  RTRIM: rename('rtrim', 1, 2),
  SUBSTR: (c) => {
    arity(c, 2, 3);
    return call(c.raw.length === 3 ? 'bq_substr3' : 'bq_substr2', c.args(), c.position);
  },
  SUBSTRING: (c) => {
    arity(c, 2, 3);
    return call(c.raw.length === 3 ? 'bq_substr3' : 'bq_substr2', c.args(), c.position);
  },
  LEFT: rename('left', 2),
  RIGHT: rename('right', 2),
  STRPOS: rename('strpos', 2),
  INSTR: rename('instr', 2),
  STARTS_WITH: rename('starts_with', 2),
  ENDS_WITH: rename('ends_with', 2),
  CONTAINS_SUBSTR: (c) => {
    arity(c, 2);
    return sql(c.position, 'contains(lower(CAST(', c.arg(0), 'AS VARCHAR)), lower(', c.arg(1), '))');
  },
  REPLACE: rename('replace', 3),
  REPEAT: rename('repeat', 2),
  REVERSE: rename('reverse'),
  LPAD: (c) => pad(c, 'lpad'),
  RPAD: (c) => pad(c, 'rpad'),
  SPLIT: (c) => {
    arity(c, 1, 2);
    return call(
      'string_split',
      c.raw.length === 2 ? c.args() : [c.arg(0), new Out().push("','", c.position)],
      c.position,
    );
  },
  ASCII: rename('ascii'),
  CHR: (c) => {
    arity(c, 1);
    return sql(c.position, 'chr(CAST(', c.arg(0), 'AS INTEGER))');
  },
  UNICODE: rename('unicode'),
  TRANSLATE: rename('translate', 3),
  FORMAT: (c) => {
    const format = literal(c, 0);
    if (format === undefined)
      throw new SqlError(
        'FORMAT with a format that is not a string literal is not supported by the BigQuery emulator',
        c.position,
      );
    const converted = format.replace(/%([-+ #0']*\d*(?:\.\d+)?)([tT])/g, '%$1s').replace(/%'/g, '%');
    return call(
      'printf',
      [new Out().push(quoteString(converted), c.position), ...c.args().slice(1)],
      c.position,
    );
  },
  REGEXP_CONTAINS: rename('regexp_matches', 2),
  REGEXP_EXTRACT: (c) => {
    arity(c, 2);
    const groups = regexpGroups(literal(c, 1));
    if (groups > 1)
      throw new SqlError(
        'Regular expressions passed into extraction functions must not have more than 1 capturing group',
        c.position,
      );
    return call(
      'bq_regexp_extract',
      [c.arg(0), c.arg(1), new Out().push(String(groups), c.position)],
      c.position,
    );
  },
  REGEXP_SUBSTR: (c) => {
    arity(c, 2);
    return call(
      'bq_regexp_extract',
      [c.arg(0), c.arg(1), new Out().push(String(regexpGroups(literal(c, 1))), c.position)],
      c.position,
    );
  },
  REGEXP_EXTRACT_ALL: (c) => {
    arity(c, 2);
    return call(
      'regexp_extract_all',
      [c.arg(0), c.arg(1), new Out().push(String(regexpGroups(literal(c, 1))), c.position)],
      c.position,
    );
  },
  REGEXP_REPLACE: (c) => {
    arity(c, 3);
    return call('regexp_replace', [...c.args(), new Out().push("'g'", c.position)], c.position);
  },
  TO_HEX: (c) => {
    arity(c, 1);
    return sql(c.position, 'lower(hex(', c.arg(0), '))');
  },
  FROM_HEX: rename('unhex'),
  TO_BASE64: rename('to_base64'),
  FROM_BASE64: rename('from_base64'),
  MD5: (c) => {
    arity(c, 1);
    return sql(c.position, 'unhex(md5(', c.arg(0), '))');
  },
  SHA1: (c) => {
    arity(c, 1);
    return sql(c.position, 'unhex(sha1(', c.arg(0), '))');
  },
  SHA256: (c) => {
    arity(c, 1);
    return sql(c.position, 'unhex(sha256(', c.arg(0), '))');
  },
  GENERATE_UUID: (c) => {
    arity(c, 0);
    return sql(c.position, 'CAST(uuid() AS VARCHAR)');
  },
  FARM_FINGERPRINT: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(hash(', c.arg(0), ') >> 1 AS BIGINT)');
  },

  // Math.
  ABS: rename('abs'),
  SIGN: rename('sign'),
  ROUND: (c) => {
    arity(c, 1, 3);
    if (c.raw.length === 1) return call('round', c.args(), c.position);
    const digits = sql(c.position, 'CAST(', c.arg(1), 'AS INTEGER)');
    if (c.raw.length === 3) {
      const mode = literal(c, 2);
      if (mode === 'ROUND_HALF_EVEN') return call('round_even', [c.arg(0), digits], c.position);
      if (mode !== 'ROUND_HALF_AWAY_FROM_ZERO')
        throw new SqlError('ROUND mode must be ROUND_HALF_AWAY_FROM_ZERO or ROUND_HALF_EVEN', c.position);
    }
    return call('round', [c.arg(0), digits], c.position);
  },
  TRUNC: (c) => {
    arity(c, 1, 2);
    if (c.raw.length === 1) return call('trunc', c.args(), c.position);
    return sql(c.position, '(trunc(', c.arg(0), '* power(10, ', c.arg(1), ')) / power(10, ', c.arg(1), '))');
  },
  CEIL: rename('ceil'),
  CEILING: rename('ceil'),
  FLOOR: rename('floor'),
  SQRT: rename('sqrt'),
  CBRT: rename('cbrt'),
  POW: rename('pow', 2),
  POWER: rename('pow', 2),
  EXP: rename('exp'),
  LN: rename('ln'),
  LOG: (c) => {
    arity(c, 1, 2);
    if (c.raw.length === 1) return call('ln', c.args(), c.position);
    return sql(c.position, '(ln(', c.arg(0), ') / ln(', c.arg(1), '))');
  },
  LOG10: rename('log10'),
  MOD: (c) => {
    arity(c, 2);
    return sql(c.position, '(', c.arg(0), '%', c.arg(1), ')');
  },
  DIV: (c) => {
    arity(c, 2);
    return sql(
      c.position,
      'CASE WHEN ',
      c.arg(1),
      " = 0 THEN error('division by zero') ELSE (",
      c.arg(0),
      '//',
      c.arg(1),
      ') END',
    );
  },
  IEEE_DIVIDE: (c) => {
    arity(c, 2);
    return sql(c.position, '(CAST(', c.arg(0), 'AS DOUBLE) / CAST(', c.arg(1), 'AS DOUBLE))');
  },
  SAFE_DIVIDE: (c) => {
    arity(c, 2);
    return sql(c.position, 'CASE WHEN ', c.arg(1), ' = 0 THEN NULL ELSE (', c.arg(0), '/', c.arg(1), ') END');
  },
  SAFE_MULTIPLY: (c) => {
    arity(c, 2);
    return sql(c.position, 'TRY(', c.arg(0), '*', c.arg(1), ')');
  },
  SAFE_ADD: (c) => {
    arity(c, 2);
    return sql(c.position, 'TRY(', c.arg(0), '+', c.arg(1), ')');
  },
  SAFE_SUBTRACT: (c) => {
    arity(c, 2);
    return sql(c.position, 'TRY(', c.arg(0), '-', c.arg(1), ')');
  },
  SAFE_NEGATE: (c) => {
    arity(c, 1);
    return sql(c.position, 'TRY(-', c.arg(0), ')');
  },
  RAND: (c) => {
    arity(c, 0);
    return sql(c.position, 'random()');
  },
  IS_NAN: rename('isnan'),
  IS_INF: rename('isinf'),
  COS: rename('cos'),
  SIN: rename('sin'),
  TAN: rename('tan'),
  ACOS: rename('acos'),
  ASIN: rename('asin'),
  ATAN: rename('atan'),
  ATAN2: rename('atan2', 2),
  COSH: rename('cosh'),
  SINH: rename('sinh'),
  TANH: rename('tanh'),

  // Arrays.
  ARRAY_LENGTH: rename('len'),
  ARRAY_TO_STRING: (c) => {
    arity(c, 2, 3);
    if (c.raw.length === 2) return call('array_to_string', c.args(), c.position);
    return sql(
      c.position,
      'array_to_string(list_transform(',
      c.arg(0),
      ', x -> coalesce(CAST(x AS VARCHAR), ',
      c.arg(2),
      ')),',
      c.arg(1),
      ')',
    );
  },
  ARRAY_CONCAT: (c) => {
    const args = c.args();
    if (args.length === 0) throw new SqlError('ARRAY_CONCAT requires arguments', c.position);
    return args.slice(1).reduce((acc, next) => call('list_concat', [acc, next], c.position), args[0]!);
  },
  ARRAY_REVERSE: rename('list_reverse'),
  ARRAY_FIRST: (c) => {
    arity(c, 1);
    return sql(c.position, 'bq_offset(', c.arg(0), ', 0)');
  },
  ARRAY_LAST: (c) => {
    arity(c, 1);
    return sql(c.position, 'bq_offset(', c.arg(0), ', len(', c.arg(0), ') - 1)');
  },

  // JSON.
  JSON_VALUE: (c) => call('bq_json_value', jsonArgs(c), c.position),
  JSON_EXTRACT_SCALAR: (c) => call('bq_json_value', jsonArgs(c), c.position),
  JSON_QUERY: (c) => call('json_extract', jsonArgs(c), c.position),
  JSON_EXTRACT: (c) => call('json_extract', jsonArgs(c), c.position),
  JSON_QUERY_ARRAY: (c) =>
    sql(c.position, 'CAST(json_extract(', jsonArgs(c)[0], ',', jsonArgs(c)[1], ') AS JSON[])'),
  JSON_EXTRACT_ARRAY: (c) =>
    sql(c.position, 'CAST(json_extract(', jsonArgs(c)[0], ',', jsonArgs(c)[1], ') AS JSON[])'),
  JSON_VALUE_ARRAY: (c) =>
    sql(c.position, 'CAST(json_extract(', jsonArgs(c)[0], ',', jsonArgs(c)[1], ') AS VARCHAR[])'),
  JSON_TYPE: rename('bq_json_type'),
  JSON_KEYS: (c) => {
    arity(c, 1, 2);
    return call('json_keys', [c.arg(0)], c.position);
  },
  JSON_OBJECT: (c) => call('json_object', c.args(), c.position),
  JSON_ARRAY: (c) => call('json_array', c.args(), c.position),
  PARSE_JSON: (c) => {
    arity(c, 1, 2);
    return call('json', [c.arg(0)], c.position);
  },
  TO_JSON: (c) => {
    arity(c, 1, 2);
    return call('to_json', [c.arg(0)], c.position);
  },
  TO_JSON_STRING: (c) => {
    arity(c, 1, 2);
    return sql(c.position, 'CAST(to_json(', c.arg(0), ') AS VARCHAR)');
  },
  INT64: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(', c.arg(0), 'AS BIGINT)');
  },
  FLOAT64: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(', c.arg(0), 'AS DOUBLE)');
  },
  BOOL: (c) => {
    arity(c, 1);
    return sql(c.position, 'CAST(', c.arg(0), 'AS BOOLEAN)');
  },
  STRING: (c) => {
    arity(c, 1, 2);
    return sql(c.position, 'json_extract_string(', c.arg(0), ", '$')");
  },
  LAX_INT64: (c) => {
    arity(c, 1);
    return sql(c.position, 'TRY_CAST(json_extract_string(', c.arg(0), ", '$') AS BIGINT)");
  },
  LAX_FLOAT64: (c) => {
    arity(c, 1);
    return sql(c.position, 'TRY_CAST(json_extract_string(', c.arg(0), ", '$') AS DOUBLE)");
  },
  LAX_BOOL: (c) => {
    arity(c, 1);
    return sql(c.position, 'TRY_CAST(json_extract_string(', c.arg(0), ", '$') AS BOOLEAN)");
  },
  LAX_STRING: (c) => {
    arity(c, 1);
    return sql(c.position, 'json_extract_string(', c.arg(0), ", '$')");
  },
};
