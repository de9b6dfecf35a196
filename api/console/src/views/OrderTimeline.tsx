/**
 * One order's timeline: events, saga steps, compensations, provider calls, webhooks, failures and
 * dead letters in time order, each with its time, the time since the order was placed, what it
 * took, and a link to its trace. Refreshes every 2 s until the order has been completed or cancelled
 * for a while.
 */
import { useState } from 'preact/hooks';
import { api, ApiError, describeError, type Order, type Session, type TimelineEntry } from '../api.ts';
import { Badge, ErrorNotice, PageTitle, usePolling } from '../components/bits.tsx';
import { clock, dateTime, duration, money } from '../lib/format.ts';
import { href } from '../router.ts';

interface Timeline {
  order: Order;
  entries: TimelineEntry[];
  traces:
    | {
        traceId: string;
        root: { name: string; service: string };
        spans: number;
        errors: number;
        durationMs: number;
        startTime: number;
      }[]
    | null;
}

const KINDS: { kind: TimelineEntry['kind']; label: string }[] = [
  { kind: 'event', label: 'Events' },
  { kind: 'saga-step', label: 'Saga steps' },
  { kind: 'provider-call', label: 'Provider calls' },
  { kind: 'webhook', label: 'Webhooks' },
  { kind: 'delivery', label: 'Other consumers' },
  { kind: 'failure', label: 'Failures' },
  { kind: 'dead-letter', label: 'Dead letters' },
];

const FINAL = new Set(['completed', 'cancelled']);
const SETTLE_MS = 15_000;

function settled(order: Order): boolean {
  return FINAL.has(order.status) && Date.now() - Date.parse(order.updatedAt) > SETTLE_MS;
}

export function OrderTimeline({ id, session }: { id: string; session: Session }) {
  const [timeline, setTimeline] = useState<Timeline | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [missing, setMissing] = useState(false);
  const [hidden, setHidden] = useState<Set<string>>(new Set());

  // Spans arrive a moment after what they record (exporters batch): keep reading a little while
  // after the order ended.
  const live = !missing && (!timeline || !settled(timeline.order));
  usePolling(
    async () => {
      try {
        setTimeline(await api<Timeline>(`/v1/orders/${encodeURIComponent(id)}/timeline`));
        setError(undefined);
      } catch (failure) {
        if (failure instanceof ApiError && failure.status === 404) setMissing(true);
        else setError(`Could not read the timeline: ${describeError(failure)}`);
      }
    },
    2_000,
    live,
  );

  if (missing)
    return (
      <>
        <PageTitle>Order not found</PageTitle>
        <p>
          No order <code>{id}</code>. <a href="#/orders">Back to orders</a>.
        </p>
      </>
    );

  const traceLink = (traceId: string, spanId?: string) =>
    session.traces === 'here'
      ? href(['traces', traceId], { span: spanId })
      : `https://console.cloud.google.com/traces/list?project=${encodeURIComponent(session.projectId)}&tid=${traceId}`;
  const order = timeline?.order;
  const placedAt = order ? Date.parse(order.createdAt) : 0;
  const entries = (timeline?.entries ?? []).filter((entry) => !hidden.has(entry.kind));

  return (
    <>
      <PageTitle>
        Order <span class="mono">{id}</span>
      </PageTitle>
      <ErrorNotice error={error} />
      {order && (
        <section aria-labelledby="summary-heading">
          <h2 id="summary-heading" class="sr-only">
            Summary
          </h2>
          <dl class="summary">
            <div>
              <dt>Status</dt>
              <dd data-testid="order-status">
                <Badge value={order.status} />
                {!FINAL.has(order.status) && <span class="hint"> (updating)</span>}
              </dd>
            </div>
            <div>
              <dt>Customer</dt>
              <dd>
                <a href={href(['orders'], { customerId: order.customerId })}>{order.customerId}</a>
              </dd>
            </div>
            <div>
              <dt>Total</dt>
              <dd>{money(order.totalMinor, order.currency)}</dd>
            </div>
            <div>
              <dt>Placed</dt>
              <dd>{dateTime(order.createdAt)}</dd>
            </div>
            <div>
              <dt>{order.completedAt ? 'Completed' : order.cancelledAt ? 'Cancelled' : 'Last change'}</dt>
              <dd>
                {dateTime(order.completedAt ?? order.cancelledAt ?? order.updatedAt)} (after{' '}
                {duration(Date.parse(order.completedAt ?? order.cancelledAt ?? order.updatedAt) - placedAt)})
              </dd>
            </div>
            <div>
              <dt>Version</dt>
              <dd>{order.version}</dd>
            </div>
          </dl>
          {order.cancellation && (
            <p class="notice">
              Cancelled ({order.cancellation.reasonCode.replaceAll('_', ' ')}): {order.cancellation.reason}
            </p>
          )}
        </section>
      )}

      {timeline?.traces && timeline.traces.length > 0 && (
        <section aria-labelledby="traces-heading">
          <h2 id="traces-heading">Traces</h2>
          <ul class="traces">
            {timeline.traces.map((trace) => (
              <li key={trace.traceId}>
                <a href={traceLink(trace.traceId)}>
                  {trace.root.name} ({trace.root.service})
                </a>{' '}
                <span class="hint">
                  {trace.spans} spans, {duration(trace.durationMs)}
                  {trace.errors > 0 ? `, ${trace.errors} with errors` : ''}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}

      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Timeline</h2>
        <fieldset class="kinds">
          <legend>Show</legend>
          {KINDS.map(({ kind, label }) => (
            <label key={kind}>
              <input
                type="checkbox"
                checked={!hidden.has(kind)}
                onChange={(event) => {
                  const next = new Set(hidden);
                  if (event.currentTarget.checked) next.delete(kind);
                  else next.add(kind);
                  setHidden(next);
                }}
              />{' '}
              {label}
            </label>
          ))}
        </fieldset>
        {!timeline && <p>Loading…</p>}
        <ol class="timeline" aria-label="Timeline, oldest first">
          {entries.map((entry, index) => (
            <li
              key={`${entry.kind}-${entry.at}-${index}`}
              class={`entry ${entry.kind} ${entry.status}${entry.compensation ? ' compensation' : ''}`}
              data-kind={entry.kind}
            >
              <div class="when">
                <time dateTime={entry.at}>{clock(entry.at)}</time>
                <span class="hint">+{duration(Math.max(0, Date.parse(entry.at) - placedAt))}</span>
              </div>
              <div class="what">
                <span class="kind">
                  {KINDS.find((k) => k.kind === entry.kind)?.label.replace(/s$/, '') ?? entry.kind}
                </span>
                <strong class="title">{entry.title}</strong>
                {entry.compensation && <Badge value="warning" label="compensation" />}
                {entry.status !== 'ok' && <Badge value={entry.status} />}
                {entry.detail && <span class="detail">{entry.detail}</span>}
                {entry.durationMs !== undefined && (
                  <span class="hint">took {duration(entry.durationMs)}</span>
                )}
                <span class="links">
                  {entry.traceId && <a href={traceLink(entry.traceId, entry.spanId)}>Trace</a>}
                  {entry.deadLetterId && <a href={href(['dead-letters', entry.deadLetterId])}>Dead letter</a>}
                </span>
                {entry.data !== undefined && (
                  <details class="payload">
                    <summary>Payload</summary>
                    <pre>{JSON.stringify(entry.data, null, 2)}</pre>
                  </details>
                )}
              </div>
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}
