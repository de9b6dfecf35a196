/**
 * One GoogleSQL statement, classified and compiled: queries to DuckDB SQL; DDL (CREATE / DROP /
 * ALTER of tables, views and schemas) to a description the catalog carries out, so BigQuery's
 * metadata (types, modes, partitioning, clustering, options) is kept; DML to DuckDB SQL against
 * the resolved table. Scripting (several statements, DECLARE, IF, ...) is not supported.
 */
import { SqlError, tokenize, type Token } from './lexer.ts';
import { GOOGLESQL_RESERVED } from './keywords.ts';
import {
  isGroup,
  isOp,
  isWord,
  Out,
  quoteIdentifier,
  splitCommas,
  typeArguments,
  type Group,
  type Node,
} from './tree.ts';
import { describe, readPath, Translator, type TableName, type TranslateOptions } from './translate.ts';
import { buildTree } from './tree.ts';
import type { Field } from '../schema.ts';

export interface Compiled {
  sql: string;
  map: { out: number; src: number }[];
}

export interface TableOptions {
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
  expirationTime?: string;
  requirePartitionFilter?: boolean;
}

export type Statement =
  | { kind: 'query'; compiled: Compiled }
  | {
      kind: 'create_table';
      target: TableName;
      orReplace: boolean;
      ifNotExists: boolean;
      fields?: Field[];
      timePartitioning?: Record<string, unknown>;
      rangePartitioning?: Record<string, unknown>;
      clustering?: { fields: string[] };
      options: TableOptions;
      asQuery?: Compiled;
    }
  | {
      kind: 'create_view';
      target: TableName;
      orReplace: boolean;
      ifNotExists: boolean;
      query: string;
      options: TableOptions;
    }
  | {
      kind: 'create_schema';
      projectId: string;
      datasetId: string;
      ifNotExists: boolean;
      options: TableOptions & { location?: string };
    }
  | {
      kind: 'drop';
      what: 'TABLE' | 'VIEW' | 'SCHEMA';
      target: TableName;
      ifExists: boolean;
      cascade: boolean;
    }
  | {
      kind: 'alter_table';
      target: TableName;
      ifExists: boolean;
      addColumns: { field: Field; ifNotExists: boolean }[];
      options?: TableOptions;
    }
  | {
      kind: 'dml';
      statementType: 'INSERT' | 'UPDATE' | 'DELETE' | 'MERGE' | 'TRUNCATE_TABLE';
      target: TableName;
      compiled: Compiled;
    };

export const STATEMENT_TYPES: Record<Statement['kind'], string> = {
  query: 'SELECT',
  create_table: 'CREATE_TABLE',
  create_view: 'CREATE_VIEW',
  create_schema: 'CREATE_SCHEMA',
  drop: 'DROP_TABLE',
  alter_table: 'ALTER_TABLE',
  dml: 'INSERT',
};

/** Splits statements at top-level semicolons and requires exactly one. */
function singleStatement(sql: string): Node[] {
  const tree = buildTree(tokenize(sql), sql.length);
  const statements: Node[][] = [[]];
  for (const node of tree) {
    if (isOp(node, ';')) statements.push([]);
    else statements[statements.length - 1]!.push(node);
  }
  const nonEmpty = statements.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) throw new SqlError('Syntax error: Unexpected end of script', sql.length);
  if (nonEmpty.length > 1)
    throw new SqlError(
      'Multi-statement queries (scripts) are not supported by the BigQuery emulator',
      nonEmpty[1]![0]!.start,
    );
  return nonEmpty[0]!;
}

