/** Replays: start one (a consumer, a time range, optionally some types or one order) and follow its progress. */
import { useState } from 'preact/hooks';
import { api, describeError, type Replay } from '../api.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { Badge, ErrorNotice, PageTitle, Status, usePolling } from '../components/bits.tsx';
import { REPLAY_CONSUMERS } from '../lib/constants.ts';
import { dateTime, duration, fromLocalInput, number, toLocalInput } from '../lib/format.ts';

const ACTIVE = new Set(['pending', 'running']);

export function Replays() {
  const [replays, setReplays] = useState<Replay[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [result, setResult] = useState<string | undefined>(undefined);
  const [cancelling, setCancelling] = useState<Replay | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [form, setForm] = useState(() => ({
    consumer: 'analytics',
    from: toLocalInput(new Date(Date.now() - 3_600_000).toISOString()),
    to: toLocalInput(new Date(Date.now() + 60_000).toISOString()),
    types: '',
    orderId: '',
  }));

  const refresh = async () => {
    try {
      setReplays((await api<{ items: Replay[] }>('/v1/replays?limit=50')).items);
      setError(undefined);
    } catch (failure) {
      setError(`Could not list replays: ${describeError(failure)}`);
    }
  };
  const active = replays === undefined || replays.some((replay) => ACTIVE.has(replay.status));
  usePolling(refresh, 2_000, active);

  const field = (name: keyof typeof form) => ({
    value: form[name],
    onInput: (event: Event) => setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value }),
  });

  return (
    <>
      <PageTitle>Replays</PageTitle>
      <p>
        A replay republishes history from the event store to one consumer only; it processes each event at
        most once (by event id), so a replay repairs what it missed without repeating what it did.
      </p>
      <form
        class="filters"
        aria-labelledby="start-heading"
        onSubmit={(event) =>
          void (async () => {
            event.preventDefault();
            setBusy(true);
            try {
              const types = form.types
                .split(/[\s,]+/)
                .map((type) => type.trim())
                .filter(Boolean);
              const body = {
                consumer: form.consumer,
                from: fromLocalInput(form.from),
                to: fromLocalInput(form.to),
                ...(types.length > 0 ? { types } : {}),
                ...(form.orderId.trim() ? { orderId: form.orderId.trim() } : {}),
              };
              const replay = await api<Replay>('/v1/replays', {
                method: 'POST',
                body,
                headers: { 'idempotency-key': crypto.randomUUID() },
              });
              setResult(`Replay ${replay.id} to ${replay.consumer} started.`);
              await refresh();
            } catch (failure) {
              setResult(`Could not start the replay: ${describeError(failure)}`);
            } finally {
              setBusy(false);
            }
          })()
        }
      >
        <h2 id="start-heading" class="full">
          Start a replay
        </h2>
        <p class="field">
          <label for="replay-consumer">Consumer</label>
          <select id="replay-consumer" {...field('consumer')}>
            {REPLAY_CONSUMERS.map((consumer) => (
              <option key={consumer} value={consumer}>
                {consumer}
              </option>
            ))}
          </select>
        </p>
        <p class="field">
          <label for="replay-from">Events from</label>
          <input id="replay-from" type="datetime-local" required {...field('from')} />
        </p>
        <p class="field">
          <label for="replay-to">Until (exclusive)</label>
          <input id="replay-to" type="datetime-local" required {...field('to')} />
        </p>
        <p class="field">
          <label for="replay-types">Event types (optional)</label>
          <input id="replay-types" type="text" placeholder="order.completed.v1, …" {...field('types')} />
        </p>
        <p class="field">
          <label for="replay-order">Order id (optional)</label>
          <input id="replay-order" type="text" class="mono" {...field('orderId')} />
        </p>
        <p class="field buttons">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start replay'}
          </button>
        </p>
      </form>
      {result && <Status>{result}</Status>}
      <ErrorNotice error={error} />
      <h2>Recent replays</h2>
      {replays && replays.length === 0 && <p>No replays yet.</p>}
      {replays && replays.length > 0 && (
        <div class="table-scroll">
          <table>
            <caption class="sr-only">Replays, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Consumer</th>
                <th scope="col">Range</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Rate</th>
                <th scope="col">By</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {replays.map((replay) => (
                <tr key={replay.id} data-replay={replay.id}>
                  <td>{dateTime(replay.createdAt)}</td>
                  <td>{replay.consumer}</td>
                  <td>
                    {dateTime(replay.request.from)} – {dateTime(replay.request.to)}
                    {replay.request.orderId && (
                      <span class="hint"> order {replay.request.orderId.slice(0, 8)}…</span>
                    )}
                  </td>
                  <td>
                    <Badge value={replay.status} />
                    {replay.lastError && <span class="hint"> {replay.lastError}</span>}
                  </td>
                  <td>
                    <progress
                      max={replay.progress.total ?? 1}
                      value={replay.progress.total === null ? undefined : replay.progress.published}
                      aria-label={`Replay ${replay.id.slice(0, 8)} progress`}
                    />{' '}
                    {number(replay.progress.published)} / {number(replay.progress.total)}
                    {replay.progress.percent !== null && ` (${number(replay.progress.percent, 1)} %)`}
                  </td>
                  <td>
                    {replay.progress.eventsPerSecond !== null
                      ? `${number(replay.progress.eventsPerSecond, 1)}/s`
                      : '–'}
                    {replay.progress.etaSeconds
                      ? `, ${duration(replay.progress.etaSeconds * 1000)} left`
                      : ''}
                  </td>
                  <td>{replay.requestedBy}</td>
                  <td>
                    {ACTIVE.has(replay.status) && (
                      <button type="button" class="secondary" onClick={() => setCancelling(replay)}>
                        Cancel…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={cancelling !== undefined}
        title="Cancel this replay"
        confirmLabel="Cancel the replay"
        danger
        busy={busy}
        onCancel={() => setCancelling(undefined)}
        onConfirm={() =>
          void (async () => {
            if (!cancelling) return;
            setBusy(true);
            try {
              await api(`/v1/replays/${cancelling.id}/cancel`, { method: 'POST', body: {} });
              setResult(`Replay ${cancelling.id} cancelled.`);
              await refresh();
            } catch (failure) {
              setResult(`Could not cancel: ${describeError(failure)}`);
            } finally {
              setBusy(false);
              setCancelling(undefined);
            }
          })()
        }
      >
        <p>It stops after the page it is publishing; what was published stays published.</p>
      </ConfirmDialog>
    </>
  );
}
