/**
 * GoogleSQL to DuckDB SQL. A structural translator rather than a full parser: the query is
 * tokenised and nested by brackets, then walked clause by clause. SELECT lists are split into
 * items (to name anonymous columns `f0_`, `f1_` as BigQuery does), FROM clauses into table
 * factors (to resolve `project.dataset.table` names and turn UNNEST into lateral joins), and
 * function calls into arguments (to rewrite the functions whose name or semantics differ). All
 * other tokens pass through: DuckDB already speaks most of GoogleSQL's expression grammar, and what
 * it rejects comes back as an error located in the original text.
 */
import { SqlError, type Token } from './lexer.ts';
import {
  CLAUSE_WORDS,
  DATE_PARTS,
  DUCKDB_KEYWORDS,
  GOOGLESQL_RESERVED,
  UNSUPPORTED_FUNCTIONS,
} from './keywords.ts';
import { FUNCTIONS, type CallContext } from './functions.ts';
import {
  isGroup,
  isOp,
  isWord,
  Out,
  quoteIdentifier,
  quoteString,
  splitCommas,
  sql,
  typeArguments,
  type Group,
  type Node,
} from './tree.ts';

export { quoteIdentifier, quoteString } from './tree.ts';

export interface TableName {
  projectId: string;
  datasetId: string;
  tableId: string;
}

export interface TranslateOptions {
  projectId: string;
  defaultDataset?: { projectId?: string; datasetId: string };
  /** Named parameters (lower-cased names) and positional ones, as DuckDB SQL literals. */
  namedParams: ReadonlyMap<string, string>;
  positionalParams: readonly string[];
  /** DuckDB name of a table or view; throws the API's not-found error when it does not exist. */
  resolveTable(name: TableName, position: number): string;
}

const ARITHMETIC = ['+', '-', '*', '/', '%'];

/** Words that GoogleSQL reserves but that are function names when a parenthesis follows. */
const CALLABLE_KEYWORDS = new Set(['IF', 'LEFT', 'RIGHT', 'GROUPING', 'RANGE', 'COLLATE', 'CONTAINS']);
/** Non-reserved words that are syntax in DuckDB when they follow these words. */
const CONTEXTUAL: Record<string, string[]> = {
  NULLS: ['FIRST', 'LAST'],
  CURRENT: ['ROW'],
  AT: ['TIME'],
  TIME: ['ZONE'],
  GROUPING: ['SETS'],
};

const TYPED_LITERALS: Record<string, (value: string) => string> = {
  DATE: (v) => `CAST(${quoteString(v)} AS DATE)`,
  DATETIME: (v) => `CAST(${quoteString(v)} AS TIMESTAMP)`,
  TIME: (v) => `CAST(${quoteString(v)} AS TIME)`,
  TIMESTAMP: (v) => `CAST(${quoteString(v)} AS TIMESTAMPTZ)`,
  JSON: (v) => `json(${quoteString(v)})`,
  NUMERIC: (v) => `CAST(${quoteString(v)} AS DECIMAL(38, 9))`,
  DECIMAL: (v) => `CAST(${quoteString(v)} AS DECIMAL(38, 9))`,
  BIGNUMERIC: (v) => `CAST(${quoteString(v)} AS DECIMAL(38, 18))`,
  BIGDECIMAL: (v) => `CAST(${quoteString(v)} AS DECIMAL(38, 18))`,
};

/** An identifier as DuckDB should read it: bare when that is unambiguous, quoted otherwise. */
export function identifier(token: Token): string {
  if (token.kind === 'ident' && !DUCKDB_KEYWORDS.has(token.value.toUpperCase())) return token.value;
  return quoteIdentifier(token.value);
}

export class Translator {
  readonly cteNames = new Set<string>();
  /** Names UNNEST gives to array elements: `alias.*` expands the element, not a table. */
  private readonly elementAliases = new Set<string>();
  private positional = 0;

  readonly source: string;
  readonly options: TranslateOptions;

  constructor(source: string, options: TranslateOptions) {
    this.source = source;
    this.options = options;
  }

  /**
   * Notes the aliases UNNEST gives to array elements anywhere in the statement, before anything
   * is translated: a SELECT list (`SELECT line.* FROM t, UNNEST(t.lines) AS line`) comes first.
   */
  prescan(nodes: readonly Node[]): void {
    nodes.forEach((node, k) => {
      if (isGroup(node)) this.prescan(node.children);
      else if (isWord(node, 'UNNEST') && isGroup(nodes[k + 1], '(')) {
        const { alias } = readAlias(nodes, k + 2);
        if (alias) this.elementAliases.add(alias.toLowerCase());
      }
    });
  }

