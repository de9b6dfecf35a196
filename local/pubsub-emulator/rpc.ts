/** Helpers shared by the gRPC services: safe unary handlers and list pagination. */
import type { handleUnaryCall, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { invalidArgument, toStatus } from './errors.ts';

type Handler = (request: never, call: ServerUnaryCall<never, unknown>) => unknown;

/**
 * Wraps a handler so that anything it throws or rejects with becomes a gRPC status (RpcError as
 * is, the rest INTERNAL): a malformed request can fail its call, never the process.
 */
export function unary(handler: Handler): handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const fail = (error: unknown) => {
      const status = toStatus(error);
      callback(Object.assign(new Error(status.details), status));
    };
    try {
      Promise.resolve(handler(call.request as never, call as ServerUnaryCall<never, unknown>)).then(
        (response) => callback(null, response ?? {}),
        fail,
      );
    } catch (error) {
      fail(error);
    }
  };
}

export function implementation(handlers: Record<string, Handler>): UntypedServiceImplementation {
  return Object.fromEntries(Object.entries(handlers).map(([name, handler]) => [name, unary(handler)]));
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/**
 * One page of `items` (sorted by `keyOf`) after the one the token points to. The token is the
 * last key of the previous page, so pages stay consistent while resources come and go; the last
 * page has an empty next_page_token.
 */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  request: { page_size?: number; page_token?: string },
): { page: T[]; nextPageToken: string } {
  const size = Number(request.page_size ?? 0);
  if (!Number.isInteger(size) || size < 0) throw invalidArgument('Invalid page_size.');
  const pageSize = Math.min(size || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  let start = 0;
  if (request.page_token) {
    let after: string;
    try {
      after = Buffer.from(request.page_token, 'base64url').toString('utf8');
    } catch {
      throw invalidArgument('Invalid page_token.');
    }
    if (!after) throw invalidArgument('Invalid page_token.');
    start = items.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + pageSize);
  const more = start + pageSize < items.length;
  const nextPageToken =
    more && page.length > 0 ? Buffer.from(keyOf(page[page.length - 1]!)).toString('base64url') : '';
  return { page, nextPageToken };
}
