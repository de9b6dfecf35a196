/**
 * google.pubsub.v1.SchemaService: schemas and their revisions are stored and listed so client code
 * that manages schemas works. Definitions are only checked for shape (Avro: JSON; Protocol Buffer:
 * a message definition) and messages are not validated against them (see README, known limits).
 */
import { randomBytes } from 'node:crypto';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { alreadyExists, invalidArgument, notFound } from './errors.ts';
import { parseName, parseProject } from './names.ts';
import { implementation, paginate } from './rpc.ts';
import type { SchemaProto } from './types.ts';

const TYPES = new Set(['PROTOCOL_BUFFER', 'AVRO']);

export class SchemaRegistry {
  /** Revisions of each schema, oldest first. */
  readonly schemas = new Map<string, SchemaProto[]>();

  latest(name: string): SchemaProto {
    const [base, revision] = splitRevision(name);
    const revisions = this.schemas.get(base);
    if (!revisions || revisions.length === 0) throw notFound(`Schema not found: ${base}`);
    if (revision === undefined) return revisions[revisions.length - 1]!;
    const found = revisions.find((r) => r.revision_id === revision);
    if (!found) throw notFound(`Schema revision not found: ${name}`);
    return found;
  }

  has(name: string): boolean {
    return this.schemas.has(name);
  }
}

function splitRevision(name: unknown): [string, string | undefined] {
  if (typeof name !== 'string') throw invalidArgument('Missing schema name.');
  const at = name.indexOf('@');
  const base = at < 0 ? name : name.slice(0, at);
  parseName('schemas', base);
  return [base, at < 0 ? undefined : name.slice(at + 1)];
}

function checkDefinition(schema: SchemaProto | undefined): { type: string; definition: string } {
  if (!schema) throw invalidArgument('Missing schema.');
  const type = String(schema.type ?? '');
  if (!TYPES.has(type)) throw invalidArgument(`Invalid schema type "${type}": PROTOCOL_BUFFER or AVRO.`);
  const definition = String(schema.definition ?? '');
  if (definition.trim() === '') throw invalidArgument('The schema definition is empty.');
  if (type === 'AVRO') {
    try {
      JSON.parse(definition);
    } catch {
      throw invalidArgument('The Avro schema definition is not valid JSON.');
    }
  } else if (!/\bmessage\s+\w+\s*\{/.test(definition)) {
    throw invalidArgument('The Protocol Buffer schema definition has no message.');
  }
  return { type, definition };
}

function revision(name: string, type: string, definition: string): SchemaProto {
  const now = Date.now();
  return {
    name,
    type,
    definition,
    revision_id: randomBytes(4).toString('hex'),
    revision_create_time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
  };
}

function view(schema: SchemaProto, requested: unknown): SchemaProto {
  if (requested === 'BASIC') {
    const { definition: _definition, ...basic } = schema;
    return basic;
  }
  return schema;
}

export function schemaService(registry: SchemaRegistry): UntypedServiceImplementation {
  return implementation({
    CreateSchema: (request: { parent?: string; schema?: SchemaProto; schema_id?: string }) => {
      const project = parseProject(request.parent);
      const name = parseName(
        'schemas',
        `projects/${project}/schemas/${request.schema_id ?? request.schema?.name?.split('/').pop() ?? ''}`,
      ).name;
      if (registry.has(name)) throw alreadyExists(`Schema already exists: ${name}`);
      const { type, definition } = checkDefinition(request.schema);
      const created = revision(name, type, definition);
      registry.schemas.set(name, [created]);
      return created;
    },

    GetSchema: (request: { name?: string; view?: string }) =>
      view(registry.latest(String(request.name)), request.view),

    ListSchemas: (request: { parent?: string; view?: string; page_size?: number; page_token?: string }) => {
      const project = parseProject(request.parent);
      const names = [...registry.schemas.keys()].filter((n) => n.startsWith(`projects/${project}/`)).sort();
      const { page, nextPageToken } = paginate(names, (n) => n, request);
      return {
        schemas: page.map((n) => view(registry.latest(n), request.view)),
        next_page_token: nextPageToken,
      };
    },

    ListSchemaRevisions: (request: {
      name?: string;
      view?: string;
      page_size?: number;
      page_token?: string;
    }) => {
      const [base] = splitRevision(request.name);
      const revisions = registry.schemas.get(base);
      if (!revisions) throw notFound(`Schema not found: ${base}`);
      const newestFirst = [...revisions].reverse();
      const keyed = newestFirst.map((schema, i) => ({ schema, key: String(i).padStart(8, '0') }));
      const { page, nextPageToken } = paginate(keyed, (entry) => entry.key, request);
      return {
        schemas: page.map((entry) => view(entry.schema, request.view)),
        next_page_token: nextPageToken,
      };
    },

    CommitSchema: (request: { name?: string; schema?: SchemaProto }) => {
      const [base] = splitRevision(request.name);
      const revisions = registry.schemas.get(base);
      if (!revisions) throw notFound(`Schema not found: ${base}`);
      const { type, definition } = checkDefinition(request.schema);
      const committed = revision(base, type, definition);
      revisions.push(committed);
      return committed;
    },

    RollbackSchema: (request: { name?: string; revision_id?: string }) => {
      const [base] = splitRevision(request.name);
      const target = registry.latest(`${base}@${request.revision_id ?? ''}`);
      const rolled = revision(base, target.type!, target.definition!);
      registry.schemas.get(base)!.push(rolled);
      return rolled;
    },

    DeleteSchemaRevision: (request: { name?: string; revision_id?: string }) => {
      const [base, fromName] = splitRevision(request.name);
      const revisionId = fromName ?? request.revision_id;
      const revisions = registry.schemas.get(base);
      if (!revisions) throw notFound(`Schema not found: ${base}`);
      const index = revisions.findIndex((r) => r.revision_id === revisionId);
      if (index < 0) throw notFound(`Schema revision not found: ${base}@${revisionId}`);
      if (revisions.length === 1) throw invalidArgument('Cannot delete the only revision of a schema.');
      const [deleted] = revisions.splice(index, 1);
      return deleted;
    },

    DeleteSchema: (request: { name?: string }) => {
      const [base] = splitRevision(request.name);
      if (!registry.schemas.delete(base)) throw notFound(`Schema not found: ${base}`);
      return {};
    },

    ValidateSchema: (request: { parent?: string; schema?: SchemaProto }) => {
      parseProject(request.parent);
      checkDefinition(request.schema);
      return {};
    },

    ValidateMessage: (request: { parent?: string; name?: string; schema?: SchemaProto }) => {
      parseProject(request.parent);
      if (request.name) registry.latest(request.name);
      else checkDefinition(request.schema);
      return {};
    },
  });
}
