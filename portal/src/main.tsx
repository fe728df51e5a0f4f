import { render } from 'preact';
import { useState } from 'preact/hooks';
import './styles.css';
import { Compare } from './pages/Compare.js';
import { Dashboard } from './pages/Dashboard.js';
import { Mailbox } from './pages/Mailbox.js';
import { RestoreProgress } from './pages/RestoreProgress.js';
import { RestoreWizard } from './pages/RestoreWizard.js';
import { Search } from './pages/Search.js';
import { SignIn } from './pages/SignIn.js';
import { href, useRoute, type Route } from './router.js';
import { currentSession, endSession, type Session } from './session.js';

const NAV = [
  { path: '/', label: 'Dashboard' },
  { path: '/search', label: 'Search' },
  { path: '/compare', label: 'Compare' },
  { path: '/restore', label: 'Restore' },
];

function Page({ route }: { route: Route }) {
  const { path, params } = route;
  if (path.startsWith('/mailbox/'))
    return <Mailbox upn={decodeURIComponent(path.slice('/mailbox/'.length))} snapshot={params.get('snapshot')} />;
  if (path.startsWith('/restores/'))
    return <RestoreProgress id={decodeURIComponent(path.slice('/restores/'.length))} />;
  if (path === '/search') return <Search initialMailbox={params.get('mailbox') ?? ''} />;
  if (path === '/compare') return <Compare initialMailbox={params.get('mailbox') ?? ''} />;
  if (path === '/restore') return <RestoreWizard initialMailbox={params.get('mailbox') ?? ''} />;
  return <Dashboard />;
}

function App() {
  const [session, setSession] = useState<Session | undefined>(currentSession);
  const route = useRoute();
  if (!session) return <SignIn onSignedIn={setSession} />;
  const signOut = () => {
    endSession();
    setSession(undefined);
  };
  const current =
    NAV.find((n) => n.path !== '/' && route.path.startsWith(n.path))?.path ?? (route.path === '/' ? '/' : '');
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">mailbox-vault</span>
        <nav aria-label="Portal">
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <a href={href(n.path)} aria-current={current === n.path ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="user">
          Signed in as <strong>{session.user}</strong>{' '}
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
