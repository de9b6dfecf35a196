/**
 * One trace as a tree of spans (from the API's span store): each span under its parent, with its
 * service, kind, start offset and duration drawn as a bar on the trace's time axis, and its
 * attributes, events and links on demand. Spans whose parent is not in the store start their own
 * branch at the top level.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../api.ts';
import { Badge, ErrorNotice, PageTitle } from '../components/bits.tsx';
import { clock, duration } from '../lib/format.ts';
import { href } from '../router.ts';

type Value = string | number | boolean | readonly (string | number | boolean | null)[];
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  service: string;
  startTime: number;
  durationMs: number;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  attributes: Record<string, Value>;
  events: { name: string; time: number; attributes: Record<string, Value> }[];
  links: { traceId: string; spanId: string }[];
}

interface Node {
  span: Span;
  children: Node[];
}

export function TraceView({ id, span: selected }: { id: string; span: string | undefined }) {
  const [spans, setSpans] = useState<Span[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const chosen = useRef<HTMLDetailsElement>(null);

  useEffect(() => {
    api<{ spans: Span[] }>(`/v1/operations/traces/${encodeURIComponent(id)}`)
      .then((answer) => setSpans(answer.spans))
      .catch((failure: unknown) => setError(`Could not read the trace: ${describeError(failure)}`));
  }, [id]);

  useEffect(() => chosen.current?.scrollIntoView({ block: 'center' }), [spans]);

  const { roots, start, total } = useMemo(() => {
    const all = spans ?? [];
    const nodes = new Map<string, Node>(all.map((span) => [span.spanId, { span, children: [] }]));
    const top: Node[] = [];
    for (const node of nodes.values()) {
      const parent = node.span.parentSpanId ? nodes.get(node.span.parentSpanId) : undefined;
      (parent ? parent.children : top).push(node);
    }
    for (const node of nodes.values()) node.children.sort((a, b) => a.span.startTime - b.span.startTime);
    top.sort((a, b) => a.span.startTime - b.span.startTime);
    const first = Math.min(...all.map((s) => s.startTime));
    const last = Math.max(...all.map((s) => s.startTime + s.durationMs));
    return { roots: top, start: first, total: Math.max(1, last - first) };
  }, [spans]);

  const order = spans?.find((span) => typeof span.attributes['conveyor.order_id'] === 'string')?.attributes[
    'conveyor.order_id'
  ] as string | undefined;
  const services = [...new Set((spans ?? []).map((span) => span.service))].sort();

  const render = (node: Node, depth: number) => {
    const { span } = node;
    const offset = ((span.startTime - start) / total) * 100;
    const width = Math.max(0.3, (span.durationMs / total) * 100);
    const isSelected = span.spanId === selected;
    return (
      <li key={span.spanId} data-span={span.spanId} data-parent={span.parentSpanId ?? ''}>
        <details
          ref={isSelected ? chosen : undefined}
          class={`span ${span.kind}${isSelected ? ' selected' : ''}`}
        >
          <summary>
            <span class="span-name" style={{ paddingLeft: `${depth}rem` }}>
              <strong>{span.name}</strong> <span class="service">{span.service}</span>{' '}
              <span class="hint">{span.kind}</span>
              {span.status.code === 'error' && <Badge value="error" />}
            </span>
            <span class="timing">
              +{duration(span.startTime - start)} · {duration(span.durationMs)}
            </span>
            <span class="waterfall" aria-hidden="true">
              <span class="bar" style={{ marginLeft: `${offset}%`, width: `${width}%` }} />
            </span>
          </summary>
          <div class="span-detail" style={{ paddingLeft: `${depth + 1}rem` }}>
            {span.status.message && <p class="notice error">{span.status.message}</p>}
            <table>
              <caption class="sr-only">Attributes of {span.name}</caption>
              <tbody>
                <tr>
                  <th scope="row">started</th>
                  <td>{clock(span.startTime)}</td>
                </tr>
                {Object.entries(span.attributes).map(([key, value]) => (
                  <tr key={key}>
                    <th scope="row">{key}</th>
                    <td class="mono">{Array.isArray(value) ? value.join(', ') : String(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {span.events.length > 0 && (
              <ul>
                {span.events.map((event, index) => (
                  <li key={index}>
                    {clock(event.time)} {event.name}{' '}
                    <span class="mono">{String(event.attributes['exception.message'] ?? '')}</span>
                  </li>
                ))}
              </ul>
            )}
            {span.links.length > 0 && (
              <p>
                Linked:{' '}
                {span.links.map((link) => (
                  <a key={link.spanId} href={href(['traces', link.traceId], { span: link.spanId })}>
                    {link.traceId.slice(0, 8)}…
                  </a>
                ))}
              </p>
            )}
          </div>
        </details>
        {node.children.length > 0 && <ul>{node.children.map((child) => render(child, depth + 1))}</ul>}
      </li>
    );
  };

  return (
    <>
      <PageTitle>
        Trace <span class="mono">{id}</span>
      </PageTitle>
      <ErrorNotice error={error} />
      {spans && (
        <>
          <p>
            {spans.length} spans over {duration(total)} across {services.join(', ')}.
            {order && (
              <>
                {' '}
                Order <a href={href(['orders', order])}>{order}</a>.
              </>
            )}
          </p>
          <ul class="span-tree" aria-label="Spans, each under its parent">
            {roots.map((root) => render(root, 0))}
          </ul>
        </>
      )}
      {!spans && !error && <p>Loading…</p>}
    </>
  );
}
