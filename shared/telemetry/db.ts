/**
 * Postgres queries as client spans, for the queries made inside a trace (a request, a delivery):
 * a proxy over the pg pool whose `query` (and the `query` of clients from `connect()`) runs in a
 * span named after the prepared statement (`conveyor.append.create`) or the SQL verb. Queries
 * outside any trace (relay sweeps, gauges) are not traced; callback-style calls pass through.
 */
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { DB_ATTRIBUTE } from './attributes.ts';
import { cut } from './span-store.ts';

type QueryFunction = (...args: unknown[]) => unknown;
interface Queryable {
  query: (...args: never[]) => unknown;
}

/** The pool (or client), traced; everything but `query` and `connect` is the pool's own. */
export function instrumentPool<P extends Queryable>(pool: P, tracer: Tracer): P {
  return proxy(pool, tracer, true);
}

function proxy<P extends Queryable>(target: P, tracer: Tracer, wrapConnect: boolean): P {
  const bound = new Map<PropertyKey, unknown>();
  const query = tracedQuery((target.query as QueryFunction).bind(target), tracer);
  const connect = wrapConnect ? tracedConnect(target, tracer) : undefined;
  return new Proxy(target, {
    get(object, property, receiver) {
      if (property === 'query') return query;
      if (property === 'connect' && connect) return connect;
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      // Methods run against the real object (its private fields, `this` checks).
      if (!bound.has(property)) bound.set(property, (value as QueryFunction).bind(object));
      return bound.get(property);
    },
  });
}

function tracedConnect(pool: object, tracer: Tracer): QueryFunction | undefined {
  const connect = (pool as { connect?: QueryFunction }).connect;
  if (typeof connect !== 'function') return undefined;
  return (...args: unknown[]) => {
    if (args.length > 0) return connect.apply(pool, args);
    return (connect.call(pool) as Promise<Queryable>).then((client) => proxy(client, tracer, false));
  };
}

function tracedQuery(query: QueryFunction, tracer: Tracer): QueryFunction {
  return (...args: unknown[]) => {
    const parent = context.active();
    if (!trace.getSpan(parent) || typeof args[args.length - 1] === 'function') return query(...args);
    const config = args[0] as string | { text?: string; name?: string } | undefined;
    const text = typeof config === 'string' ? config : config?.text;
    const statement = typeof config === 'object' ? config.name : undefined;
    const operation = /^\s*([A-Za-z]+)/.exec(text ?? '')?.[1]?.toUpperCase();
    const span = tracer.startSpan(
      statement ?? operation ?? 'query',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [DB_ATTRIBUTE.system]: 'postgresql',
          ...(operation ? { [DB_ATTRIBUTE.operation]: operation } : {}),
          ...(statement ? { [DB_ATTRIBUTE.summary]: statement } : {}),
          ...(text ? { [DB_ATTRIBUTE.text]: cut(text.replace(/\s+/g, ' ').trim()) } : {}),
        },
      },
      parent,
    );
    let result: unknown;
    try {
      result = context.with(trace.setSpan(parent, span), () => query(...args));
    } catch (error) {
      end(span, error);
      throw error;
    }
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(
        (value) => {
          end(span);
          return value;
        },
        (error: unknown) => {
          end(span, error);
          throw error;
        },
      );
    }
    end(span);
    return result;
  };
}

function end(span: ReturnType<Tracer['startSpan']>, error?: unknown): void {
  if (error !== undefined) {
    const message = error instanceof Error ? error.message : JSON.stringify(error);
    span.recordException(error instanceof Error ? error : message);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}