export function compileStatement(sql: string, options: TranslateOptions): Statement {
  const nodes = singleStatement(sql);
  const translator = new Translator(sql, options);
  translator.prescan(nodes);
  const first = nodes[0]!;
  if (isWord(first, 'SELECT', 'WITH') || isGroup(first, '(')) {
    return { kind: 'query', compiled: render(translator.seq(nodes)) };
  }
  const word = isWord(first) ? first.value.toUpperCase() : '';
  switch (word) {
    case 'CREATE':
      return create(translator, nodes);
    case 'DROP':
      return drop(translator, nodes);
    case 'ALTER':
      return alter(translator, nodes);
    case 'INSERT':
      return insert(translator, nodes);
    case 'DELETE':
      return deleteFrom(translator, nodes);
    case 'UPDATE':
      return update(translator, nodes);
    case 'MERGE':
      return merge(translator, nodes);
    case 'TRUNCATE': {
      if (!isWord(nodes[1], 'TABLE'))
        throw new SqlError('Syntax error: Expected TABLE after TRUNCATE', nodes[1]?.start ?? first.end);
      const { target, next } = targetName(translator, nodes, 2);
      expectEnd(nodes, next);
      const out = new Out()
        .push('DELETE FROM', first.start)
        .push(options.resolveTable(target, nodes[2]!.start), nodes[2]!.start);
      return { kind: 'dml', statementType: 'TRUNCATE_TABLE', target, compiled: render(out) };
    }
    case 'DECLARE':
    case 'SET':
    case 'BEGIN':
    case 'IF':
    case 'LOOP':
    case 'WHILE':
    case 'REPEAT':
    case 'FOR':
    case 'CALL':
    case 'EXECUTE':
    case 'ASSERT':
    case 'RAISE':
    case 'RETURN':
      throw new SqlError(
        `Scripting statements (${word}) are not supported by the BigQuery emulator`,
        first.start,
      );
    case 'EXPORT':
    case 'LOAD':
    case 'GRANT':
    case 'REVOKE':
    case 'UNDROP':
      throw new SqlError(`${word} statements are not supported by the BigQuery emulator`, first.start);
    default:
      throw new SqlError(`Syntax error: Unexpected ${describe(first)}`, first.start);
  }
}

function render(out: Out): Compiled {
  return out.render();
}

function expectEnd(nodes: readonly Node[], k: number): void {
  if (k < nodes.length) throw new SqlError(`Syntax error: Unexpected ${describe(nodes[k])}`, nodes[k]!.start);
}

function targetName(
  translator: Translator,
  nodes: readonly Node[],
  k: number,
): { target: TableName; next: number } {
  const node = nodes[k];
  if (!node || (node.kind !== 'ident' && node.kind !== 'quoted'))
    throw new SqlError(`Syntax error: Expected a table name but got ${describe(node)}`, node?.start ?? 0);
  const { parts, next } = readPath(nodes, k);
  return { target: translator.tableName(parts, node.start), next };
}

function readAlias(nodes: readonly Node[], k: number): { alias?: string; next: number } {
  let j = k;
  if (isWord(nodes[j], 'AS')) j++;
  const node = nodes[j];
  if (
    node &&
    (node.kind === 'quoted' || (node.kind === 'ident' && !GOOGLESQL_RESERVED.has(node.value.toUpperCase())))
  )
    return { alias: node.value, next: j + 1 };
  return { next: k };
}