  /** Translates a sequence of nodes: a query, an expression or a list of them. */
  seq(nodes: readonly Node[], out: Out = new Out()): Out {
    checkSetOperations(nodes);
    let i = 0;
    // Where the expression that a subscript or `.field` would apply to begins in `out`.
    let primary = -1;
    while (i < nodes.length) {
      const node = nodes[i]!;
      const next = nodes[i + 1];
      const mark = out.length;
      if (isGroup(node)) {
        if (node.open === '[') {
          if (primary >= 0) {
            this.subscript(node, out, primary);
            i++;
            continue;
          }
          this.arrayLiteral(node, out);
        } else {
          out.push('(', node.start);
          this.seq(node.children, out);
          out.push(')', node.end - 1);
        }
        primary = mark;
        i++;
        continue;
      }
      switch (node.kind) {
        case 'group':
          throw new SqlError('Syntax error: Unexpected group', node.start);
        case 'string':
          out.push(quoteString(node.value), node.start);
          primary = mark;
          i++;
          continue;
        case 'bytes':
          out.push(`unhex('${Buffer.from(node.bytes ?? []).toString('hex')}')`, node.start);
          primary = mark;
          i++;
          continue;
        case 'number':
          // GoogleSQL integers are INT64; DuckDB types small literals INT32, so literal arithmetic
          // (3000 * 1000000) would overflow. Operands get BIGINT; lone literals stay literals,
          // which DuckDB casts to whatever a function wants (and GROUP BY 1 stays positional).
          out.push(
            isIntegerLiteral([node]) && (isOp(nodes[i - 1], ...ARITHMETIC) || isOp(next, ...ARITHMETIC))
              ? `CAST(${numberLiteral(node)} AS BIGINT)`
              : numberLiteral(node),
            node.start,
          );
          primary = mark;
          i++;
          continue;
        case 'param':
          out.push(this.namedParam(node), node.start);
          primary = mark;
          i++;
          continue;
        case 'positional':
          out.push(this.positionalParam(node), node.start);
          primary = mark;
          i++;
          continue;
        case 'op':
          if (
            node.value === '.' &&
            primary >= 0 &&
            next &&
            (next.kind === 'ident' || next.kind === 'quoted')
          ) {
            if (isGroup(nodes[i + 2], '(')) {
              throw new SqlError(
                `Function not found: ${this.dottedName(nodes, i - 1)}.${next.value}`,
                next.start,
              );
            }
            out.push('.', node.start).push(identifier(next), next.start);
            i += 2;
            continue;
          }
          if (node.value === '.' && isOp(next, '*')) {
            const previous = nodes[i - 1];
            const element =
              previous !== undefined &&
              (previous.kind === 'ident' || previous.kind === 'quoted') &&
              this.elementAliases.has(previous.value.toLowerCase());
            if (primary >= 0 && (out.length - primary > 1 || element)) {
              // `expr.*` and `a.b.*` expand a struct; DuckDB writes that unnest(expr).
              if (isWord(nodes[i + 2], 'EXCEPT', 'REPLACE'))
                throw new SqlError(
                  'EXCEPT and REPLACE after struct.* are not supported by the BigQuery emulator',
                  nodes[i + 2]!.start,
                );
              const struct = out.takeFrom(primary);
              out.append(sql(node.start, 'unnest(', struct, ')'));
              i += 2;
              primary = -1;
              continue;
            }
            out.push('.', node.start).push('*', next.start);
            i += 2;
            i = this.starModifiers(nodes, i, out);
            primary = -1;
            continue;
          }
          if (node.value === '*' && isWord(next, 'EXCEPT', 'REPLACE') && isGroup(nodes[i + 2], '(')) {
            out.push('*', node.start);
            i = this.starModifiers(nodes, i + 1, out);
            primary = -1;
            continue;
          }
          if (node.value === '>' && isOp(next, '>') && next.start === node.end) {
            out.push('>>', node.start);
            i += 2;
            primary = -1;
            continue;
          }
          if (node.value === ';') throw new SqlError('Syntax error: Unexpected ";"', node.start);
          out.push(node.value, node.start);
          primary = -1;
          i++;
          continue;
        case 'ident':
        case 'quoted': {
          const result = this.word(nodes, i, out);
          i = result.next;
          primary = result.primary ? mark : -1;
          continue;
        }
      }
    }
    return out;
  }

  private dottedName(nodes: readonly Node[], end: number): string {
    const parts: string[] = [];
    for (let j = end; j >= 0; j -= 2) {
      const node = nodes[j];
      if (!node || (node.kind !== 'ident' && node.kind !== 'quoted')) break;
      parts.unshift(node.value);
      if (!isOp(nodes[j - 1], '.')) break;
    }
    return parts.join('.');
  }

  /** `* EXCEPT (a, b)` becomes DuckDB's `* EXCLUDE (a, b)`; `REPLACE` is the same in both. */
  private starModifiers(nodes: readonly Node[], i: number, out: Out): number {
    while (isWord(nodes[i], 'EXCEPT', 'REPLACE') && isGroup(nodes[i + 1], '(')) {
      const word = nodes[i] as Token;
      const group = nodes[i + 1] as Group;
      out.push(word.value.toUpperCase() === 'EXCEPT' ? 'EXCLUDE' : 'REPLACE', word.start);
      out.push('(', group.start);
      this.seq(group.children, out);
      out.push(')', group.end - 1);
      i += 2;
    }
    return i;
  }

