import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { saveAccessToken, SIGN_IN_URL } from '../session.js';
import type { Me } from '../types.js';

/**
 * Sign-in: App Service Authentication's Entra ID sign-in (a redirect to Microsoft and back, after which the
 * browser's session cookie signs every call; `npm start` plays it with a page of its own). The fallback is an access
 * token for the API pasted by hand, for an API registration that does not let browsers sign in (README, Portal).
 */
export function SignIn(props: { onSignedIn: (me: Me) => void; signedOut: boolean }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const me = await api<Me>('me', { token: token.trim() });
      saveAccessToken(token.trim());
      props.onSignedIn(me);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Sign in to mailbox-vault</h1>
      {props.signedOut && <p role="status">You are signed out.</p>}
      <p>
        <a class="button" href={SIGN_IN_URL}>
          Sign in with Microsoft
        </a>
      </p>
      <details>
        <summary>Sign in with an access token instead</summary>
        <form onSubmit={submit}>
          <div class="field">
            <label for="access-token">Access token</label>
            <input
              id="access-token"
              type="password"
              autoComplete="off"
              required
              value={token}
              aria-describedby="access-token-help"
              onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            />
            <p id="access-token-help" class="help">
              An Entra ID access token for the app's API (
              <code>az account get-access-token --scope api://&lt;API client id&gt;/.default</code>), kept by this tab
              until it is closed.
            </p>
          </div>
          <button type="submit" disabled={busy || !token.trim()}>
            Sign in with this token
          </button>
        </form>
      </details>
      <ErrorBox error={error} />
    </main>
  );
}