function create(translator: Translator, nodes: readonly Node[]): Statement {
  let k = 1;
  let orReplace = false;
  if (isWord(nodes[k], 'OR') && isWord(nodes[k + 1], 'REPLACE')) {
    orReplace = true;
    k += 2;
  }
  if (isWord(nodes[k], 'TEMP', 'TEMPORARY'))
    throw new SqlError('Temporary tables are not supported by the BigQuery emulator', nodes[k]!.start);
  if (isWord(nodes[k], 'EXTERNAL', 'SNAPSHOT'))
    throw new SqlError(
      `CREATE ${(nodes[k] as Token).value.toUpperCase()} TABLE is not supported by the BigQuery emulator`,
      nodes[k]!.start,
    );
  if (isWord(nodes[k], 'MATERIALIZED')) k++;
  const what = isWord(nodes[k]) ? (nodes[k] as Token).value.toUpperCase() : '';
  if (what !== 'TABLE' && what !== 'VIEW' && what !== 'SCHEMA')
    throw new SqlError(
      `CREATE ${what || describe(nodes[k])} is not supported by the BigQuery emulator`,
      nodes[k]?.start ?? 0,
    );
  k++;
  let ifNotExists = false;
  if (isWord(nodes[k], 'IF') && isWord(nodes[k + 1], 'NOT') && isWord(nodes[k + 2], 'EXISTS')) {
    ifNotExists = true;
    k += 3;
  }
  if (orReplace && ifNotExists)
    throw new SqlError('CREATE OR REPLACE and IF NOT EXISTS cannot be used together', nodes[0]!.start);

  if (what === 'SCHEMA') {
    const node = nodes[k];
    if (!node) throw new SqlError('Syntax error: Expected a dataset name', nodes[k - 1]!.end);
    const { parts, next } = readPath(nodes, k);
    if (parts.length < 1 || parts.length > 2)
      throw new SqlError(`Invalid dataset name: ${parts.join('.')}`, node.start);
    let j = next;
    if (isWord(nodes[j], 'DEFAULT') && isWord(nodes[j + 1], 'COLLATE')) j += 3;
    const opts = isWord(nodes[j], 'OPTIONS') ? readOptions(nodes[j + 1], nodes[j]!.start) : {};
    if (isWord(nodes[j], 'OPTIONS')) j += 2;
    expectEnd(nodes, j);
    return {
      kind: 'create_schema',
      projectId: parts.length === 2 ? parts[0]! : translator.options.projectId,
      datasetId: parts[parts.length - 1]!,
      ifNotExists,
      options: {
        ...tableOptions(opts),
        ...(typeof opts.location === 'string' ? { location: opts.location } : {}),
      },
    };
  }

  const { target, next } = targetName(translator, nodes, k);
  k = next;
  if (what === 'VIEW') {
    if (isGroup(nodes[k], '(')) k++;
    let opts: Record<string, unknown> = {};
    if (isWord(nodes[k], 'OPTIONS')) {
      opts = readOptions(nodes[k + 1], nodes[k]!.start);
      k += 2;
    }
    if (!isWord(nodes[k], 'AS') || !nodes[k + 1])
      throw new SqlError('Syntax error: Expected AS followed by a query', nodes[k]?.start ?? 0);
    const queryStart = nodes[k + 1]!.start;
    const query = translator.source.slice(queryStart).replace(/;\s*$/, '').trim();
    return { kind: 'create_view', target, orReplace, ifNotExists, query, options: tableOptions(opts) };
  }

  if (isWord(nodes[k], 'LIKE', 'COPY', 'CLONE'))
    throw new SqlError(
      `CREATE TABLE ... ${(nodes[k] as Token).value.toUpperCase()} is not supported by the BigQuery emulator`,
      nodes[k]!.start,
    );
  let fields: Field[] | undefined;
  if (isGroup(nodes[k], '(') && !isWord((nodes[k] as Group).children[0], 'SELECT', 'WITH')) {
    fields = splitCommas((nodes[k] as Group).children)
      .filter((c) => c.length > 0)
      .map((column) => columnDefinition(column));
    k++;
  }
  let timePartitioning: Record<string, unknown> | undefined;
  let rangePartitioning: Record<string, unknown> | undefined;
  let clustering: { fields: string[] } | undefined;
  let opts: Record<string, unknown> = {};
  while (k < nodes.length && !isWord(nodes[k], 'AS')) {
    if (isWord(nodes[k], 'DEFAULT') && isWord(nodes[k + 1], 'COLLATE')) {
      k += 3;
      continue;
    }
    if (isWord(nodes[k], 'PARTITION') && isWord(nodes[k + 1], 'BY')) {
      let end = k + 2;
      while (end < nodes.length && !isWord(nodes[end], 'CLUSTER', 'OPTIONS', 'AS')) end++;
      const partition = partitionBy(nodes.slice(k + 2, end), nodes[k]!.start);
      timePartitioning = partition.timePartitioning;
      rangePartitioning = partition.rangePartitioning;
      k = end;
      continue;
    }
    if (isWord(nodes[k], 'CLUSTER') && isWord(nodes[k + 1], 'BY')) {
      let end = k + 2;
      while (end < nodes.length && !isWord(nodes[end], 'PARTITION', 'OPTIONS', 'AS')) end++;
      clustering = {
        fields: splitCommas(nodes.slice(k + 2, end)).map((c) => {
          const name = c[0];
          if (c.length !== 1 || !name || (name.kind !== 'ident' && name.kind !== 'quoted'))
            throw new SqlError('CLUSTER BY expects column names', name?.start ?? nodes[k]!.start);
          return name.value;
        }),
      };
      k = end;
      continue;
    }
    if (isWord(nodes[k], 'OPTIONS')) {
      opts = readOptions(nodes[k + 1], nodes[k]!.start);
      k += 2;
      continue;
    }
    throw new SqlError(`Syntax error: Unexpected ${describe(nodes[k])}`, nodes[k]!.start);
  }
  let asQuery: Compiled | undefined;
  if (isWord(nodes[k], 'AS')) {
    const query = nodes.slice(k + 1);
    if (query.length === 0) throw new SqlError('Syntax error: Expected a query after AS', nodes[k]!.end);
    asQuery = render(translator.seq(query));
  } else if (!fields) throw new SqlError('CREATE TABLE needs a column list or AS query', nodes[0]!.start);
  const options = tableOptions(opts);
  return {
    kind: 'create_table',
    target,
    orReplace,
    ifNotExists,
    ...(fields ? { fields } : {}),
    ...(timePartitioning ? { timePartitioning } : {}),
    ...(rangePartitioning ? { rangePartitioning } : {}),
    ...(clustering ? { clustering } : {}),
    options,
    ...(asQuery ? { asQuery } : {}),
  };
}