  /** An identifier or keyword at nodes[i]; returns where to continue and whether it is a value. */
  private word(nodes: readonly Node[], i: number, out: Out): { next: number; primary: boolean } {
    const token = nodes[i] as Token;
    const next = nodes[i + 1];
    if (token.kind === 'quoted') {
      for (const [k, part] of token.value.split('.').entries()) {
        if (k > 0) out.push('.', token.start);
        out.push(quoteIdentifier(part), token.start);
      }
      return { next: i + 1, primary: true };
    }
    const upper = token.value.toUpperCase();
    const previous = nodes[i - 1];

    switch (upper) {
      case 'SELECT':
        return { next: this.select(nodes, i, out), primary: false };
      case 'FROM':
        if (!isWord(previous, 'DISTINCT')) return { next: this.from(nodes, i, out), primary: false };
        break;
      case 'WITH':
        return { next: this.withClause(nodes, i, out), primary: false };
      case 'INTERVAL':
        return { next: this.interval(nodes, i, out), primary: true };
      case 'UNION':
      case 'INTERSECT':
      case 'EXCEPT':
        out.push(upper, token.start);
        if (isWord(next, 'DISTINCT')) return { next: i + 2, primary: false };
        if (isWord(next, 'ALL')) {
          if (upper !== 'UNION')
            throw new SqlError(`Syntax error: ${upper} ALL is not supported`, next.start);
          out.push('ALL', next.start);
          return { next: i + 2, primary: false };
        }
        throw new SqlError(
          `Syntax error: Expected keyword ALL or keyword DISTINCT but got ${describe(next)}`,
          next?.start ?? token.end,
        );
      case 'IN':
        if (isWord(next, 'UNNEST') && isGroup(nodes[i + 2], '(')) {
          const group = nodes[i + 2] as Group;
          out.push('IN', token.start).push('(SELECT unnest(', next.start);
          this.seq(group.children, out);
          out.push('))', group.end - 1);
          return { next: i + 3, primary: false };
        }
        break;
      case 'UNNEST':
        throw new SqlError('Syntax error: UNNEST is only allowed in FROM or after IN', token.start);
      case 'CURRENT_TIMESTAMP':
      case 'CURRENT_DATE':
      case 'CURRENT_DATETIME':
      case 'CURRENT_TIME':
        if (!isGroup(next, '(')) {
          out.append(this.callFunction(token, [], token.start));
          return { next: i + 1, primary: true };
        }
        break;
      case 'ARRAY':
      case 'STRUCT':
        if (isOp(next, '<')) return { next: this.typedConstructor(nodes, i, out), primary: true };
        if (upper === 'ARRAY' && isGroup(next, '[')) {
          this.arrayLiteral(next, out);
          return { next: i + 2, primary: true };
        }
        if (upper === 'ARRAY' && isGroup(next, '(')) {
          out.push('ARRAY', token.start).push('(', next.start);
          this.seq(next.children, out);
          out.push(')', next.end - 1);
          return { next: i + 2, primary: true };
        }
        break;
      case 'SAFE':
        if (isOp(next, '.') && isWord(nodes[i + 2]) && isGroup(nodes[i + 3], '(')) {
          const name = nodes[i + 2] as Token;
          out.push('TRY(', token.start);
          out.append(this.call(name, nodes[i + 3] as Group));
          out.push(')', token.start);
          return { next: i + 4, primary: true };
        }
        break;
      case 'OFFSET':
        if (!isGroup(next, '(')) {
          out.push('OFFSET', token.start);
          return { next: i + 1, primary: false };
        }
        break;
      case 'FOR':
        if (isWord(next, 'SYSTEM_TIME', 'SYSTEM'))
          throw new SqlError('FOR SYSTEM_TIME AS OF is not supported by the BigQuery emulator', token.start);
        break;
      case 'TABLESAMPLE':
        throw new SqlError('TABLESAMPLE is not supported by the BigQuery emulator', token.start);
      case 'PIVOT':
      case 'UNPIVOT':
        if (isGroup(next, '('))
          throw new SqlError(`${upper} is not supported by the BigQuery emulator`, token.start);
        break;
      default:
        break;
    }

    if (upper in TYPED_LITERALS && next?.kind === 'string') {
      out.push(TYPED_LITERALS[upper]!(next.value), token.start);
      return { next: i + 2, primary: true };
    }
    if (upper === 'RANGE' && isOp(next, '<'))
      throw new SqlError('RANGE values are not supported by the BigQuery emulator', token.start);

    if (
      isGroup(next, '(') &&
      (!GOOGLESQL_RESERVED.has(upper) ||
        CALLABLE_KEYWORDS.has(upper) ||
        upper === 'CAST' ||
        upper === 'EXTRACT' ||
        upper === 'STRUCT')
    ) {
      out.append(this.call(token, next));
      return { next: i + 2, primary: true };
    }
    if (GOOGLESQL_RESERVED.has(upper)) {
      out.push(upper, token.start);
      return { next: i + 1, primary: false };
    }
    if (previous && isWord(previous) && CONTEXTUAL[previous.value.toUpperCase()]?.includes(upper)) {
      out.push(upper, token.start);
      return { next: i + 1, primary: false };
    }
    out.push(identifier(token), token.start);
    return { next: i + 1, primary: true };
  }

  namedParam(token: Token): string {
    if (this.options.positionalParams.length > 0)
      throw new SqlError('Named parameters are not allowed in positional parameter mode', token.start);
    const value = this.options.namedParams.get(token.value.toLowerCase());
    if (value === undefined) throw new SqlError(`Query parameter '${token.value}' not found`, token.start);
    return value;
  }

  private positionalParam(token: Token): string {
    if (this.options.namedParams.size > 0)
      throw new SqlError('Positional parameters are not allowed in named parameter mode', token.start);
    const value = this.options.positionalParams[this.positional++];
    if (value === undefined)
      throw new SqlError(`Positional query parameter ${this.positional} is not provided`, token.start);
    return value;
  }

  /** `x[OFFSET(i)]`, `x[ORDINAL(i)]`, their SAFE_ forms, `x[i]` and JSON `x['key']`. */
  private subscript(group: Group, out: Out, primary: number): void {
    const target = out.takeFrom(primary);
    const inner = group.children;
    const accessor = inner[0];
    if (
      inner.length === 2 &&
      isWord(accessor, 'OFFSET', 'ORDINAL', 'SAFE_OFFSET', 'SAFE_ORDINAL') &&
      isGroup(inner[1], '(')
    ) {
      const index = this.seq((inner[1] as Group).children);
      const macro = `bq_${accessor.value.toLowerCase()}`;
      out.append(sql(group.start, `${macro}(`, target, ', ', index, ')'));
      return;
    }
    if (inner.length === 1 && inner[0]!.kind === 'string') {
      out
        .append(target)
        .push('[', group.start)
        .push(quoteString(inner[0]!.value), inner[0]!.start)
        .push(']', group.end - 1);
      return;
    }
    const index = this.seq(inner);
    out.append(sql(group.start, 'bq_index(', target, ', ', index, ')'));
  }

  /** `[a, b]`; a list of integer literals is typed INT64 as in BigQuery (DuckDB would pick INT32). */
  private arrayLiteral(group: Group, out: Out): void {
    const elements = group.children.length === 0 ? [] : splitCommas(group.children);
    const allIntegers = elements.length > 0 && elements.every((e) => isIntegerLiteral(e));
    // Elements that are structs take the field names of the first one, as BigQuery coerces
    // every element to one type: [STRUCT(1 AS a), STRUCT(2), (3)] has three structs with field a.
    const structs = elements.map(structArguments);
    const names =
      structs[0] && structs.every((s) => s !== undefined)
        ? structs[0].map((arg, k) => structFieldName(arg, k).name)
        : undefined;
    if (allIntegers) out.push('CAST(', group.start);
    out.push('[', group.start);
    elements.forEach((element, k) => {
      if (k > 0) out.push(',', group.start);
      const args = structs[k];
      if (names && args) {
        if (args.length !== names.length)
          throw new SqlError(
            'Array elements of types with different numbers of fields cannot be combined',
            element[0]?.start ?? group.start,
          );
        this.structPack(args, names, element[0]?.start ?? group.start, out);
      } else this.seq(element, out);
    });
    out.push(']', group.end - 1);
    if (allIntegers) out.push('AS BIGINT[])', group.end - 1);
  }

