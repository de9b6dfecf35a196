/**
 * Subscription filters (https://cloud.google.com/pubsub/docs/subscription-message-filter): an
 * expression over message attributes only.
 *
 *   attributes:KEY                 the key exists
 *   attributes.KEY = "v"           equal (!= is its negation, so a missing key matches)
 *   hasPrefix(attributes.KEY, "p")
 *   NOT x, x AND y, x OR y, ( x )  operators in upper case; AND and OR mixed only with parentheses
 *
 * A KEY is a bare word of letters, digits, `-` and `_`, or a string literal. Values are string
 * literals with the usual escapes. At most 256 bytes. Anything else is INVALID_ARGUMENT.
 */
import { invalidArgument } from './errors.ts';

export type Filter = (attributes: Readonly<Record<string, string>>) => boolean;

export const MAX_FILTER_BYTES = 256;

type Token =
  | { kind: 'word'; value: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'punct'; value: '(' | ')' | ',' | ':' | '.' | '=' | '!='; at: number }
  | { kind: 'end'; at: number };

/** Compiles a filter expression, or throws INVALID_ARGUMENT. An empty filter matches everything. */
export function compileFilter(source: string): Filter {
  if (Buffer.byteLength(source) > MAX_FILTER_BYTES) {
    throw invalidArgument(`Invalid filter: it is longer than ${MAX_FILTER_BYTES} bytes.`);
  }
  if (source.trim() === '') return () => true;
  try {
    return new Parser(tokenize(source)).parse();
  } catch (error) {
    if (error instanceof FilterSyntaxError)
      throw invalidArgument(`Invalid filter "${source}": ${error.message}`);
    throw error;
  }
}

class FilterSyntaxError extends Error {}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',' || c === ':' || c === '.' || c === '=') {
      tokens.push({ kind: 'punct', value: c, at: i++ });
    } else if (c === '!' && source[i + 1] === '=') {
      tokens.push({ kind: 'punct', value: '!=', at: i });
      i += 2;
    } else if (c === '"') {
      const [value, end] = readString(source, i);
      tokens.push({ kind: 'string', value, at: i });
      i = end;
    } else if (/[A-Za-z0-9_-]/.test(c)) {
      const start = i;
      while (i < source.length && /[A-Za-z0-9_-]/.test(source[i]!)) i++;
      tokens.push({ kind: 'word', value: source.slice(start, i), at: start });
    } else {
      throw new FilterSyntaxError(`unexpected character "${c}" at ${i}`);
    }
  }
  tokens.push({ kind: 'end', at: source.length });
  return tokens;
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
  '"': '"',
  "'": "'",
  '?': '?',
};

function readString(source: string, start: number): [string, number] {
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '"') return [value, i + 1];
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = source[i + 1];
    if (e === undefined) break;
    if (e in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[e];
      i += 2;
    } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(source.slice(i + 2, i + 4))) {
      value += String.fromCharCode(parseInt(source.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) {
      value += String.fromCharCode(parseInt(source.slice(i + 2, i + 6), 16));
      i += 6;
    } else if (/^[0-7]{3}$/.test(source.slice(i + 1, i + 4))) {
      value += String.fromCharCode(parseInt(source.slice(i + 1, i + 4), 8));
      i += 4;
    } else {
      throw new FilterSyntaxError(`invalid escape "\\${e}" at ${i}`);
    }
  }
  throw new FilterSyntaxError(`unterminated string starting at ${start}`);
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT']);

class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parse(): Filter {
    const filter = this.expression();
    const next = this.peek();
    if (next.kind !== 'end') throw new FilterSyntaxError(`unexpected ${describe(next)}`);
    return filter;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private isWord(value: string): boolean {
    const token = this.peek();
    return token.kind === 'word' && token.value === value;
  }

  private expect(value: string): void {
    const token = this.next();
    if ((token.kind === 'punct' || token.kind === 'word') && token.value === value) return;
    throw new FilterSyntaxError(`expected "${value}" but found ${describe(token)}`);
  }

  private expression(): Filter {
    const operands = [this.unary()];
    let operator: 'AND' | 'OR' | undefined;
    while (this.isWord('AND') || this.isWord('OR')) {
      const token = this.next() as { value: 'AND' | 'OR'; at: number };
      if (operator && operator !== token.value) {
        throw new FilterSyntaxError(`AND and OR must be grouped with parentheses (at ${token.at})`);
      }
      operator = token.value;
      operands.push(this.unary());
    }
    if (operands.length === 1) return operands[0]!;
    return operator === 'AND'
      ? (attributes) => operands.every((operand) => operand(attributes))
      : (attributes) => operands.some((operand) => operand(attributes));
  }

  private unary(): Filter {
    if (this.isWord('NOT')) {
      this.next();
      const operand = this.unary();
      return (attributes) => !operand(attributes);
    }
    return this.primary();
  }

  private primary(): Filter {
    const token = this.peek();
    if (token.kind === 'punct' && token.value === '(') {
      this.next();
      const inner = this.expression();
      this.expect(')');
      return inner;
    }
    if (this.isWord('hasPrefix')) {
      this.next();
      this.expect('(');
      this.expect('attributes');
      this.expect('.');
      const key = this.key();
      this.expect(',');
      const prefix = this.stringLiteral();
      this.expect(')');
      return (attributes) => Object.hasOwn(attributes, key) && attributes[key]!.startsWith(prefix);
    }
    if (this.isWord('attributes')) {
      this.next();
      const separator = this.next();
      if (separator.kind === 'punct' && separator.value === ':') {
        const key = this.key();
        return (attributes) => Object.hasOwn(attributes, key);
      }
      if (separator.kind === 'punct' && separator.value === '.') {
        const key = this.key();
        const operator = this.next();
        if (operator.kind !== 'punct' || (operator.value !== '=' && operator.value !== '!=')) {
          throw new FilterSyntaxError(`expected = or != but found ${describe(operator)}`);
        }
        const value = this.stringLiteral();
        const equals = (attributes: Readonly<Record<string, string>>) =>
          Object.hasOwn(attributes, key) && attributes[key] === value;
        return operator.value === '=' ? equals : (attributes) => !equals(attributes);
      }
      throw new FilterSyntaxError(`expected ":" or "." after "attributes" but found ${describe(separator)}`);
    }
    throw new FilterSyntaxError(`expected a condition on attributes but found ${describe(token)}`);
  }

  private key(): string {
    const token = this.next();
    if (token.kind === 'string' && token.value.length > 0) return token.value;
    if (token.kind === 'word' && !KEYWORDS.has(token.value)) return token.value;
    throw new FilterSyntaxError(`expected an attribute key but found ${describe(token)}`);
  }

  private stringLiteral(): string {
    const token = this.next();
    if (token.kind === 'string') return token.value;
    throw new FilterSyntaxError(`expected a string literal but found ${describe(token)}`);
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the filter';
    case 'string':
      return `string "${token.value}" at ${token.at}`;
    case 'word':
    case 'punct':
      return `"${token.value}" at ${token.at}`;
  }
}
