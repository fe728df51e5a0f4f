import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { saveSession, type Session } from '../session.js';

/**
 * Sign-in: the API is asked for the mailbox list with the token given. With `npm start` no token is needed and the
 * operator signs in as the local operator; in Azure an Entra ID access token for the app's API is the credential
 * (README, Access), checked by App Service Authentication.
 */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api('mailboxes', { token: token.trim() || undefined });
      const session: Session = token.trim()
        ? { user: 'signed in with a token', accessToken: token.trim() }
        : { user: 'local operator' };
      saveSession(session);
      onSignedIn(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Sign in to mailbox-vault</h1>
      <form onSubmit={submit}>
        <div class="field">
          <label for="access-token">Access token</label>
          <input
            id="access-token"
            type="password"
            autoComplete="off"
            value={token}
            aria-describedby="access-token-help"
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          />
          <p id="access-token-help" class="help">
            In Azure, an Entra ID access token for the app's API (
            <code>az account get-access-token --scope api://&lt;API client id&gt;/.default</code>). Leave it empty on
            this machine (<code>npm start</code>) to sign in as the local operator.
          </p>
        </div>
        <button type="submit" disabled={busy}>
          {token.trim() ? 'Sign in' : 'Sign in as local operator'}
        </button>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}