  /** struct_pack(name := value, ...), integer literals typed INT64. */
  structPack(
    args: readonly Node[][],
    names: readonly string[] | undefined,
    position: number,
    out: Out,
  ): void {
    out.push('struct_pack(', position);
    args.forEach((arg, k) => {
      const field = structFieldName(arg, k);
      if (k > 0) out.push(',', arg[0]?.start ?? position);
      out.push(`${quoteIdentifier(names?.[k] ?? field.name)} :=`, arg[0]?.start ?? position);
      const isInt = isIntegerLiteral(field.body);
      if (isInt) out.push('CAST(', position);
      this.seq(field.body, out);
      if (isInt) out.push('AS BIGINT)', position);
    });
    out.push(')', position);
  }

  /** `ARRAY<T>[...]`, `STRUCT<a T, ...>(...)`. */
  private typedConstructor(nodes: readonly Node[], i: number, out: Out): number {
    const token = nodes[i] as Token;
    const { type, end, fields } = this.type(nodes, i);
    const values = nodes[end];
    if (token.value.toUpperCase() === 'ARRAY') {
      if (!isGroup(values, '['))
        throw new SqlError('Syntax error: Expected "["', values?.start ?? token.start);
      out.push('CAST(', token.start);
      this.arrayLiteral(values, out);
      out.push(`AS ${type})`, values.end - 1);
      return end + 1;
    }
    if (!isGroup(values, '(')) throw new SqlError('Syntax error: Expected "("', values?.start ?? token.start);
    const args = values.children.length === 0 ? [] : splitCommas(values.children);
    if (args.length !== fields.length)
      throw new SqlError(
        `STRUCT type has ${fields.length} fields but constructor call has ${args.length} fields`,
        values.start,
      );
    out.push('struct_pack(', token.start);
    args.forEach((arg, k) => {
      if (k > 0) out.push(',', values.start);
      const field = fields[k]!;
      out.push(`${quoteIdentifier(field.name || `_field_${k + 1}`)} := CAST(`, arg[0]?.start ?? values.start);
      this.seq(stripAlias(arg), out);
      out.push(`AS ${field.type})`, values.start);
    });
    out.push(')', values.end - 1);
    return end + 1;
  }

  /**
   * A GoogleSQL type starting at nodes[i] as a DuckDB type; also the fields of a STRUCT type.
   * Returns the index after the type.
   */
  type(
    nodes: readonly Node[],
    i: number,
  ): { type: string; end: number; fields: { name: string; type: string }[] } {
    const token = nodes[i];
    if (!token || token.kind !== 'ident')
      throw new SqlError(
        `Syntax error: Expected a type but got ${describe(token)}`,
        token?.start ?? this.source.length,
      );
    const upper = token.value.toUpperCase();
    if (upper === 'ARRAY' || upper === 'STRUCT') {
      if (!isOp(nodes[i + 1], '<'))
        throw new SqlError(`Syntax error: Expected "<" after ${upper}`, token.end);
      const { members, close: j } = typeArguments(nodes, i + 1, token);
      if (upper === 'ARRAY') {
        const element = this.type(members[0]!, 0);
        if (element.type.endsWith('[]'))
          throw new SqlError('Arrays of arrays are not supported', token.start);
        return { type: `${element.type}[]`, end: j + 1, fields: [] };
      }
      const fields = members
        .filter((m) => m.length > 0)
        .map((member) => {
          const named =
            member.length > 1 &&
            (member[0]!.kind === 'ident' || member[0]!.kind === 'quoted') &&
            !isOp(member[1], '<', '(');
          const name = named ? (member[0] as Token).value : '';
          return { name, type: this.type(member, named ? 1 : 0).type };
        });
      const body = fields
        .map((f, k) => `${quoteIdentifier(f.name || `_field_${k + 1}`)} ${f.type}`)
        .join(', ');
      return { type: `STRUCT(${body})`, end: j + 1, fields };
    }
    let end = i + 1;
    let params: string[] = [];
    if (isGroup(nodes[end], '(')) {
      params = splitCommas((nodes[end] as Group).children).map((p) =>
        p.map((n) => ('value' in n ? n.value : '')).join(''),
      );
      end++;
    }
    const scalar = SCALAR_TYPES[upper];
    if (!scalar) throw new SqlError(`Type not found: ${token.value}`, token.start);
    if ((upper === 'NUMERIC' || upper === 'DECIMAL') && params.length > 0)
      return { type: `DECIMAL(${params[0]}, ${params[1] ?? 0})`, end, fields: [] };
    return { type: scalar, end, fields: [] };
  }

  /** INTERVAL expr part → a DuckDB interval expression. */
  private interval(nodes: readonly Node[], i: number, out: Out): number {
    const token = nodes[i] as Token;
    let j = i + 2;
    while (j < nodes.length && !(isWord(nodes[j]) && DATE_PARTS.has((nodes[j] as Token).value.toUpperCase())))
      j++;
    const part = nodes[j] as Token | undefined;
    if (!part) throw new SqlError('Syntax error: Expected a date part after INTERVAL', token.start);
    if (isWord(nodes[j + 1], 'TO'))
      throw new SqlError(
        'INTERVAL ... TO ... literals are not supported by the BigQuery emulator',
        token.start,
      );
    const amount = nodes.slice(i + 1, j);
    const value =
      amount.length === 1 && amount[0]!.kind === 'string'
        ? sql(token.start, `CAST(${quoteString(amount[0]!.value)} AS BIGINT)`)
        : this.seq(amount);
    out.append(intervalOf(part.value.toUpperCase(), value, token.start));
    return j + 1;
  }

