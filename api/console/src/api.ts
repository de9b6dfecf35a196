/**
 * The console's access to the API: the admin key the operator signed in with lives in
 * sessionStorage (this tab only, gone when it closes) and goes in the Authorization header of
 * every call; never in a URL. Types come from the API's own schemas (type-only imports).
 */
import type { z } from 'zod';
import type { Problem } from '../../problems.ts';
import type { DeadLetterSchema } from '../../routes/dead-letters/schemas.ts';

const KEY = 'conveyor.console.apiKey';

export type { Order } from '../../routes/orders/schemas.ts';
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
export type { Replay } from '../../routes/replays/schemas.ts';
export type { Overview, HistogramSnapshot } from '../../routes/operations/overview.ts';
export type { TimelineEntry } from '../../routes/operations/timeline.ts';

export interface Session {
  client: string;
  scopes: string[];
  projectId: string;
  traces: 'here' | 'elsewhere';
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** An answer other than 2xx: its status and, when the API sent one, its problem. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Partial<Problem> | undefined;

  constructor(status: number, problem: Partial<Problem> | undefined) {
    super(problem?.detail ?? problem?.title ?? `the API answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Fired when the API refuses the key (401): the app signs out. */
export const SIGNED_OUT_EVENT = 'conveyor:signed-out';

export async function api<T>(
  path: string,
  options: { method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string>; key?: string } = {},
): Promise<T> {
  const key = options.key ?? storedKey();
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers: {
      accept: 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    if (response.status === 401 && !options.key) window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
    throw new ApiError(response.status, body as Partial<Problem> | undefined);
  }
  return body as T;
}

/** Checks `key` against the API and keeps it for this tab; throws ApiError when it is refused. */
export async function signIn(key: string): Promise<Session> {
  const session = await api<Session>('/v1/operations/session', { key });
  if (!session.scopes.includes('admin'))
    throw new ApiError(403, { detail: 'this API key is not an admin key' });
  sessionStorage.setItem(KEY, key);
  return session;
}

/** What went wrong, in a sentence for the operator. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.problem?.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
    return fields ? `${error.message} (${fields})` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
