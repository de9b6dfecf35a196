/**
 * The Conveyor API as the CLI calls it: CONVEYOR_API_URL and CONVEYOR_API_KEY (an admin key for
 * operator commands). Problems (RFC 9457) become CliErrors with the API's detail: 4xx are the
 * request's fault (exit 2), 5xx and an unreachable API exit 3.
 */
import { CliError, EXIT_CODE, required, type CliContext } from './output.ts';

export interface ApiClient {
  readonly baseUrl: string;
  request<T>(
    method: 'GET' | 'POST',
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<T>;
}

export function apiClientFrom(env: CliContext['env'], fetchImpl: typeof fetch = fetch): ApiClient {
  const baseUrl = required(env, 'CONVEYOR_API_URL', 'the API to call, e.g. http://127.0.0.1:8080').replace(
    /\/+$/,
    '',
  );
  const apiKey = required(env, 'CONVEYOR_API_KEY', 'an API key with the admin scope');
  return {
    baseUrl,
    async request<T>(
      method: 'GET' | 'POST',
      path: string,
      options: { body?: unknown; headers?: Record<string, string> } = {},
    ) {
      let response: Response;
      try {
        response = await fetchImpl(`${baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${apiKey}`,
            accept: 'application/json',
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        throw new CliError(
          `cannot reach the API at ${baseUrl}: ${error instanceof Error ? error.message : String(error)}`,
          EXIT_CODE.unavailable,
        );
      }
      const text = await response.text();
      const body = text ? (JSON.parse(text) as unknown) : undefined;
      if (!response.ok)
        throw new CliError(
          describeProblem(method, path, response.status, body),
          response.status >= 500 ? EXIT_CODE.unavailable : EXIT_CODE.usage,
        );
      return body as T;
    },
  };
}

function describeProblem(method: string, path: string, status: number, body: unknown): string {
  const problem = (body ?? {}) as {
    title?: string;
    detail?: string;
    errors?: { path: string; message: string }[];
  };
  const errors = (problem.errors ?? []).map((error) => `\n  ${error.path}: ${error.message}`).join('');
  return `${method} ${path}: ${status} ${problem.title ?? ''}${problem.detail ? `: ${problem.detail}` : ''}${errors}`;
}
