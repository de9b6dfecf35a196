/**
 * Outgoing HTTP (provider calls, webhooks to shops) as client spans: a drop-in `fetch` that starts
 * a CLIENT span under the active one, sends the trace context in `traceparent` (a sandbox provider
 * can echo it in its webhook, which then continues the order's trace) and records the status.
 * The span ends when the response headers arrive; reading the body is the caller's business.
 */
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
} from '@opentelemetry/semantic-conventions';
import { PEER_SERVICE } from './attributes.ts';
import { injectHttpHeaders } from './context.ts';

export interface TracedFetchOptions {
  /** The logical service called (payment, shipping, a shop), as peer.service and in the span name. */
  peerService?: string;
}

/**
 * `fetch` with a client span; one per provider client, named by `peerService`. Outside any trace
 * it is plain fetch: background calls do not open traces of their own.
 */
export function createTracedFetch(tracer: Tracer, options: TracedFetchOptions = {}): typeof fetch {
  const traced = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const parent = context.active();
    if (!trace.getSpan(parent)) return fetch(input, init);
    const request = new Request(input, init);
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const span = tracer.startSpan(
      options.peerService ? `${method} ${options.peerService}` : method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          [ATTR_URL_FULL]: `${url.origin}${url.pathname}`,
          [ATTR_SERVER_ADDRESS]: url.hostname,
          [ATTR_SERVER_PORT]: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
          ...(options.peerService ? { [PEER_SERVICE]: options.peerService } : {}),
        },
      },
      parent,
    );
    const headers: Record<string, string> = {};
    injectHttpHeaders(headers, trace.setSpan(parent, span));
    for (const [key, value] of Object.entries(headers)) request.headers.set(key, value);
    try {
      const response = await context.with(trace.setSpan(parent, span), () => fetch(request));
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
      if (response.status >= 400) {
        span.setAttribute(ATTR_ERROR_TYPE, String(response.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return response;
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      span.setAttribute(ATTR_ERROR_TYPE, name);
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      throw error;
    } finally {
      span.end();
    }
  };
  return traced;
}
