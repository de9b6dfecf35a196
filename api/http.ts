/**
 * HTTP pieces shared by the routes: opaque cursors, ETags and If-Match, the problem responses each
 * route documents.
 */
import { z } from 'zod';
import { ProblemSchema } from './problems.ts';

/** An opaque page cursor: base64url JSON, so clients cannot depend on what is inside. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Decodes a cursor against `schema`; undefined when it is not one of ours. */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const CursorSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/, 'expected a cursor from a previous page')
  .describe('Opaque: pass nextCursor of the previous page.');

export const LimitSchema = z.coerce.number().int().min(1).max(100).default(20).describe('Page size (1-100).');

/** A strong ETag for version `version` of a resource. */
export function etag(version: number): string {
  return `"${version}"`;
}

/**
 * The versions an If-Match header accepts: undefined when absent or `*` (any existing version),
 * otherwise the listed strong ETags' versions (weak tags never match, as RFC 9110 requires; an
 * unreadable header matches nothing, so it fails with 412 rather than being ignored).
 */
export function ifMatchVersions(header: string | undefined): number[] | undefined {
  if (header === undefined) return undefined;
  const tags = header.split(',').map((tag) => tag.trim());
  if (tags.includes('*')) return undefined;
  return tags.flatMap((tag) => {
    const match = /^"(\d{1,9})"$/.exec(tag);
    return match ? [Number(match[1])] : [];
  });
}

export const IfMatchHeadersSchema = z.object({
  'if-match': z
    .string()
    .max(1_000)
    .optional()
    .describe('Act only if the resource still has this ETag (412 otherwise).'),
});

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'The request does not match the schema; `errors` names the fields',
  401: 'No valid API key (WWW-Authenticate says how to send one)',
  403: 'The API key lacks the scope this route needs',
  404: 'No such resource',
  409: "Not allowed in the resource's current state, or changed concurrently (retry)",
  412: 'If-Match does not match the current ETag',
  413: 'The body is too large',
  415: 'The body is not JSON',
  422: 'Well-formed but cannot be processed (unknown SKU, reused Idempotency-Key, ...); `errors` names the fields',
  429: 'Rate limit of this API key exceeded; see Retry-After',
  500: 'Unexpected error; the problem carries no internals, quote requestId',
  503: 'A dependency is unavailable; see Retry-After',
};

/** A success response with its description (OpenAPI), served as application/json. */
export function success<S extends z.ZodType>(
  schema: S,
  description: string,
): { description: string; content: { 'application/json': { schema: S } } } {
  return { description, content: { 'application/json': { schema } } };
}

/** The problem responses of a route, documented by status as application/problem+json. */
export function problems(
  ...statuses: number[]
): Record<
  number,
  { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }
> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status] ?? 'A problem',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );
}

/** The problems every authenticated route can answer. */
export const COMMON_PROBLEMS = [400, 401, 403, 429, 500, 503] as const;
