/**
 * The console's shell: sign-in, the navigation, and the page for the current route. The main
 * region takes focus on each navigation (each page focuses its heading), and a skip link leads
 * past the navigation.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, forgetKey, SIGNED_OUT_EVENT, storedKey, type Session } from './api.ts';
import { useRoute, type Route } from './router.ts';
import { DeadLetterView } from './views/DeadLetter.tsx';
import { DeadLetters } from './views/DeadLetters.tsx';
import { Login } from './views/Login.tsx';
import { OrderTimeline } from './views/OrderTimeline.tsx';
import { Orders } from './views/Orders.tsx';
import { OverviewView } from './views/Overview.tsx';
import { Replays } from './views/Replays.tsx';
import { TraceView } from './views/Trace.tsx';
import { PageTitle } from './components/bits.tsx';

const NAV = [
  { route: 'overview', href: '#/overview', label: 'Overview' },
  { route: 'orders', href: '#/orders', label: 'Orders' },
  { route: 'dead-letters', href: '#/dead-letters', label: 'Dead letters' },
  { route: 'replays', href: '#/replays', label: 'Replays' },
] as const;

const SECTION: Record<Route['name'], string> = {
  overview: 'overview',
  orders: 'orders',
  order: 'orders',
  trace: 'orders',
  'dead-letters': 'dead-letters',
  'dead-letter': 'dead-letters',
  replays: 'replays',
  'not-found': '',
};

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [checking, setChecking] = useState(() => storedKey() !== null);
  const [notice, setNotice] = useState<string | undefined>(undefined);

  useEffect(() => {
    // A reload keeps the key (same tab): check it is still good.
    if (!storedKey()) return;
    api<Session>('/v1/operations/session')
      .then(setSession)
      .catch(() => forgetKey())
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const signedOut = () => {
      forgetKey();
      setSession(undefined);
      setNotice('The API refused the key (revoked or expired): sign in again.');
    };
    window.addEventListener(SIGNED_OUT_EVENT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, signedOut);
  }, []);

  useEffect(() => {
    document.title = `${titleOf(route)} · Conveyor operations`;
  }, [route]);

  if (checking) return <p class="loading">Loading…</p>;
  if (!session)
    return (
      <Login
        {...(notice ? { notice } : {})}
        onSignedIn={(signedIn) => {
          setNotice(undefined);
          setSession(signedIn);
        }}
      />
    );

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <p class="brand">Conveyor operations</p>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.route}>
                <a href={item.href} aria-current={SECTION[route.name] === item.route ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p class="who">
          Signed in as <strong>{session.client}</strong>{' '}
          <button
            type="button"
            class="link"
            onClick={() => {
              forgetKey();
              setSession(undefined);
              setNotice('Signed out.');
            }}
          >
            Sign out
          </button>
        </p>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} session={session} />
      </main>
    </>
  );
}

function Page({ route, session }: { route: Route; session: Session }) {
  switch (route.name) {
    case 'overview':
      return <OverviewView />;
    case 'orders':
      return <Orders key={route.query.toString()} query={route.query} />;
    case 'order':
      return <OrderTimeline key={route.id} id={route.id} session={session} />;
    case 'trace':
      return <TraceView key={route.id} id={route.id} span={route.span} />;
    case 'dead-letters':
      return <DeadLetters key={route.query.toString()} query={route.query} />;
    case 'dead-letter':
      return <DeadLetterView key={route.id} id={route.id} />;
    case 'replays':
      return <Replays />;
    case 'not-found':
      return (
        <>
          <PageTitle>Not found</PageTitle>
          <p>
            Nothing lives at <code>{route.path}</code>. <a href="#/overview">Go to the overview</a>.
          </p>
        </>
      );
  }
}

function titleOf(route: Route): string {
  switch (route.name) {
    case 'overview':
      return 'Overview';
    case 'orders':
      return 'Orders';
    case 'order':
      return `Order ${route.id}`;
    case 'trace':
      return `Trace ${route.id}`;
    case 'dead-letters':
      return 'Dead letters';
    case 'dead-letter':
      return 'Dead letter';
    case 'replays':
      return 'Replays';
    case 'not-found':
      return 'Not found';
  }
}
