import { inspect } from 'node:util';

/**
 * An import session for one mailbox. The importUrl carries a bearer token in its query string, so it lives in
 * a private field: it does not serialize, print or inspect, and reaches nothing but the import POST.
 */
export class ImportSession {
  readonly #importUrl: string;
  readonly mailboxId: string;
  readonly expiresAt: Date;

  constructor(mailboxId: string, importUrl: string, expiresAt: Date) {
    this.mailboxId = mailboxId;
    this.#importUrl = importUrl;
    this.expiresAt = expiresAt;
  }

  /** For the mailbox client only. */
  static urlOf(session: ImportSession): string {
    return session.#importUrl;
  }

  toJSON(): { mailboxId: string; expiresAt: string } {
    return { mailboxId: this.mailboxId, expiresAt: this.expiresAt.toISOString() };
  }

  toString(): string {
    return `ImportSession(${this.mailboxId}, expires ${this.expiresAt.toISOString()})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