  /** WITH [RECURSIVE] name AS (query), ... */
  private withClause(nodes: readonly Node[], i: number, out: Out): number {
    out.push('WITH', nodes[i]!.start);
    let j = i + 1;
    if (isWord(nodes[j], 'RECURSIVE')) out.push('RECURSIVE', nodes[j++]!.start);
    while (true) {
      const name = nodes[j];
      if (!name || (name.kind !== 'ident' && name.kind !== 'quoted'))
        throw new SqlError(
          `Syntax error: Expected a name in WITH but got ${describe(name)}`,
          name?.start ?? this.source.length,
        );
      this.cteNames.add(name.value.toLowerCase());
      if (!isWord(nodes[j + 1], 'AS') || !isGroup(nodes[j + 2], '('))
        throw new SqlError('Syntax error: Expected AS (subquery) in WITH', nodes[j + 1]?.start ?? name.end);
      const body = nodes[j + 2] as Group;
      out
        .push(quoteIdentifier(name.value), name.start)
        .push('AS', nodes[j + 1]!.start)
        .push('(', body.start);
      this.seq(body.children, out);
      out.push(')', body.end - 1);
      j += 3;
      if (!isOp(nodes[j], ',')) return j;
      out.push(',', nodes[j]!.start);
      j++;
    }
  }

  /** SELECT list: names anonymous columns f0_, f1_, ... and handles AS STRUCT / AS VALUE. */
  private select(nodes: readonly Node[], i: number, out: Out): number {
    out.push('SELECT', nodes[i]!.start);
    let j = i + 1;
    if (isWord(nodes[j], 'ALL', 'DISTINCT'))
      out.push((nodes[j] as Token).value.toUpperCase(), nodes[j++]!.start);
    let asStruct = false;
    if (isWord(nodes[j], 'AS') && isWord(nodes[j + 1], 'STRUCT', 'VALUE')) {
      asStruct = (nodes[j + 1] as Token).value.toUpperCase() === 'STRUCT';
      j += 2;
    }
    let end = j;
    while (end < nodes.length && !this.endsSelectList(nodes, end)) end++;
    const items = splitCommas(nodes.slice(j, end));
    if (items.length > 1 && items[items.length - 1]!.length === 0) items.pop();
    let anonymous = 0;
    const translated = items.map((item, k) => {
      if (item.length === 0) throw new SqlError('Syntax error: Unexpected ","', nodes[j]?.start ?? 0);
      const named = selectItemName(item);
      const body = named.alias ? item.slice(0, named.aliasAt) : item;
      const expression =
        body.length === 1 && isIntegerLiteral(body)
          ? sql(body[0]!.start, 'CAST(', this.seq(body), 'AS BIGINT)')
          : body.length === 2 && isIntegerLiteral(body)
            ? sql(body[0]!.start, 'CAST(', this.seq(body), 'AS BIGINT)')
            : this.seq(body);
      const name =
        named.alias ??
        named.inferred ??
        (named.star ? undefined : `${asStruct ? `_field_${k + 1}` : `f${anonymous++}_`}`);
      return {
        expression,
        name,
        explicit: named.alias !== undefined || (!named.inferred && !named.star),
        pos: item[0]!.start,
      };
    });
    if (asStruct) {
      out.push('struct_pack(', nodes[i]!.start);
      translated.forEach((t, k) => {
        if (k > 0) out.push(',', t.pos);
        out.push(`${quoteIdentifier(t.name ?? `_field_${k + 1}`)} :=`, t.pos).append(t.expression);
      });
      out.push(')', nodes[i]!.start);
    } else {
      translated.forEach((t, k) => {
        if (k > 0) out.push(',', t.pos);
        out.append(t.expression);
        if (t.explicit && t.name !== undefined) out.push('AS', t.pos).push(quoteIdentifier(t.name), t.pos);
      });
    }
    return end;
  }

  private endsSelectList(nodes: readonly Node[], k: number): boolean {
    const node = nodes[k];
    if (!isWord(node)) return isOp(node, ';');
    const upper = node.value.toUpperCase();
    if (!CLAUSE_WORDS.has(upper)) return false;
    // `* EXCEPT (...)` belongs to the item; `EXCEPT DISTINCT` ends the list.
    if (upper === 'EXCEPT') return !isGroup(nodes[k + 1], '(');
    if (upper === 'FROM') return !isWord(nodes[k - 1], 'DISTINCT');
    return true;
  }

  /** FROM clause: table names, joins, UNNEST, correlated array paths. */
  private from(nodes: readonly Node[], i: number, out: Out): number {
    out.push('FROM', nodes[i]!.start);
    let end = i + 1;
    while (end < nodes.length && !this.endsFrom(nodes, end)) end++;
    this.fromItems(nodes.slice(i + 1, end), out);
    return end;
  }

  private endsFrom(nodes: readonly Node[], k: number): boolean {
    const node = nodes[k];
    if (isOp(node, ';')) return true;
    if (!isWord(node)) return false;
    const upper = node.value.toUpperCase();
    return upper !== 'FROM' && CLAUSE_WORDS.has(upper);
  }

  /** Table factors joined by commas and JOINs. */
  fromItems(nodes: readonly Node[], out: Out): void {
    const aliases = new Set<string>();
    let j = 0;
    let join: 'first' | 'comma' | 'cross' | 'inner' | 'outer' = 'first';
    while (j < nodes.length) {
      j = this.tableFactor(nodes, j, out, join, aliases);
      // Join operators and conditions until the next factor.
      while (j < nodes.length) {
        const node = nodes[j]!;
        if (isOp(node, ',')) {
          out.push(',', node.start);
          join = 'comma';
          j++;
          break;
        }
        if (isWord(node, 'ON')) {
          let k = j + 1;
          while (k < nodes.length && !isOp(nodes[k], ',') && !isJoinStart(nodes, k)) k++;
          out.push('ON', node.start);
          this.seq(nodes.slice(j + 1, k), out);
          j = k;
          continue;
        }
        if (isWord(node, 'USING') && isGroup(nodes[j + 1], '(')) {
          const group = nodes[j + 1] as Group;
          out.push('USING', node.start).push('(', group.start);
          this.seq(group.children, out);
          out.push(')', group.end - 1);
          j += 2;
          continue;
        }
        if (isJoinStart(nodes, j)) {
          let k = j;
          const words: string[] = [];
          while (!isWord(nodes[k], 'JOIN')) {
            words.push((nodes[k] as Token).value.toUpperCase());
            k++;
          }
          for (const word of [...words, 'JOIN']) out.push(word, node.start);
          join = words.includes('CROSS')
            ? 'cross'
            : words.some((w) => w === 'LEFT' || w === 'RIGHT' || w === 'FULL')
              ? 'outer'
              : 'inner';
          j = k + 1;
          break;
        }
        throw new SqlError(`Syntax error: Unexpected ${describe(node)}`, node.start);
      }
    }
  }