/** `name TYPE [NOT NULL] [OPTIONS(...)] [DEFAULT ...]` as a BigQuery field. */
function columnDefinition(nodes: readonly Node[]): Field {
  const name = nodes[0];
  if (!name || (name.kind !== 'ident' && name.kind !== 'quoted'))
    throw new SqlError(`Syntax error: Expected a column name but got ${describe(name)}`, name?.start ?? 0);
  const { field, next } = fieldType(nodes, 1, name.value);
  let k = next;
  while (k < nodes.length) {
    if (isWord(nodes[k], 'NOT') && isWord(nodes[k + 1], 'NULL')) {
      if (field.mode === 'REPEATED')
        throw new SqlError('NOT NULL cannot be applied to an ARRAY column', nodes[k]!.start);
      field.mode = 'REQUIRED';
      k += 2;
    } else if (isWord(nodes[k], 'OPTIONS')) {
      const opts = readOptions(nodes[k + 1], nodes[k]!.start);
      if (typeof opts.description === 'string') field.description = opts.description;
      k += 2;
    } else if (isWord(nodes[k], 'DEFAULT', 'COLLATE')) {
      throw new SqlError(
        `Column ${(nodes[k] as Token).value.toUpperCase()} is not supported by the BigQuery emulator`,
        nodes[k]!.start,
      );
    } else throw new SqlError(`Syntax error: Unexpected ${describe(nodes[k])}`, nodes[k]!.start);
  }
  return field;
}

const DDL_TYPES: Record<string, string> = {
  STRING: 'STRING',
  BYTES: 'BYTES',
  INT64: 'INTEGER',
  INTEGER: 'INTEGER',
  INT: 'INTEGER',
  SMALLINT: 'INTEGER',
  BIGINT: 'INTEGER',
  TINYINT: 'INTEGER',
  BYTEINT: 'INTEGER',
  FLOAT64: 'FLOAT',
  NUMERIC: 'NUMERIC',
  DECIMAL: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
  BOOL: 'BOOLEAN',
  BOOLEAN: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  TIME: 'TIME',
  DATETIME: 'DATETIME',
  GEOGRAPHY: 'GEOGRAPHY',
  JSON: 'JSON',
  INTERVAL: 'INTERVAL',
};

/** A DDL type (with STRUCT<> and ARRAY<>) as a BigQuery field named `name`. */
function fieldType(nodes: readonly Node[], k: number, name: string): { field: Field; next: number } {
  const token = nodes[k];
  if (!isWord(token))
    throw new SqlError(`Syntax error: Expected a type but got ${describe(token)}`, token?.start ?? 0);
  const upper = token.value.toUpperCase();
  if (upper === 'ARRAY' || upper === 'STRUCT') {
    if (!isOp(nodes[k + 1], '<')) throw new SqlError(`Syntax error: Expected "<" after ${upper}`, token.end);
    const { members, close: end } = typeArguments(nodes, k + 1, token);
    if (upper === 'ARRAY') {
      const element = fieldType(members[0]!, 0, name);
      if (element.field.mode === 'REPEATED')
        throw new SqlError('Arrays of arrays are not supported', token.start);
      return { field: { ...element.field, mode: 'REPEATED' }, next: end + 1 };
    }
    const fields = members.filter((m) => m.length > 0).map((member) => columnDefinition(member));
    return { field: { name, type: 'RECORD', mode: 'NULLABLE', fields }, next: end + 1 };
  }
  const type = DDL_TYPES[upper];
  if (!type) throw new SqlError(`Type not found: ${token.value}`, token.start);
  let next = k + 1;
  if (isGroup(nodes[next], '(')) next++;
  return { field: { name, type, mode: 'NULLABLE' }, next };
}

