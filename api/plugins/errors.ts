/**
 * The one error handler: every error becomes RFC 9457 problem+json (see ../problems.ts); 5xx
 * answers carry no internals and are logged with their stack. Also answers unknown routes, and
 * refuses input Postgres cannot store as text (NUL characters, unpaired surrogates) with a 400
 * before it reaches a query.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ValidationIssue } from '#shared/errors.ts';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemFor, type Problem } from '../problems.ts';

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const { problem, headers, unexpected } = problemFor(error);
  if (unexpected) request.log.error({ error }, `${request.method} ${request.url} failed`);
  const body: Problem = { ...problem, instance: request.url.split('?')[0]!, requestId: String(request.id) };
  return reply.code(problem.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

export function errors(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new HttpProblem(404, 'not-found', `no route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
  app.addHook('preValidation', (request, _reply, done) => {
    const issues = [
      ...unstorable(request.params, 'params'),
      ...unstorable(request.query, 'querystring'),
      ...unstorable(request.body, 'body'),
    ];
    done(
      issues.length > 0
        ? new HttpProblem(
            400,
            'invalid-request',
            'text must not contain NUL characters or unpaired surrogates',
            {
              title: 'Invalid request',
              errors: issues,
            },
          )
        : undefined,
    );
  });
}

/** A surrogate without its pair (not valid UTF-8 once encoded). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorableText = (text: string) => text.includes('\0') || LONE_SURROGATE.test(text);

/** Paths of strings (keys included) that Postgres would refuse. */
function unstorable(value: unknown, path: string, found: ValidationIssue[] = []): ValidationIssue[] {
  if (found.length >= 20) return found;
  if (typeof value === 'string') {
    if (unstorableText(value)) found.push({ path, message: 'unstorable text' });
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => unstorable(item, `${path}.${index}`, found));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (unstorableText(key)) found.push({ path, message: 'unstorable key' });
      unstorable(item, `${path}.${key}`, found);
    }
  }
  return found;
}
