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

/** The problem responses of a route, documented by status. */
export function problems(...statuses: number[]): Record<number, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemSchema]));
}

/** The problems every authenticated route can answer. */
export const COMMON_PROBLEMS = [400, 401, 403, 429, 500, 503] as const;