function partitionBy(
  nodes: readonly Node[],
  position: number,
): { timePartitioning?: Record<string, unknown>; rangePartitioning?: Record<string, unknown> } {
  const unsupported = () => new SqlError('Unsupported PARTITION BY expression', nodes[0]?.start ?? position);
  const column = (n: Node | undefined) => {
    if (!n || (n.kind !== 'ident' && n.kind !== 'quoted')) throw unsupported();
    return n.value;
  };
  const time = (type: string, field: string) =>
    /^_PARTITION(TIME|DATE)$/i.test(field)
      ? { timePartitioning: { type } }
      : { timePartitioning: { type, field } };
  if (nodes.length === 1) return time('DAY', column(nodes[0]));
  const fn = nodes[0];
  const args = isGroup(nodes[1], '(') ? splitCommas((nodes[1] as Group).children) : undefined;
  if (!isWord(fn) || !args || nodes.length !== 2) throw unsupported();
  const name = fn.value.toUpperCase();
  if (name === 'DATE' && args.length === 1 && args[0]!.length === 1) return time('DAY', column(args[0]![0]));
  if (
    (name === 'TIMESTAMP_TRUNC' || name === 'DATE_TRUNC' || name === 'DATETIME_TRUNC') &&
    args.length === 2
  ) {
    const part = args[1]![0];
    if (!isWord(part, 'HOUR', 'DAY', 'MONTH', 'YEAR')) throw unsupported();
    return time(part.value.toUpperCase(), column(args[0]![0]));
  }
  if (name === 'RANGE_BUCKET' && args.length === 2) {
    const generate = args[1]!;
    const bounds =
      isWord(generate[0], 'GENERATE_ARRAY') && isGroup(generate[1], '(')
        ? splitCommas((generate[1] as Group).children)
        : [];
    const number = (n: Node[] | undefined) => {
      const text = n?.map((x) => ('value' in x ? x.value : '')).join('') ?? '';
      if (!/^-?\d+$/.test(text)) throw unsupported();
      return text;
    };
    if (bounds.length !== 3) throw unsupported();
    return {
      rangePartitioning: {
        field: column(args[0]![0]),
        range: { start: number(bounds[0]), end: number(bounds[1]), interval: number(bounds[2]) },
      },
    };
  }
  throw unsupported();
}

/** OPTIONS(name = literal, ...): strings, numbers, booleans and label lists. */
function readOptions(group: Node | undefined, position: number): Record<string, unknown> {
  if (!isGroup(group, '(')) throw new SqlError('Syntax error: Expected "(" after OPTIONS', position);
  const result: Record<string, unknown> = {};
  for (const entry of splitCommas(group.children)) {
    if (entry.length === 0) continue;
    const key = entry[0];
    if (!key || key.kind !== 'ident' || !isOp(entry[1], '='))
      throw new SqlError('Syntax error: Expected name = value in OPTIONS', key?.start ?? position);
    result[key.value.toLowerCase()] = literalValue(entry.slice(2));
  }
  return result;
}

function literalValue(nodes: readonly Node[]): unknown {
  const [first] = nodes;
  if (nodes.length === 1 && first) {
    if (first.kind === 'string') return first.value;
    if (first.kind === 'number') return Number(first.value);
    if (isWord(first, 'TRUE')) return true;
    if (isWord(first, 'FALSE')) return false;
    if (isWord(first, 'NULL')) return null;
    if (isGroup(first, '[') || isGroup(first, '('))
      return splitCommas(first.children)
        .filter((n) => n.length > 0)
        .map((n) => literalValue(n));
  }
  if (nodes.length === 2 && isWord(first, 'TIMESTAMP') && nodes[1]!.kind === 'string')
    return { timestamp: nodes[1]!.value };
  if (nodes.length === 2 && isWord(first, 'STRUCT') && isGroup(nodes[1], '('))
    return splitCommas((nodes[1] as Group).children).map((n) => literalValue(n));
  return undefined;
}

