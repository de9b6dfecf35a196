/**
 * Dead letters: filter by status, subscription, order and event type; open one to inspect and act
 * on it; redrive every open one matching the filter at once, after a confirmation.
 */
import { useState } from 'preact/hooks';
import { api, describeError, type DeadLetter } from '../api.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { Badge, ErrorNotice, PageTitle, Status } from '../components/bits.tsx';
import { ListCount, LoadMore, usePages } from '../components/paging.tsx';
import { VirtualTable, type Column } from '../components/VirtualTable.tsx';
import { DEAD_LETTER_STATUSES, DEAD_LETTER_SUBSCRIPTIONS } from '../lib/constants.ts';
import { dateTime } from '../lib/format.ts';
import { field } from '../lib/forms.ts';
import { href, navigate } from '../router.ts';

/** The most one bulk redrive republishes (the API's limit). */
const BULK_LIMIT = 1_000;

const COLUMNS: Column<DeadLetter>[] = [
  {
    key: 'at',
    header: 'Dead-lettered',
    render: (d) => (
      <a
        href={href(['dead-letters', d.id])}
        aria-label={`Dead letter ${d.id}, ${dateTime(d.deadLetteredAt)}`}
      >
        {dateTime(d.deadLetteredAt)}
      </a>
    ),
  },
  { key: 'subscription', header: 'Subscription', render: (d) => d.sourceSubscription },
  { key: 'type', header: 'Event type', render: (d) => d.eventType ?? '–' },
  {
    key: 'order',
    header: 'Order',
    className: 'mono',
    render: (d) => (d.orderId ? <a href={href(['orders', d.orderId])}>{d.orderId}</a> : '–'),
  },
  { key: 'attempts', header: 'Attempts', className: 'num', render: (d) => d.attempts },
  {
    key: 'error',
    header: 'Last error',
    className: 'clip',
    render: (d) => <span title={d.lastError}>{d.lastError ?? '–'}</span>,
  },
  { key: 'status', header: 'Status', render: (d) => <Badge value={d.status} /> },
];

export function DeadLetters({ query }: { query: URLSearchParams }) {
  const filters = {
    status: query.get('status') ?? 'open',
    subscription: query.get('subscription') ?? '',
    orderId: query.get('orderId') ?? '',
    eventType: query.get('eventType') ?? '',
  };
  // 'any' in a filter means no filter.
  const listed = Object.fromEntries(Object.entries(filters).filter(([, value]) => value !== 'any'));
  const {
    items: letters,
    cursor,
    loading,
    error,
    load,
    more,
  } = usePages<DeadLetter>('/v1/dead-letters', listed, 'dead letters');
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | undefined>(undefined);

  const bulkFilter = {
    ...(filters.subscription ? { subscription: filters.subscription } : {}),
    ...(filters.orderId ? { orderId: filters.orderId } : {}),
    ...(filters.eventType ? { eventType: filters.eventType } : {}),
  };
  const described =
    Object.entries(bulkFilter)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ') || 'no filter';

  return (
    <>
      <PageTitle>Dead letters</PageTitle>
      {/* Fields start from the URL's filters, then are the user's (as in Orders.tsx). */}
      <form
        class="filters"
        role="search"
        aria-label="Filter dead letters"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const text = (name: string) => field(form, name);
          navigate(
            href(['dead-letters'], {
              status: text('status'),
              subscription: text('subscription'),
              orderId: text('orderId'),
              eventType: text('eventType'),
            }),
          );
        }}
      >
        <p class="field">
          <label for="dl-status">Status</label>
          <select id="dl-status" name="status">
            <option value="any">any</option>
            {DEAD_LETTER_STATUSES.map((status) => (
              <option key={status} value={status} selected={status === filters.status}>
                {status}
              </option>
            ))}
          </select>
        </p>
        <p class="field">
          <label for="dl-subscription">Subscription</label>
          <select id="dl-subscription" name="subscription">
            <option value="">any</option>
            {DEAD_LETTER_SUBSCRIPTIONS.map((name) => (
              <option key={name} value={name} selected={name === filters.subscription}>
                {name}
              </option>
            ))}
          </select>
        </p>
        <p class="field">
          <label for="dl-order">Order id</label>
          <input id="dl-order" name="orderId" type="search" class="mono" defaultValue={filters.orderId} />
        </p>
        <p class="field">
          <label for="dl-type">Event type</label>
          <input
            id="dl-type"
            name="eventType"
            type="search"
            defaultValue={filters.eventType}
            placeholder="payment.processed.v1"
          />
        </p>
        <p class="field buttons">
          <button type="submit" class="primary">
            Filter
          </button>
        </p>
      </form>
      <ErrorNotice error={error} />
      {result && <Status>{result}</Status>}
      <div class="toolbar">
        <ListCount count={letters.length} noun="dead letter" loading={loading} partial={!!cursor} />
        <button
          type="button"
          class="primary"
          disabled={filters.status !== 'open' || letters.length === 0}
          title={
            filters.status !== 'open'
              ? 'Only open dead letters are redriven: filter by status open'
              : undefined
          }
          onClick={() => setConfirming(true)}
        >
          Redrive all matching…
        </button>
      </div>
      <VirtualTable
        caption="Dead letters, newest first"
        rows={letters}
        columns={COLUMNS}
        rowKey={(d) => d.id}
        onEndReached={more}
      />
      {cursor && <LoadMore loading={loading} onClick={more} />}
      <ConfirmDialog
        open={confirming}
        title="Redrive dead letters"
        confirmLabel="Redrive"
        reason={{ label: 'Reason, for the audit log', required: false }}
        busy={busy}
        onCancel={() => setConfirming(false)}
        onConfirm={(reason) =>
          void (async () => {
            setBusy(true);
            try {
              const answer = await api<{ redriven: unknown[]; failed: { id: string; error: string }[] }>(
                '/v1/dead-letters/redrive',
                {
                  method: 'POST',
                  body: { filter: bulkFilter, limit: BULK_LIMIT, ...(reason ? { reason } : {}) },
                },
              );
              setResult(
                `Redriven ${answer.redriven.length}` +
                  (answer.failed.length > 0
                    ? `; ${answer.failed.length} failed (${answer.failed[0]!.error})`
                    : '.'),
              );
              setConfirming(false);
              await load(undefined);
            } catch (failure) {
              setResult(`Redrive failed: ${describeError(failure)}`);
              setConfirming(false);
            } finally {
              setBusy(false);
            }
          })()
        }
      >
        <p>
          Every <strong>open</strong> dead letter matching {described} (up to {BULK_LIMIT.toLocaleString()})
          is republished to its source topic with its original id; its consumer processes it again (at most
          once, by event id). {letters.length} match{letters.length === 1 ? 'es' : ''} in the list
          {cursor ? ' so far' : ''}.
        </p>
      </ConfirmDialog>
    </>
  );
}
