import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { api, ApiError } from './api.js';
import { ErrorBox } from './components/ErrorBox.js';
import { MeContext, selfServiceMailbox } from './me.js';
import { Compare } from './pages/Compare.js';
import { Dashboard } from './pages/Dashboard.js';
import { Mailbox } from './pages/Mailbox.js';
import { RestoreProgress } from './pages/RestoreProgress.js';
import { RestoreWizard } from './pages/RestoreWizard.js';
import { Search } from './pages/Search.js';
import { SignIn } from './pages/SignIn.js';
import { href, useRoute, type Route } from './router.js';
import { forgetAccessToken, PORTAL_PATH, SIGN_OUT_URL, SIGNED_OUT_PATH } from './session.js';
import type { Me } from './types.js';

/** The pages an admin sees; a self-service user has their own mailbox in place of the tenant's dashboard. */
function navFor(ownMailbox: string | undefined) {
  const home = ownMailbox
    ? { path: `/mailbox/${encodeURIComponent(ownMailbox)}`, label: 'My mailbox' }
    : { path: '/', label: 'Dashboard' };
  return [
    home,
    { path: '/search', label: 'Search' },
    { path: '/compare', label: 'Compare' },
    { path: '/restore', label: 'Restore' },
  ];
}

function Page({ route, ownMailbox }: { route: Route; ownMailbox: string | undefined }) {
  const { path, params } = route;
  // A self-service user's pages start from, and offer, their own mailbox only; the API refuses any other.
  const mailbox = ownMailbox ?? params.get('mailbox') ?? '';
  if (path.startsWith('/mailbox/'))
    return <Mailbox upn={decodeURIComponent(path.slice('/mailbox/'.length))} snapshot={params.get('snapshot')} />;
  if (path.startsWith('/restores/'))
    return <RestoreProgress id={decodeURIComponent(path.slice('/restores/'.length))} />;
  if (path === '/search') return <Search initialMailbox={mailbox} />;
  if (path === '/compare') return <Compare initialMailbox={mailbox} />;
  if (path === '/restore') return <RestoreWizard initialMailbox={mailbox} />;
  if (ownMailbox) return <Mailbox upn={ownMailbox} snapshot={params.get('snapshot')} />;
  return <Dashboard />;
}

type SignInState =
  | { phase: 'checking' }
  | { phase: 'signedOut'; afterSignOut: boolean }
  | { phase: 'refused'; error: unknown }
  | { phase: 'signedIn'; me: Me };

/** Asks the API who this browser is: signed in (the session cookie, or a pasted token), or not. */
function useSignIn(): [SignInState, (me: Me) => void] {
  const afterSignOut = location.pathname === SIGNED_OUT_PATH;
  const [state, setState] = useState<SignInState>(
    afterSignOut ? { phase: 'signedOut', afterSignOut } : { phase: 'checking' },
  );
  useEffect(() => {
    if (afterSignOut) return;
    api<Me>('me').then(
      (me) => setState({ phase: 'signedIn', me }),
      (error: unknown) =>
        setState(
          error instanceof ApiError && error.status === 401
            ? { phase: 'signedOut', afterSignOut: false }
            : { phase: 'refused', error },
        ),
    );
  }, []);
  const signedIn = (me: Me) => {
    if (location.pathname !== PORTAL_PATH) history.replaceState(null, '', `${PORTAL_PATH}${location.hash}`);
    setState({ phase: 'signedIn', me });
  };
  return [state, signedIn];
}

function SignOut() {
  return (
    <a href={SIGN_OUT_URL} onClick={forgetAccessToken}>
      Sign out
    </a>
  );
}

function App() {
  const [state, signedIn] = useSignIn();
  const route = useRoute();
  if (state.phase === 'checking') return <p aria-live="polite">Signing in…</p>;
  if (state.phase === 'signedOut') return <SignIn onSignedIn={signedIn} signedOut={state.afterSignOut} />;
  if (state.phase === 'refused')
    return (
      <main id="main" class="signin">
        <h1>mailbox-vault</h1>
        <ErrorBox error={state.error} />
        <SignOut />
      </main>
    );
  const { me } = state;
  const ownMailbox = selfServiceMailbox(me);
  const nav = navFor(ownMailbox);
  const current =
    nav.find((n) => n.path !== '/' && route.path.startsWith(n.path))?.path ?? (route.path === '/' ? nav[0]!.path : '');
  return (
    <MeContext.Provider value={me}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">mailbox-vault</span>
        <nav aria-label="Portal">
          <ul>
            {nav.map((n) => (
              <li key={n.path}>
                <a href={href(n.path)} aria-current={current === n.path ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="user">
          Signed in as <strong>{me.name}</strong>
          {ownMailbox ? ' (self-service: your own mailbox)' : ''} <SignOut />
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} ownMailbox={ownMailbox} />
      </main>
    </MeContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