function tableOptions(opts: Record<string, unknown>): TableOptions {
  const options: TableOptions = {};
  if (typeof opts.description === 'string') options.description = opts.description;
  if (typeof opts.friendly_name === 'string') options.friendlyName = opts.friendly_name;
  if (typeof opts.require_partition_filter === 'boolean')
    options.requirePartitionFilter = opts.require_partition_filter;
  if (Array.isArray(opts.labels)) {
    options.labels = {};
    for (const pair of opts.labels) {
      if (Array.isArray(pair) && typeof pair[0] === 'string') options.labels[pair[0]] = String(pair[1] ?? '');
    }
  }
  const expiration = opts.expiration_timestamp as { timestamp?: string } | undefined;
  if (expiration?.timestamp) {
    const millis = Date.parse(expiration.timestamp.replace(' ', 'T').replace(/ UTC$/i, 'Z'));
    if (!Number.isNaN(millis)) options.expirationTime = String(millis);
  }
  return options;
}

function drop(translator: Translator, nodes: readonly Node[]): Statement {
  let k = 1;
  if (isWord(nodes[k], 'MATERIALIZED')) k++;
  const what = isWord(nodes[k]) ? (nodes[k] as Token).value.toUpperCase() : '';
  if (what !== 'TABLE' && what !== 'VIEW' && what !== 'SCHEMA')
    throw new SqlError(
      `DROP ${what || describe(nodes[k])} is not supported by the BigQuery emulator`,
      nodes[k]?.start ?? 0,
    );
  k++;
  let ifExists = false;
  if (isWord(nodes[k], 'IF') && isWord(nodes[k + 1], 'EXISTS')) {
    ifExists = true;
    k += 2;
  }
  if (what === 'SCHEMA') {
    const node = nodes[k];
    const { parts, next } = readPath(nodes, k);
    if (!node || parts.length < 1 || parts.length > 2)
      throw new SqlError('Syntax error: Expected a dataset name', node?.start ?? 0);
    let cascade = false;
    let j = next;
    if (isWord(nodes[j], 'CASCADE', 'RESTRICT')) cascade = isWord(nodes[j++], 'CASCADE');
    expectEnd(nodes, j);
    return {
      kind: 'drop',
      what,
      target: {
        projectId: parts.length === 2 ? parts[0]! : translator.options.projectId,
        datasetId: parts[parts.length - 1]!,
        tableId: '',
      },
      ifExists,
      cascade,
    };
  }
  const { target, next } = targetName(translator, nodes, k);
  expectEnd(nodes, next);
  return { kind: 'drop', what, target, ifExists, cascade: false };
}

function alter(translator: Translator, nodes: readonly Node[]): Statement {
  if (!isWord(nodes[1], 'TABLE'))
    throw new SqlError('Only ALTER TABLE is supported by the BigQuery emulator', nodes[1]?.start ?? 0);
  let k = 2;
  let ifExists = false;
  if (isWord(nodes[k], 'IF') && isWord(nodes[k + 1], 'EXISTS')) {
    ifExists = true;
    k += 2;
  }
  const { target, next } = targetName(translator, nodes, k);
  const actions = splitCommas(nodes.slice(next));
  const addColumns: { field: Field; ifNotExists: boolean }[] = [];
  let options: TableOptions | undefined;
  for (const action of actions) {
    if (isWord(action[0], 'ADD') && isWord(action[1], 'COLUMN')) {
      let j = 2;
      let ifNotExists = false;
      if (isWord(action[j], 'IF') && isWord(action[j + 1], 'NOT') && isWord(action[j + 2], 'EXISTS')) {
        ifNotExists = true;
        j += 3;
      }
      const field = columnDefinition(action.slice(j));
      if (field.mode === 'REQUIRED')
        throw new SqlError('Cannot add a REQUIRED column to an existing table', action[0].start);
      addColumns.push({ field, ifNotExists });
    } else if (isWord(action[0], 'SET') && isWord(action[1], 'OPTIONS')) {
      options = tableOptions(readOptions(action[2], action[1].start));
    } else {
      throw new SqlError(
        `ALTER TABLE ${action
          .slice(0, 2)
          .map((n) => ('value' in n ? n.value : ''))
          .join(' ')} is not supported by the BigQuery emulator`,
        action[0]?.start ?? 0,
      );
    }
  }
  return { kind: 'alter_table', target, ifExists, addColumns, ...(options ? { options } : {}) };
}

