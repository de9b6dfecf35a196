/**
 * GoogleSQL tokens (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical):
 * identifiers (plain and backquoted), string and bytes literals in every quoting (single, double,
 * triple, raw), numbers, query parameters, operators. Comments and whitespace are dropped; every
 * token keeps its offset so errors can point at the text the analyst wrote.
 */

export type TokenKind = 'ident' | 'quoted' | 'string' | 'bytes' | 'number' | 'param' | 'positional' | 'op';

export interface Token {
  kind: TokenKind;
  /** Source text of the token. */
  text: string;
  /** Identifier name, decoded string, parameter name, number or operator text. */
  value: string;
  bytes?: Uint8Array;
  start: number;
  end: number;
}

/** A problem in the query text, located at a character offset of that text. */
export class SqlError extends Error {
  readonly position: number | undefined;

  constructor(message: string, position?: number) {
    super(message);
    this.name = 'SqlError';
    this.position = position;
  }
}

/** `[line:column]` as BigQuery reports positions, both one-based. */
export function lineColumn(sql: string, position: number): string {
  let line = 1;
  let column = 1;
  for (let i = 0; i < position && i < sql.length; i++) {
    if (sql[i] === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return `[${line}:${column}]`;
}

const OPERATORS = ['<=', '>=', '<>', '!=', '||', '<<', '=>', '::'];
const SINGLE = new Set([
  '+',
  '-',
  '*',
  '/',
  '%',
  '=',
  '<',
  '>',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
  ';',
  '&',
  '|',
  '^',
  '~',
  '{',
  '}',
  ':',
]);

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#' || (c === '-' && sql[i + 1] === '-')) {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) throw new SqlError('Syntax error: Unclosed comment', i);
      i = close + 2;
      continue;
    }
    const start = i;
    // String and bytes literals, with optional r/b prefixes.
    const prefix = /^(rb|br|r|b)?(['"])/i.exec(sql.slice(i, i + 4));
    if (prefix && (prefix[1] === undefined || /[A-Za-z]/.test(c))) {
      const flags = (prefix[1] ?? '').toLowerCase();
      const raw = flags.includes('r');
      const isBytes = flags.includes('b');
      const quoteStart = i + (prefix[1]?.length ?? 0);
      const { value, end } = readQuoted(sql, quoteStart, raw);
      const token: Token = {
        kind: isBytes ? 'bytes' : 'string',
        text: sql.slice(start, end),
        value,
        start,
        end,
      };
      if (isBytes) token.bytes = Buffer.from(value, 'latin1');
      tokens.push(token);
      i = end;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_]/.test(sql[i]!)) i++;
      const text = sql.slice(start, i);
      tokens.push({ kind: 'ident', text, value: text, start, end: i });
      continue;
    }
    if (c === '`') {
      const { value, end } = readQuoted(sql, i, false);
      if (value === '') throw new SqlError('Syntax error: Invalid empty identifier', start);
      tokens.push({ kind: 'quoted', text: sql.slice(start, end), value, start, end });
      i = end;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const match = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)/.exec(sql.slice(i))!;
      i += match[0].length;
      if (/[A-Za-z_]/.test(sql[i] ?? ''))
        throw new SqlError(`Syntax error: Missing whitespace between literal and alias`, i);
      tokens.push({ kind: 'number', text: match[0], value: match[0], start, end: i });
      continue;
    }
    if (c === '@') {
      if (sql[i + 1] === '@')
        throw new SqlError('System variables (@@) are not supported by the BigQuery emulator', i);
      let j = i + 1;
      let name: string;
      if (sql[j] === '`') {
        const quoted = readQuoted(sql, j, false);
        name = quoted.value;
        j = quoted.end;
      } else {
        while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
        name = sql.slice(i + 1, j);
      }
      if (!name) throw new SqlError('Syntax error: Unexpected "@"', i);
      tokens.push({ kind: 'param', text: sql.slice(start, j), value: name, start, end: j });
      i = j;
      continue;
    }
    if (c === '?') {
      tokens.push({ kind: 'positional', text: '?', value: '?', start, end: i + 1 });
      i++;
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (OPERATORS.includes(two)) {
      if (two === '::') throw new SqlError('Syntax error: Unexpected ":"', i);
      tokens.push({ kind: 'op', text: two, value: two, start, end: i + 2 });
      i += 2;
      continue;
    }
    if (SINGLE.has(c)) {
      tokens.push({ kind: 'op', text: c, value: c, start, end: i + 1 });
      i++;
      continue;
    }
    throw new SqlError(`Syntax error: Illegal input character "${c}"`, i);
  }
  return tokens;
}

/** Reads a quoted literal or identifier starting at the quote; decodes escapes unless raw. */
function readQuoted(sql: string, at: number, raw: boolean): { value: string; end: number } {
  const quote = sql[at]!;
  const triple = quote !== '`' && sql.slice(at, at + 3) === quote.repeat(3);
  const delimiter = triple ? quote.repeat(3) : quote;
  let i = at + delimiter.length;
  let value = '';
  while (true) {
    if (i >= sql.length) throw new SqlError('Syntax error: Unclosed string literal', at);
    const c = sql[i]!;
    if (sql.startsWith(delimiter, i)) return { value, end: i + delimiter.length };
    if (!triple && c === '\n' && quote !== '`')
      throw new SqlError('Syntax error: Unclosed string literal', at);
    if (c === '\\') {
      const next = sql[i + 1];
      if (next === undefined) throw new SqlError('Syntax error: Unclosed string literal', at);
      if (raw) {
        value += c + next;
        i += 2;
        continue;
      }
      const decoded = decodeEscape(sql, i);
      value += decoded.text;
      i = decoded.end;
      continue;
    }
    value += c;
    i++;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '?': '?',
  '"': '"',
  "'": "'",
  '`': '`',
};

function decodeEscape(sql: string, at: number): { text: string; end: number } {
  const kind = sql[at + 1]!;
  if (kind in SIMPLE_ESCAPES) return { text: SIMPLE_ESCAPES[kind]!, end: at + 2 };
  const hex = (length: number, offset: number) => {
    const digits = sql.slice(at + offset, at + offset + length);
    if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(digits))
      throw new SqlError('Syntax error: Illegal escape sequence', at);
    return parseInt(digits, 16);
  };
  if (kind === 'x' || kind === 'X') return { text: String.fromCharCode(hex(2, 2)), end: at + 4 };
  if (kind === 'u') return { text: String.fromCodePoint(hex(4, 2)), end: at + 6 };
  if (kind === 'U') return { text: String.fromCodePoint(hex(8, 2)), end: at + 10 };
  if (/[0-7]/.test(kind)) {
    const digits = sql.slice(at + 1, at + 4);
    if (!/^[0-7]{3}$/.test(digits)) throw new SqlError('Syntax error: Illegal escape sequence', at);
    return { text: String.fromCharCode(parseInt(digits, 8)), end: at + 4 };
  }
  throw new SqlError(`Syntax error: Illegal escape sequence: \\${kind}`, at);
}
