import { ApiError } from '../api.js';
import { SIGN_IN_URL } from '../session.js';

/**
 * The API's refusal as it said it: the title and each problem, announced to screen readers; after a 401 (the
 * session expired) a way to sign in again.
 */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const apiError = error instanceof ApiError ? error : undefined;
  return (
    <div class="error" role="alert">
      <strong>{apiError ? `${apiError.title}${apiError.status ? ` (${apiError.status})` : ''}` : String(error)}</strong>
      {apiError && apiError.errors.length > 0 && (
        <ul>
          {apiError.errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
      {apiError?.status === 401 && (
        <p>
          <a href={SIGN_IN_URL}>Sign in again</a>
        </p>
      )}
    </div>
  );
}