function insert(translator: Translator, nodes: readonly Node[]): Statement {
  let k = 1;
  if (isWord(nodes[k], 'INTO')) k++;
  const start = nodes[k]?.start ?? 0;
  const { target, next } = targetName(translator, nodes, k);
  const out = new Out()
    .push('INSERT INTO', nodes[0]!.start)
    .push(translator.options.resolveTable(target, start), start);
  k = next;
  if (isGroup(nodes[k], '(') && !isWord((nodes[k] as Group).children[0], 'SELECT', 'WITH')) {
    const columns = splitCommas((nodes[k] as Group).children).map((c) => {
      const column = c[0];
      if (c.length !== 1 || !column || (column.kind !== 'ident' && column.kind !== 'quoted'))
        throw new SqlError('Syntax error: Expected a column name', column?.start ?? start);
      return quoteIdentifier(column.value);
    });
    out.push(`(${columns.join(', ')})`, nodes[k]!.start);
    k++;
  }
  if (isWord(nodes[k], 'VALUES')) {
    out.push('VALUES', nodes[k]!.start);
    const rows = splitCommas(nodes.slice(k + 1));
    rows.forEach((row, r) => {
      const group = row[0];
      if (row.length !== 1 || !isGroup(group, '('))
        throw new SqlError('Syntax error: Expected (values) after VALUES', group?.start ?? start);
      if (r > 0) out.push(',', group.start);
      out.push('(', group.start);
      translator.seq(group.children, out);
      out.push(')', group.end - 1);
    });
  } else {
    if (k >= nodes.length) throw new SqlError('Syntax error: Expected VALUES or a query', nodes[k - 1]!.end);
    translator.seq(nodes.slice(k), out);
  }
  return { kind: 'dml', statementType: 'INSERT', target, compiled: render(out) };
}

function deleteFrom(translator: Translator, nodes: readonly Node[]): Statement {
  let k = 1;
  if (isWord(nodes[k], 'FROM')) k++;
  const start = nodes[k]?.start ?? 0;
  const { target, next } = targetName(translator, nodes, k);
  const { alias, next: afterAlias } = readAlias(nodes, next);
  if (!isWord(nodes[afterAlias], 'WHERE'))
    throw new SqlError(
      'DELETE must have a WHERE clause',
      nodes[afterAlias]?.start ?? nodes[nodes.length - 1]!.end,
    );
  const out = new Out()
    .push('DELETE FROM', nodes[0]!.start)
    .push(translator.options.resolveTable(target, start), start);
  if (alias) out.push(`AS ${quoteIdentifier(alias)}`, start);
  out.push('WHERE', nodes[afterAlias].start);
  translator.seq(nodes.slice(afterAlias + 1), out);
  return { kind: 'dml', statementType: 'DELETE', target, compiled: render(out) };
}

function assignments(
  translator: Translator,
  nodes: readonly Node[],
  out: Out,
  alias: string | undefined,
): void {
  splitCommas(nodes).forEach((assignment, a) => {
    const equals = assignment.findIndex((n) => isOp(n, '='));
    if (equals < 1)
      throw new SqlError('Syntax error: Expected column = value in SET', assignment[0]?.start ?? 0);
    const { parts } = readPath(assignment, 0);
    const column =
      parts.length === 2 && alias && parts[0]!.toLowerCase() === alias.toLowerCase() ? [parts[1]!] : parts;
    if (column.length !== 1)
      throw new SqlError(
        'Updating a field inside a STRUCT is not supported by the BigQuery emulator',
        assignment[0]!.start,
      );
    if (a > 0) out.push(',', assignment[0]!.start);
    out.push(`${quoteIdentifier(column[0]!)} =`, assignment[0]!.start);
    translator.seq(assignment.slice(equals + 1), out);
  });
}

function update(translator: Translator, nodes: readonly Node[]): Statement {
  const start = nodes[1]?.start ?? 0;
  const { target, next } = targetName(translator, nodes, 1);
  const { alias, next: afterAlias } = readAlias(nodes, next);
  if (!isWord(nodes[afterAlias], 'SET'))
    throw new SqlError('Syntax error: Expected SET', nodes[afterAlias]?.start ?? 0);
  let end = afterAlias + 1;
  while (end < nodes.length && !isWord(nodes[end], 'FROM', 'WHERE')) end++;
  const out = new Out()
    .push('UPDATE', nodes[0]!.start)
    .push(translator.options.resolveTable(target, start), start);
  if (alias) out.push(`AS ${quoteIdentifier(alias)}`, start);
  out.push('SET', nodes[afterAlias].start);
  assignments(translator, nodes.slice(afterAlias + 1, end), out, alias);
  if (isWord(nodes[end], 'FROM')) {
    let whereAt = end + 1;
    while (whereAt < nodes.length && !isWord(nodes[whereAt], 'WHERE')) whereAt++;
    out.push('FROM', nodes[end]!.start);
    translator.fromItems(nodes.slice(end + 1, whereAt), out);
    end = whereAt;
  }
  if (!isWord(nodes[end], 'WHERE'))
    throw new SqlError('UPDATE must have a WHERE clause', nodes[end]?.start ?? nodes[nodes.length - 1]!.end);
  out.push('WHERE', nodes[end]!.start);
  translator.seq(nodes.slice(end + 1), out);
  return { kind: 'dml', statementType: 'UPDATE', target, compiled: render(out) };
}

