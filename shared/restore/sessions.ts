import type { ImportSession, MailboxClient } from '../graph/index.js';

/** Renew a session this long before Exchange says it expires (field notes: 5 minutes)... */
const RENEW_MARGIN_IN_MS = 5 * 60_000;
/** ...or a quarter of its lifetime before, if that is less: a short-lived session is still used for a while. */
const RENEW_LIFETIME_FRACTION = 1 / 4;

/** How long before `expiresAt` a session asked for at `requestedAt` is renewed. */
export function renewalMarginInMs(requestedAt: number, expiresAt: number): number {
  const lifetime = Math.max(0, expiresAt - requestedAt);
  return Math.min(RENEW_MARGIN_IN_MS, lifetime * RENEW_LIFETIME_FRACTION);
}

interface Entry {
  promise: Promise<ImportSession>;
  /** Once created: the session, and when it is to be renewed (ms since epoch). */
  ready?: { session: ImportSession; renewAt: number };
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

  /** `now` is the clock renewals are decided by (a test moves it on). */
  constructor(
    private readonly graph: MailboxClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** `renewed` counts, for the caller, the renewals its own calls set off. */
  async get(
    mailboxId: string,
    options: { signal?: AbortSignal; renewed?: { count: number } } = {},
  ): Promise<ImportSession> {
    const entry = this.entries.get(mailboxId);
    if (entry && !entry.ready) return entry.promise; // being created by another caller
    if (entry?.ready && this.now() < entry.ready.renewAt) return entry.ready.session;
    if (entry) {
      this.renewals++;
      if (options.renewed) options.renewed.count++;
    }
    const requestedAt = this.now();
    const fresh: Entry = {
      promise: this.graph.createImportSession(mailboxId, { ...(options.signal ? { signal: options.signal } : {}) }),
    };
    this.entries.set(mailboxId, fresh);
    fresh.promise.then(
      (session) => {
        const expiresAt = session.expiresAt.getTime();
        fresh.ready = { session, renewAt: expiresAt - renewalMarginInMs(requestedAt, expiresAt) };
      },
      () => {
        if (this.entries.get(mailboxId) === fresh) this.entries.delete(mailboxId);
      },
    );
    return fresh.promise;
  }

  /** Exchange refused `session` (401/403/404): drop it, unless another caller already replaced it. */
  invalidate(session: ImportSession, renewed?: { count: number }): void {
    const entry = this.entries.get(session.mailboxId);
    if (entry?.ready?.session === session) {
      this.entries.delete(session.mailboxId);
      this.renewals++;
      if (renewed) renewed.count++;
    }
  }
}