  private tableFactor(
    nodes: readonly Node[],
    j: number,
    out: Out,
    join: 'first' | 'comma' | 'cross' | 'inner' | 'outer',
    aliases: Set<string>,
  ): number {
    const node = nodes[j];
    if (!node) throw new SqlError('Syntax error: Unexpected end of FROM clause', this.source.length);
    // A correlated factor (UNNEST, array path) needs LATERAL, and ON TRUE after a JOIN without ON.
    const lateral = (
      body: Out,
      alias: string | undefined,
      columns: string[],
      position: number,
      after: number,
    ) => {
      if (join !== 'first') out.push('LATERAL', position);
      out.append(body);
      if (alias !== undefined)
        out.push(`AS ${quoteIdentifier(alias)}(${columns.map(quoteIdentifier).join(', ')})`, position);
      else out.push(`AS ${quoteIdentifier(`_unnest_${position}`)}`, position);
      if ((join === 'inner' || join === 'outer') && !isWord(nodes[after], 'ON'))
        out.push('ON TRUE', position);
    };

    if (isWord(node, 'UNNEST') && isGroup(nodes[j + 1], '(')) {
      const array = this.seq((nodes[j + 1] as Group).children);
      const { alias, offset, next } = readAliasAndOffset(nodes, j + 2);
      if (alias) {
        aliases.add(alias.toLowerCase());
        this.elementAliases.add(alias.toLowerCase());
      }
      const body = unnestSelect(array, alias, offset, node.start);
      lateral(body, alias, alias ? [alias, ...(offset ? [offset] : [])] : [], node.start, next);
      return next;
    }
    if (isGroup(node, '(')) {
      out.push('(', node.start);
      const first = node.children[0];
      if (isWord(first, 'SELECT', 'WITH') || isGroup(first, '(')) this.seq(node.children, out);
      else this.fromItems(node.children, out);
      out.push(')', node.end - 1);
      const { alias, next } = readAlias(nodes, j + 1);
      if (alias) {
        aliases.add(alias.toLowerCase());
        out.push('AS', node.start).push(quoteIdentifier(alias), node.start);
      }
      return next;
    }
    if (node.kind !== 'ident' && node.kind !== 'quoted')
      throw new SqlError(`Syntax error: Unexpected ${describe(node)}`, node.start);
    if (isGroup(nodes[j + 1], '('))
      throw new SqlError(`Table-valued function not found: ${node.value}`, node.start);
    const { parts, next: afterPath } = readPath(nodes, j);
    if (isWord(nodes[afterPath], 'FOR') && isWord(nodes[afterPath + 1], 'SYSTEM_TIME', 'SYSTEM'))
      throw new SqlError(
        'FOR SYSTEM_TIME AS OF is not supported by the BigQuery emulator',
        nodes[afterPath].start,
      );
    if (isWord(nodes[afterPath], 'TABLESAMPLE'))
      throw new SqlError('TABLESAMPLE is not supported by the BigQuery emulator', nodes[afterPath].start);
    const { alias, offset, next } = readAliasAndOffset(nodes, afterPath);
    const first = parts[0]!.toLowerCase();

    if (parts.length > 1 && aliases.has(first)) {
      // `FROM t, t.items AS item`: an implicit UNNEST of an array column.
      const array = new Out();
      parts.forEach((part, k) => {
        if (k > 0) array.push('.', node.start);
        array.push(quoteIdentifier(part), node.start);
      });
      const name = alias ?? parts[parts.length - 1]!;
      aliases.add(name.toLowerCase());
      this.elementAliases.add(name.toLowerCase());
      lateral(
        unnestSelect(array, name, offset, node.start),
        name,
        [name, ...(offset ? [offset] : [])],
        node.start,
        next,
      );
      return next;
    }
    if (offset) throw new SqlError('WITH OFFSET is only allowed after UNNEST or an array path', node.start);
    if (parts.length === 1 && this.cteNames.has(first)) {
      out.push(quoteIdentifier(parts[0]!), node.start);
    } else {
      out.push(this.options.resolveTable(this.tableName(parts, node.start), node.start), node.start);
    }
    const name = alias ?? parts[parts.length - 1]!;
    aliases.add(name.toLowerCase());
    if (alias) out.push('AS', node.start).push(quoteIdentifier(alias), node.start);
    else if (!(parts.length === 1 && this.cteNames.has(first)))
      out.push('AS', node.start).push(quoteIdentifier(name), node.start);
    return next;
  }

  /** A table path as project, dataset and table, using the job's project and default dataset. */
  tableName(parts: readonly string[], position: number): TableName {
    if (parts.some((p) => p.toUpperCase() === 'INFORMATION_SCHEMA'))
      throw new SqlError('INFORMATION_SCHEMA is not supported by the BigQuery emulator', position);
    if (parts.length === 3) return { projectId: parts[0]!, datasetId: parts[1]!, tableId: parts[2]! };
    if (parts.length === 2)
      return { projectId: this.options.projectId, datasetId: parts[0]!, tableId: parts[1]! };
    if (parts.length === 1) {
      const fallback = this.options.defaultDataset;
      if (!fallback)
        throw new SqlError(
          `Table "${parts[0]}" must be qualified with a dataset (e.g. dataset.table).`,
          position,
        );
      return {
        projectId: fallback.projectId ?? this.options.projectId,
        datasetId: fallback.datasetId,
        tableId: parts[0]!,
      };
    }
    throw new SqlError(`Invalid table name: ${parts.join('.')}`, position);
  }

