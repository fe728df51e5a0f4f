import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { saveSession, type Session } from '../session.js';

/**
 * Sign-in: the API is asked for the mailbox list with the key given. With `npm start` no key is needed and the
 * operator signs in as the local operator; in Azure the function key is the credential (README, HTTP API).
 */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api('mailboxes', { key: key.trim() || undefined });
      const session: Session = key.trim()
        ? { user: 'function key holder', functionKey: key.trim() }
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
          <label for="function-key">Function key</label>
          <input
            id="function-key"
            type="password"
            autoComplete="off"
            value={key}
            aria-describedby="function-key-help"
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
          <p id="function-key-help" class="help">
            In Azure, the app's function key. Leave it empty on this machine (<code>npm start</code>) to sign in as the
            local operator.
          </p>
        </div>
        <button type="submit" disabled={busy}>
          {key.trim() ? 'Sign in' : 'Sign in as local operator'}
        </button>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}
