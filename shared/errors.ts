/**
 * The base of every error the library throws on purpose. `code` is stable and PascalCase, as Graph's own
 * codes are: reports name failures by it, and callers (the HTTP layer above all) decide on it, never on
 * message text. No message carries a token, a client secret or an importUrl.
 */
export abstract class MailboxVaultError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The code a report gives a failure: ours or Graph's where the error has one, else the error's class name. */
export function errorCode(error: unknown): string {
  if (error instanceof MailboxVaultError) return error.code;
  return error instanceof Error ? error.name : 'Error';
}

/** The first line of an error's message, short enough for a report, an orchestration output or a status. */
export function errorReason(error: unknown, maxLength = 500): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, maxLength);
}