  /** A function call `name(args)`. */
  call(name: Token, group: Group): Out {
    const raw = group.children.length === 0 ? [] : splitCommas(group.children);
    return this.callFunction(name, raw, group.start, group);
  }

  callFunction(name: Token, raw: Node[][], position: number, group?: Group): Out {
    const upper = name.value.toUpperCase();
    const handler = FUNCTIONS[upper];
    if (!handler) {
      if (UNSUPPORTED_FUNCTIONS.has(upper) || upper.startsWith('ST_'))
        throw new SqlError(`Function ${upper} is not supported by the BigQuery emulator`, name.start);
      throw new SqlError(`Function not found: ${name.value}`, name.start);
    }
    const context: CallContext = {
      name: upper,
      position: name.start,
      raw,
      group: group ?? { kind: 'group', open: '(', children: [], start: position, end: position },
      translator: this,
      arg: (k: number) => {
        const nodes = raw[k];
        if (!nodes || nodes.length === 0)
          throw new SqlError(`Missing argument ${k + 1} of ${upper}`, position);
        return this.seq(nodes);
      },
      args: () => raw.map((nodes) => this.seq(nodes)),
    };
    return handler(context);
  }
}

const SCALAR_TYPES: Record<string, string> = {
  INT64: 'BIGINT',
  INTEGER: 'BIGINT',
  INT: 'BIGINT',
  SMALLINT: 'BIGINT',
  BIGINT: 'BIGINT',
  TINYINT: 'BIGINT',
  BYTEINT: 'BIGINT',
  FLOAT64: 'DOUBLE',
  FLOAT: 'DOUBLE',
  NUMERIC: 'DECIMAL(38, 9)',
  DECIMAL: 'DECIMAL(38, 9)',
  BIGNUMERIC: 'DECIMAL(38, 18)',
  BIGDECIMAL: 'DECIMAL(38, 18)',
  BOOL: 'BOOLEAN',
  BOOLEAN: 'BOOLEAN',
  STRING: 'VARCHAR',
  BYTES: 'BLOB',
  DATE: 'DATE',
  DATETIME: 'TIMESTAMP',
  TIME: 'TIME',
  TIMESTAMP: 'TIMESTAMPTZ',
  JSON: 'JSON',
  INTERVAL: 'INTERVAL',
  GEOGRAPHY: 'VARCHAR',
};

const INTERVAL_FUNCTIONS: Record<string, string> = {
  MICROSECOND: 'to_microseconds',
  MILLISECOND: 'to_milliseconds',
  SECOND: 'to_seconds',
  MINUTE: 'to_minutes',
  HOUR: 'to_hours',
  DAY: 'to_days',
  WEEK: 'to_weeks',
  MONTH: 'to_months',
  YEAR: 'to_years',
};

/** A DuckDB interval of `amount` `part`s. */
export function intervalOf(part: string, amount: Out, position: number): Out {
  if (part === 'QUARTER') return sql(position, 'to_months(CAST(', amount, 'AS BIGINT) * 3)');
  const fn = INTERVAL_FUNCTIONS[part];
  if (!fn) throw new SqlError(`Unsupported INTERVAL date part: ${part}`, position);
  return sql(position, `${fn}(CAST(`, amount, 'AS BIGINT))');
}

function unnestSelect(
  array: Out,
  alias: string | undefined,
  offset: string | undefined,
  position: number,
): Out {
  const body = new Out();
  body.push('(SELECT', position);
  if (alias)
    body
      .push('unnest(', position)
      .append(array)
      .push(`) AS ${quoteIdentifier(alias)}`, position);
  else body.push('unnest(', position).append(array).push(', recursive := true)', position);
  if (offset)
    body
      .push(', unnest(range(len(', position)
      .append(array)
      .push(`))) AS ${quoteIdentifier(offset)}`, position);
  body.push(')', position);
  return body;
}

/** GoogleSQL refuses different set operations side by side without parentheses. */
function checkSetOperations(nodes: readonly Node[]): void {
  let seen: string | undefined;
  nodes.forEach((node, k) => {
    if (!isWord(node, 'UNION', 'INTERSECT', 'EXCEPT')) return;
    const qualifier = nodes[k + 1];
    if (!isWord(qualifier, 'ALL', 'DISTINCT')) return;
    const operation = `${node.value.toUpperCase()} ${qualifier.value.toUpperCase()}`;
    if (seen !== undefined && seen !== operation)
      throw new SqlError(
        'Syntax error: Different set operations cannot be used in the same query without using parentheses for grouping',
        node.start,
      );
    seen = operation;
  });
}

/** The arguments of an untyped STRUCT(...) or a tuple (a, b), or undefined. */
function structArguments(element: readonly Node[]): Node[][] | undefined {
  if (element.length === 2 && isWord(element[0], 'STRUCT') && isGroup(element[1], '('))
    return element[1].children.length === 0 ? [] : splitCommas(element[1].children);
  if (element.length === 1 && isGroup(element[0], '(') && !isWord(element[0].children[0], 'SELECT', 'WITH')) {
    const args = splitCommas(element[0].children);
    return args.length > 1 ? args : undefined;
  }
  return undefined;
}

/** A STRUCT argument's field name: its alias, the last part of a path, or _field_<n>. */
export function structFieldName(nodes: readonly Node[], k: number): { name: string; body: Node[] } {
  const last = nodes[nodes.length - 1];
  if (
    nodes.length >= 3 &&
    isWord(nodes[nodes.length - 2], 'AS') &&
    last &&
    (last.kind === 'ident' || last.kind === 'quoted')
  )
    return { name: last.value, body: nodes.slice(0, -2) };
  if (last && isPath(nodes))
    return {
      name: last.kind === 'quoted' ? last.value.split('.').pop()! : (last as Token).value,
      body: [...nodes],
    };
  return { name: `_field_${k + 1}`, body: [...nodes] };
}