function merge(translator: Translator, nodes: readonly Node[]): Statement {
  let k = 1;
  if (isWord(nodes[k], 'INTO')) k++;
  const start = nodes[k]?.start ?? 0;
  const { target, next } = targetName(translator, nodes, k);
  const { alias, next: afterAlias } = readAlias(nodes, next);
  if (!isWord(nodes[afterAlias], 'USING'))
    throw new SqlError('Syntax error: Expected USING', nodes[afterAlias]?.start ?? 0);
  const onAt = nodes.findIndex((n, j) => j > afterAlias && isWord(n, 'ON'));
  if (onAt < 0) throw new SqlError('Syntax error: Expected ON', nodes[afterAlias].start);
  const out = new Out()
    .push('MERGE INTO', nodes[0]!.start)
    .push(translator.options.resolveTable(target, start), start);
  out.push(`AS ${quoteIdentifier(alias ?? target.tableId)}`, start);
  out.push('USING', nodes[afterAlias].start);
  translator.fromItems(nodes.slice(afterAlias + 1, onAt), out);
  const whens: Node[][] = [];
  let j = onAt + 1;
  while (j < nodes.length && !isWord(nodes[j], 'WHEN')) j++;
  out.push('ON', nodes[onAt]!.start);
  translator.seq(nodes.slice(onAt + 1, j), out);
  for (; j < nodes.length; j++) {
    if (isWord(nodes[j], 'WHEN')) whens.push([]);
    whens[whens.length - 1]!.push(nodes[j]!);
  }
  for (const when of whens) {
    const thenAt = when.findIndex((n) => isWord(n, 'THEN'));
    if (thenAt < 0) throw new SqlError('Syntax error: Expected THEN in MERGE', when[0]!.start);
    const andAt = when.findIndex((n, i) => i < thenAt && isWord(n, 'AND'));
    const head = when.slice(0, andAt >= 0 ? andAt : thenAt);
    out.push(head.map((n) => ('value' in n ? n.value.toUpperCase() : '')).join(' '), when[0]!.start);
    if (andAt >= 0) {
      out.push('AND', when[andAt]!.start);
      translator.seq(when.slice(andAt + 1, thenAt), out);
    }
    out.push('THEN', when[thenAt]!.start);
    const action = when.slice(thenAt + 1);
    if (isWord(action[0], 'DELETE')) out.push('DELETE', action[0].start);
    else if (isWord(action[0], 'UPDATE') && isWord(action[1], 'SET')) {
      out.push('UPDATE SET', action[0].start);
      assignments(translator, action.slice(2), out, alias);
    } else if (isWord(action[0], 'INSERT')) {
      if (isWord(action[1], 'ROW')) out.push('INSERT *', action[0].start);
      else {
        out.push('INSERT', action[0].start);
        let a = 1;
        if (isGroup(action[a], '(')) {
          out.push('(', action[a]!.start);
          translator.seq((action[a] as Group).children, out);
          out.push(')', action[a]!.start);
          a++;
        }
        if (!isWord(action[a], 'VALUES') || !isGroup(action[a + 1], '('))
          throw new SqlError('Syntax error: Expected VALUES (...) in MERGE INSERT', action[a]?.start ?? 0);
        out.push('VALUES (', action[a]!.start);
        translator.seq((action[a + 1] as Group).children, out);
        out.push(')', action[a + 1]!.start);
      }
    } else
      throw new SqlError('Syntax error: Expected UPDATE, DELETE or INSERT in MERGE', action[0]?.start ?? 0);
  }
  return { kind: 'dml', statementType: 'MERGE', target, compiled: render(out) };
}
