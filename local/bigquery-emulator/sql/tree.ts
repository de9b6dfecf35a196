/**
 * Tokens nested by brackets, the shape the translator walks: a parenthesised or bracketed group is
 * one node, so clauses and argument lists can be split at top-level commas and keywords. And the
 * translated output: text pieces that remember the source offset they came from, so a DuckDB error
 * position maps back to the GoogleSQL an analyst wrote.
 */
import { SqlError, type Token } from './lexer.ts';

export interface Group {
  kind: 'group';
  open: '(' | '[';
  children: Node[];
  start: number;
  end: number;
}

export type Node = Token | Group;

/**
 * The checks below narrow only when they succeed: a token that is not the word asked for is
 * still a token, so the predicates name a branded subtype the false branch cannot exclude.
 */
declare const matched: unique symbol;
type Matched<T> = T & { readonly [matched]: true };

export function isGroup(node: Node | undefined, open?: '(' | '['): node is Matched<Group> {
  return node !== undefined && node.kind === 'group' && (open === undefined || node.open === open);
}

export function isWord(node: Node | undefined, ...words: string[]): node is Matched<Token> {
  return (
    node !== undefined &&
    node.kind === 'ident' &&
    (words.length === 0 || words.includes(node.value.toUpperCase()))
  );
}

export function isOp(node: Node | undefined, ...ops: string[]): node is Matched<Token> {
  return node !== undefined && node.kind === 'op' && (ops.length === 0 || ops.includes(node.value));
}

export function buildTree(tokens: readonly Token[], sqlLength: number): Node[] {
  const root: Node[] = [];
  const stack: { group: Group; parent: Node[] }[] = [];
  let current = root;
  for (const token of tokens) {
    if (token.kind === 'op' && (token.value === '(' || token.value === '[')) {
      const group: Group = {
        kind: 'group',
        open: token.value,
        children: [],
        start: token.start,
        end: token.end,
      };
      stack.push({ group, parent: current });
      current = group.children;
      continue;
    }
    if (token.kind === 'op' && (token.value === ')' || token.value === ']')) {
      const top = stack.pop();
      if (!top || (top.group.open === '(') !== (token.value === ')'))
        throw new SqlError(`Syntax error: Unexpected "${token.value}"`, token.start);
      top.group.end = token.end;
      top.parent.push(top.group);
      current = top.parent;
      continue;
    }
    current.push(token);
  }
  if (stack.length > 0) throw new SqlError('Syntax error: Unexpected end of script', sqlLength);
  return root;
}

/**
 * Splits nodes at top-level commas. Commas inside a type's angle brackets (`STRUCT<a INT64, b
 * STRING>`, `ARRAY<STRUCT<...>>`) do not split: a `<` opens a type only right after ARRAY or STRUCT.
 */
export function splitCommas(nodes: readonly Node[]): Node[][] {
  const parts: Node[][] = [[]];
  let angles = 0;
  nodes.forEach((node, k) => {
    if (isOp(node, '<') && isWord(nodes[k - 1], 'ARRAY', 'STRUCT', 'RANGE')) angles++;
    else if (isOp(node, '>') && angles > 0) angles--;
    if (isOp(node, ',') && angles === 0) parts.push([]);
    else parts[parts.length - 1]!.push(node);
  });
  return parts;
}

/**
 * The members of a type's angle brackets: `open` is the index of its `<`. Returns them split at
 * top-level commas and the index of the matching `>`; an unclosed `<` is a syntax error at `at`.
 */
export function typeArguments(
  nodes: readonly Node[],
  open: number,
  at: Token,
): { members: Node[][]; close: number } {
  const members: Node[][] = [[]];
  let depth = 0;
  let close = open + 1;
  for (; close < nodes.length; close++) {
    const node = nodes[close]!;
    if (isOp(node, '<')) depth++;
    if (isOp(node, '>')) {
      if (depth === 0) break;
      depth--;
    }
    if (depth === 0 && isOp(node, ',')) members.push([]);
    else members[members.length - 1]!.push(node);
  }
  if (close >= nodes.length) throw new SqlError('Syntax error: Unexpected end of type', at.start);
  return { members, close };
}

/** A DuckDB string literal. */
export function quoteString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A DuckDB quoted identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

interface Piece {
  text: string;
  pos: number;
}

/** Translated SQL under construction. */
export class Out {
  readonly pieces: Piece[] = [];

  push(text: string, pos: number): this {
    this.pieces.push({ text, pos });
    return this;
  }

  append(other: Out): this {
    this.pieces.push(...other.pieces);
    return this;
  }

  get length(): number {
    return this.pieces.length;
  }

  /** Removes and returns the pieces from `index` on (to wrap a primary expression). */
  takeFrom(index: number): Out {
    const taken = new Out();
    taken.pieces.push(...this.pieces.splice(index));
    return taken;
  }

  isEmpty(): boolean {
    return this.pieces.length === 0;
  }

  firstPos(fallback: number): number {
    return this.pieces[0]?.pos ?? fallback;
  }

  toString(): string {
    return this.render().sql;
  }

  /** The SQL text and, for each piece, its output offset and source offset. */
  render(): { sql: string; map: { out: number; src: number }[] } {
    let sql = '';
    const map: { out: number; src: number }[] = [];
    for (const piece of this.pieces) {
      if (sql.length > 0 && piece.text.length > 0 && !glues(sql, piece.text)) sql += ' ';
      map.push({ out: sql.length, src: piece.pos });
      sql += piece.text;
    }
    return { sql, map };
  }
}

function glues(before: string, next: string): boolean {
  const last = before[before.length - 1]!;
  const first = next[0]!;
  return (
    last === '(' ||
    last === '[' ||
    last === '.' ||
    first === ')' ||
    first === ']' ||
    first === ',' ||
    first === '.'
  );
}

/** Concatenates text and translated pieces; text pieces are positioned at `pos`. */
export function sql(pos: number, ...parts: (Out | string)[]): Out {
  const out = new Out();
  for (const part of parts) {
    if (typeof part === 'string') {
      if (part.trim()) out.push(part.trim(), pos);
    } else out.append(part);
  }
  return out;
}

/** Source offset for a DuckDB error position in rendered SQL. */
export function sourcePosition(
  map: readonly { out: number; src: number }[],
  outPosition: number,
): number | undefined {
  let found: number | undefined;
  for (const entry of map) {
    if (entry.out > outPosition) break;
    found = entry.src;
  }
  return found;
}
