/**
 * RFC 9457 problem details: the one shape of every error the API answers, and the one mapping from
 * the shared error classes to HTTP statuses. https://www.rfc-editor.org/rfc/rfc9457
 */
import { STATUS_CODES } from 'node:http';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ConcurrencyError,
  ConflictError,
  DependencyError,
  InvalidTransitionError,
  NotFoundError,
  ValidationError,
  type ValidationIssue,
} from '#shared/errors.ts';
import { VersionMismatchError } from '#shared/orders/errors.ts';
import { sqlState } from '#shared/store/transaction.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem types are URNs: stable identifiers, documented in the OpenAPI description. */
const TYPE_PREFIX = 'urn:problem-type:conveyor:';

export const ProblemSchema = z
  .object({
    type: z.string().describe('Identifies the kind of problem; stable across releases.'),
    title: z.string().describe('Short summary of the kind of problem.'),
    status: z.number().int().describe('The HTTP status code.'),
    detail: z.string().optional().describe('What went wrong with this request.'),
    instance: z.string().optional().describe('The request path this problem occurred on.'),
    requestId: z.string().optional().describe('Quote this when asking about the request.'),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('The failing fields, for validation problems.'),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

/** An error the API raises itself, carrying its status (the domain's errors never do). */
export class HttpProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly headers: Record<string, string>;
  readonly errors: readonly ValidationIssue[] | undefined;

  constructor(
    status: number,
    slug: string,
    detail: string,
    options: { title?: string; headers?: Record<string, string>; errors?: readonly ValidationIssue[] } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.slug = slug;
    this.title = options.title ?? STATUS_CODES[status] ?? 'Error';
    this.headers = options.headers ?? {};
    this.errors = options.errors;
  }
}

/** How an error is answered: its problem and any headers. */
export interface ProblemAnswer {
  problem: Omit<Problem, 'instance' | 'requestId'>;
  headers: Record<string, string>;
  /** Unexpected: log it with its stack (the client gets nothing of it). */
  unexpected: boolean;
}

const answer = (
  status: number,
  slug: string,
  title: string,
  detail: string | undefined,
  extra: { headers?: Record<string, string>; errors?: readonly ValidationIssue[]; unexpected?: boolean } = {},
): ProblemAnswer => ({
  problem: {
    type: `${TYPE_PREFIX}${slug}`,
    title,
    status,
    ...(detail ? { detail } : {}),
    ...(extra.errors ? { errors: [...extra.errors] } : {}),
  },
  headers: extra.headers ?? {},
  unexpected: extra.unexpected ?? false,
});

/** Postgres errors that mean "the database is unavailable or overloaded", not "your request is bad". */
const UNAVAILABLE_SQLSTATES = new Set([
  '53300',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '57014',
]);

/** Maps any error to the problem the client sees. Never exposes messages of unexpected errors. */
export function problemFor(error: unknown): ProblemAnswer {
  if (error instanceof HttpProblem) {
    return answer(error.status, error.slug, error.title, error.message, {
      headers: error.headers,
      ...(error.errors ? { errors: error.errors } : {}),
    });
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? 'request';
    return answer(400, 'invalid-request', 'Invalid request', `the ${where} does not match the schema`, {
      errors: error.validation.map((issue) => ({
        path: [where, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
        message: issue.message ?? 'invalid',
      })),
    });
  }
  if (error instanceof VersionMismatchError) {
    return answer(412, 'precondition-failed', 'Precondition Failed', error.message);
  }
  if (error instanceof ValidationError) {
    return answer(422, 'unprocessable', 'Unprocessable request', error.message, { errors: error.issues });
  }
  if (error instanceof NotFoundError) return answer(404, 'not-found', 'Not Found', error.message);
  if (error instanceof InvalidTransitionError) {
    return answer(409, 'invalid-transition', 'Not allowed in the current state', error.message);
  }
  if (error instanceof ConcurrencyError) {
    return answer(409, 'concurrent-update', 'Concurrent update', `${error.message}; retry`, {
      headers: { 'retry-after': '1' },
    });
  }
  if (error instanceof ConflictError) return answer(409, 'conflict', 'Conflict', error.message);
  if (error instanceof DependencyError || isUnavailable(error)) {
    return answer(503, 'unavailable', 'Service Unavailable', 'a dependency is unavailable; retry later', {
      headers: { 'retry-after': '2' },
      unexpected: true,
    });
  }
  const fastifyError = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status === 429) {
    return answer(
      429,
      'rate-limited',
      'Too Many Requests',
      'rate limit exceeded for this API key; see Retry-After',
    );
  }
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (413, 415, malformed JSON...): their messages name no internals.
    const slug = FASTIFY_SLUGS[status] ?? 'bad-request';
    const detail = typeof fastifyError.message === 'string' ? fastifyError.message : undefined;
    return answer(status, slug, STATUS_CODES[status] ?? 'Bad Request', detail);
  }
  return answer(500, 'internal', 'Internal Server Error', 'something went wrong on our side', {
    unexpected: true,
  });
}

const FASTIFY_SLUGS: Record<number, string> = {
  400: 'bad-request',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
};

function isUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (state && UNAVAILABLE_SQLSTATES.has(state)) return true;
  const message = error instanceof Error ? error.message : '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].includes(String((error as { code?: unknown }).code)) ||
    /timeout exceeded when trying to connect|Connection terminated|Query read timeout/.test(message)
  );
}
