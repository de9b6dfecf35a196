/** Sign in with an admin API key; it is checked against the API and kept for this tab only. */
import { useState } from 'preact/hooks';
import { describeError, signIn, type Session } from '../api.ts';
import { ErrorNotice, PageTitle } from '../components/bits.tsx';

export function Login({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  return (
    <main id="main" class="login">
      <PageTitle>Conveyor operations</PageTitle>
      <p>Sign in with an admin API key. It is kept in this browser tab only and sent with each request.</p>
      {notice && <p class="notice">{notice}</p>}
      <form
        onSubmit={(event) =>
          void (async () => {
            event.preventDefault();
            setBusy(true);
            setError(undefined);
            try {
              onSignedIn(await signIn(key.trim()));
            } catch (failure) {
              setError(`Sign-in failed: ${describeError(failure)}`);
            } finally {
              setBusy(false);
            }
          })()
        }
      >
        <p class="field">
          <label for="api-key">Admin API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            value={key}
            onInput={(event) => setKey(event.currentTarget.value)}
          />
        </p>
        <ErrorNotice error={error} />
        <button type="submit" class="primary" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