function numberLiteral(token: Token): string {
  const text = token.value;
  if (/^0x/i.test(text)) {
    const value = BigInt(text);
    if (value > 2n ** 63n - 1n) throw new SqlError(`Invalid hex integer literal: ${text}`, token.start);
    return value.toString();
  }
  if (/^\d+$/.test(text)) {
    if (BigInt(text) > 2n ** 63n - 1n) throw new SqlError(`Invalid integer literal: ${text}`, token.start);
    return text;
  }
  // GoogleSQL reads 1.5 as FLOAT64; DuckDB would read a DECIMAL.
  const normalized = text.startsWith('.') ? `0${text}` : text;
  return /[eE]/.test(text) ? normalized : `CAST(${normalized} AS DOUBLE)`;
}

function isIntegerLiteral(nodes: readonly Node[]): boolean {
  if (nodes.length === 1) return nodes[0]!.kind === 'number' && /^(\d+|0x[0-9a-f]+)$/i.test(nodes[0]!.value);
  return nodes.length === 2 && isOp(nodes[0], '-') && isIntegerLiteral([nodes[1]!]);
}

function isJoinStart(nodes: readonly Node[], k: number): boolean {
  let j = k;
  while (isWord(nodes[j], 'INNER', 'CROSS', 'LEFT', 'RIGHT', 'FULL', 'OUTER', 'NATURAL')) j++;
  return isWord(nodes[j], 'JOIN') && (j > k || isWord(nodes[k], 'JOIN'));
}

/** A dotted path of identifiers; unquoted project names may contain dashes (`my-project.ds.t`). */
export function readPath(nodes: readonly Node[], j: number): { parts: string[]; next: number } {
  let current = '';
  let k = j;
  while (k < nodes.length) {
    const node = nodes[k]!;
    const joinable = current === '' || current.endsWith('.') || current.endsWith('-');
    if ((node.kind === 'quoted' || node.kind === 'ident') && joinable) current += node.value;
    else if (node.kind === 'number' && current.endsWith('-') && nodes[k - 1]!.end === node.start)
      current += node.value;
    else if (isOp(node, '.') && current !== '' && !joinable) current += '.';
    else if (
      isOp(node, '-') &&
      current !== '' &&
      !joinable &&
      !current.includes('.') &&
      nodes[k - 1]!.end === node.start &&
      nodes[k + 1]?.start === node.end
    )
      current += '-';
    else break;
    k++;
  }
  return { parts: current.split('.').filter((p) => p.length > 0), next: k };
}

function readAlias(nodes: readonly Node[], j: number): { alias: string | undefined; next: number } {
  let k = j;
  if (isWord(nodes[k], 'AS')) k++;
  const node = nodes[k];
  if (
    node &&
    (node.kind === 'quoted' || (node.kind === 'ident' && !GOOGLESQL_RESERVED.has(node.value.toUpperCase())))
  )
    return { alias: node.value, next: k + 1 };
  if (k !== j)
    throw new SqlError(
      `Syntax error: Expected an alias after AS but got ${describe(node)}`,
      node?.start ?? 0,
    );
  return { alias: undefined, next: j };
}

function readAliasAndOffset(
  nodes: readonly Node[],
  j: number,
): { alias: string | undefined; offset: string | undefined; next: number } {
  const { alias, next } = readAlias(nodes, j);
  if (isWord(nodes[next], 'WITH') && isWord(nodes[next + 1], 'OFFSET')) {
    const after = readAlias(nodes, next + 2);
    return { alias, offset: after.alias ?? 'offset', next: after.next };
  }
  return { alias, offset: undefined, next };
}

/** How a select item is named: explicit alias, a name BigQuery infers from a path, or a star. */
function selectItemName(item: readonly Node[]): {
  alias?: string;
  aliasAt?: number;
  inferred?: string;
  star?: boolean;
} {
  const last = item[item.length - 1]!;
  const before = item[item.length - 2];
  if (isOp(item[0], '*') || item.some((n, k) => isOp(n, '*') && isOp(item[k - 1], '.'))) {
    if (item.every((n) => n.kind !== 'op' || n.value === '.' || n.value === '*')) return { star: true };
    if (item.some((n) => isWord(n, 'EXCEPT', 'REPLACE'))) return { star: true };
  }
  if ((last.kind === 'ident' || last.kind === 'quoted') && item.length >= 2) {
    if (isWord(before, 'AS')) return { alias: last.value, aliasAt: item.length - 2 };
    // `expr alias` without AS: the last word is an alias unless it continues the expression.
    const lastIsKeyword = last.kind === 'ident' && GOOGLESQL_RESERVED.has(last.value.toUpperCase());
    const beforeIsKeyword =
      isWord(before) && GOOGLESQL_RESERVED.has(before.value.toUpperCase()) && !isWord(before, 'END');
    const intervalPart = item.some((n) => isWord(n, 'INTERVAL'));
    if (!lastIsKeyword && !intervalPart && before !== undefined && !isOp(before) && !beforeIsKeyword)
      return { alias: last.value, aliasAt: item.length - 1 };
  }
  if (isPath(item)) {
    const name = (last as Token).value;
    return { inferred: last.kind === 'quoted' ? name.split('.').pop()! : name };
  }
  return {};
}

function isPath(nodes: readonly Node[]): boolean {
  if (nodes.length === 0) return false;
  for (let k = 0; k < nodes.length; k++) {
    const node = nodes[k]!;
    if (k % 2 === 0) {
      if (node.kind === 'quoted') continue;
      if (node.kind !== 'ident' || GOOGLESQL_RESERVED.has(node.value.toUpperCase())) return false;
    } else if (!isOp(node, '.')) return false;
  }
  return nodes.length % 2 === 1;
}

function stripAlias(nodes: readonly Node[]): Node[] {
  return isWord(nodes[nodes.length - 2], 'AS') ? nodes.slice(0, -2) : [...nodes];
}

export function describe(node: Node | undefined): string {
  if (!node) return 'end of input';
  if (node.kind === 'group') return `"${node.open}"`;
  if (node.kind === 'ident')
    return GOOGLESQL_RESERVED.has(node.value.toUpperCase())
      ? `keyword ${node.value.toUpperCase()}`
      : `identifier "${node.value}"`;
  if (node.kind === 'string') return 'string literal';
  if (node.kind === 'number') return `integer literal "${node.value}"`;
  return `"${node.text}"`;
}
