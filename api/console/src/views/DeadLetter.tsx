/** One dead letter: why it died, its payload and attributes; redrive it or discard it (confirmed). */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describeError, type DeadLetter } from '../api.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { Badge, ErrorNotice, PageTitle, Status } from '../components/bits.tsx';
import { dateTime } from '../lib/format.ts';
import { href } from '../router.ts';

export function DeadLetterView({ id }: { id: string }) {
  const [letter, setLetter] = useState<DeadLetter | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [action, setAction] = useState<'redrive' | 'discard' | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | undefined>(undefined);

  const load = () =>
    api<DeadLetter>(`/v1/dead-letters/${encodeURIComponent(id)}`)
      .then((found) => {
        setLetter(found);
        setError(undefined);
      })
      .catch((failure: unknown) =>
        setError(
          failure instanceof ApiError && failure.status === 404
            ? `No dead letter ${id}.`
            : `Could not read the dead letter: ${describeError(failure)}`,
        ),
      );
  useEffect(() => void load(), [id]);

  const act = async (kind: 'redrive' | 'discard', reason: string) => {
    setBusy(true);
    try {
      if (kind === 'redrive') {
        const answer = await api<{ messageId: string }>(
          `/v1/dead-letters/${encodeURIComponent(id)}/redrive`,
          {
            method: 'POST',
            body: reason ? { reason } : {},
          },
        );
        setResult(`Redriven: republished as message ${answer.messageId}.`);
      } else {
        await api(`/v1/dead-letters/${encodeURIComponent(id)}/discard`, { method: 'POST', body: { reason } });
        setResult('Discarded.');
      }
      await load();
    } catch (failure) {
      setResult(`${kind === 'redrive' ? 'Redrive' : 'Discard'} failed: ${describeError(failure)}`);
    } finally {
      setBusy(false);
      setAction(undefined);
    }
  };

  return (
    <>
      <PageTitle>Dead letter</PageTitle>
      <p>
        <a href="#/dead-letters">All dead letters</a>
      </p>
      <ErrorNotice error={error} />
      {result && <Status>{result}</Status>}
      {letter && (
        <>
          <dl class="summary">
            <div>
              <dt>Status</dt>
              <dd data-testid="dead-letter-status">
                <Badge value={letter.status} />
                {letter.statusReason && <span class="hint"> {letter.statusReason}</span>}
              </dd>
            </div>
            <div>
              <dt>Subscription</dt>
              <dd>{letter.sourceSubscription}</dd>
            </div>
            <div>
              <dt>Event</dt>
              <dd>
                {letter.eventType ?? '–'} <span class="mono hint">{letter.eventId}</span>
              </dd>
            </div>
            <div>
              <dt>Order</dt>
              <dd>
                {letter.orderId ? <a href={href(['orders', letter.orderId])}>{letter.orderId}</a> : '–'}
              </dd>
            </div>
            <div>
              <dt>Attempts</dt>
              <dd>{letter.attempts}</dd>
            </div>
            <div>
              <dt>Dead-lettered</dt>
              <dd>{dateTime(letter.deadLetteredAt)}</dd>
            </div>
          </dl>
          <div class="toolbar">
            <button
              type="button"
              class="primary"
              disabled={letter.status !== 'open'}
              onClick={() => setAction('redrive')}
            >
              Redrive…
            </button>
            <button
              type="button"
              class="danger"
              disabled={letter.status !== 'open'}
              onClick={() => setAction('discard')}
            >
              Discard…
            </button>
          </div>
          <h2>Last error</h2>
          <pre class="error-text">{letter.lastError ?? 'none recorded'}</pre>
          <h2>Payload</h2>
          <pre tabIndex={0} aria-label="Payload">
            {letter.payload !== undefined
              ? JSON.stringify(letter.payload, null, 2)
              : `(base64) ${letter.data}`}
          </pre>
          <h2>Attributes</h2>
          <table class="attributes">
            <caption class="sr-only">Message attributes</caption>
            <tbody>
              {Object.entries(letter.attributes).map(([key, value]) => (
                <tr key={key}>
                  <th scope="row">{key}</th>
                  <td class="mono">{String(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <ConfirmDialog
        open={action === 'redrive'}
        title="Redrive this dead letter"
        confirmLabel="Redrive"
        reason={{ label: 'What was fixed, for the audit log', required: false }}
        busy={busy}
        onCancel={() => setAction(undefined)}
        onConfirm={(reason) => void act('redrive', reason)}
      >
        <p>
          It is republished to <strong>{letter?.sourceTopic ?? 'its source topic'}</strong> with its original
          id, and {letter?.sourceSubscription} processes it again.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={action === 'discard'}
        title="Discard this dead letter"
        confirmLabel="Discard"
        danger
        reason={{ label: 'Why it is dropped', required: true }}
        busy={busy}
        onCancel={() => setAction(undefined)}
        onConfirm={(reason) => void act('discard', reason)}
      >
        <p>It stays on record as discarded and is never processed.</p>
      </ConfirmDialog>
    </>
  );
}
