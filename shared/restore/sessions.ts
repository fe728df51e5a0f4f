import type { ImportSession, MailboxClient } from '../graph/index.js';

/** Renew a session this long before Exchange says it expires (field notes: 5 minutes). */
const RENEW_MARGIN_IN_MS = 5 * 60_000;

interface Entry {
  promise: Promise<ImportSession>;
  session?: ImportSession;
}

/**
 * Import sessions per target mailbox, for the process. Created on demand, renewed before they expire or when
 * Exchange turns one down, shared by every import activity of the process. Sessions live in memory only: their
 * URL carries a token, so it is never written anywhere.
 */
export class ImportSessionCache {
  private readonly entries = new Map<string, Entry>();
  /** Sessions replaced because they were about to expire or were refused (by every caller of this process). */
  renewals = 0;

  constructor(private readonly graph: MailboxClient) {}

  /** `renewed` counts, for the caller, the renewals its own calls set off. */
  async get(
    mailboxId: string,
    options: { signal?: AbortSignal; renewed?: { count: number } } = {},
  ): Promise<ImportSession> {
    const entry = this.entries.get(mailboxId);
    if (entry && !entry.session) return entry.promise; // being created by another caller
    if (entry?.session && !entry.session.expiresWithin(RENEW_MARGIN_IN_MS)) return entry.session;
    if (entry) {
      this.renewals++;
      if (options.renewed) options.renewed.count++;
    }
    const fresh: Entry = {
      promise: this.graph.createImportSession(mailboxId, { ...(options.signal ? { signal: options.signal } : {}) }),
    };
    this.entries.set(mailboxId, fresh);
    fresh.promise.then(
      (session) => (fresh.session = session),
      () => {
        if (this.entries.get(mailboxId) === fresh) this.entries.delete(mailboxId);
      },
    );
    return fresh.promise;
  }

  /** Exchange refused `session` (401/403): drop it, unless another caller already replaced it. */
  invalidate(session: ImportSession, renewed?: { count: number }): void {
    const entry = this.entries.get(session.mailboxId);
    if (entry?.session === session) {
      this.entries.delete(session.mailboxId);
      this.renewals++;
      if (renewed) renewed.count++;
    }
  }
}
