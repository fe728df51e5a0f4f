import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { ResolvedScope } from './scope.js';
import type { MailboxTarget } from './types.js';

/** Mailboxes per page of a run's scope and of its report: a page is read whole, by one activity at a time. */
export const DEFAULT_PAGE_SIZE = 500;

/** `runs/{id}/mailboxes.json`: the run's resolved scope without its mailboxes, which are in pages. */
export interface RunScopeSummary extends Omit<ResolvedScope, 'mailboxes'> {
  count: number;
  pageSize: number;
  pages: number;
}

/**
 * Keeps the run's resolved scope in the vault as pages of `pageSize` mailboxes and a summary, so no activity of a
 * 10,000-mailbox run reads (or any Durable payload carries) the whole list.
 */
export async function writeRunScope(
  vault: VaultStore,
  runId: string,
  resolved: ResolvedScope,
  pageSize: number,
): Promise<RunScopeSummary> {
  const { mailboxes, ...rest } = resolved;
  const pages = Math.ceil(mailboxes.length / pageSize);
  for (let page = 0; page < pages; page++)
    await vault.writeJson(layout.runMailboxPage(runId, page), mailboxes.slice(page * pageSize, (page + 1) * pageSize));
  const summary: RunScopeSummary = { ...rest, count: mailboxes.length, pageSize, pages };
  await vault.writeJson(layout.runMailboxes(runId), summary);
  return summary;
}

/** A run written before pages kept its whole list in mailboxes.json; it reads as one page. */
type StoredScope = RunScopeSummary | (ResolvedScope & { count?: undefined });

/** The run's scope summary; an empty scope when resolution never got that far. */
export async function readRunScope(vault: VaultStore, runId: string): Promise<RunScopeSummary> {
  const stored = await vault.readJson<StoredScope>(layout.runMailboxes(runId));
  if (!stored) return { count: 0, pageSize: DEFAULT_PAGE_SIZE, pages: 0, warnings: [] };
  if (stored.count !== undefined) return stored;
  const { mailboxes, ...rest } = stored;
  return { ...rest, count: mailboxes.length, pageSize: Math.max(1, mailboxes.length), pages: 1 };
}

/**
 * The last few scope pages this process read: a page never changes once written, and a lane reads the page of
 * every mailbox it takes, so consecutive takes of a process mostly find theirs here.
 */
const recentPages = new Map<string, MailboxTarget[]>();
const RECENT_PAGES = 4;

/** One page of the run's mailboxes, in scope order. */
export async function readMailboxPage(vault: VaultStore, runId: string, page: number): Promise<MailboxTarget[]> {
  const name = layout.runMailboxPage(runId, page);
  const cached = recentPages.get(`${vault.container.url}/${name}`);
  if (cached) return cached;
  const paged = await vault.readJson<MailboxTarget[]>(name);
  if (paged) {
    recentPages.set(`${vault.container.url}/${name}`, paged);
    if (recentPages.size > RECENT_PAGES) recentPages.delete(recentPages.keys().next().value!);
    return paged;
  }
  const legacy = await vault.readJson<Partial<ResolvedScope>>(layout.runMailboxes(runId));
  return page === 0 ? (legacy?.mailboxes ?? []) : [];
}

/** The mailbox at `index` in scope order. */
export async function readMailboxAt(
  vault: VaultStore,
  runId: string,
  scope: Pick<RunScopeSummary, 'count' | 'pageSize'>,
  index: number,
): Promise<MailboxTarget> {
  const page = await readMailboxPage(vault, runId, Math.floor(index / scope.pageSize));
  const target = page[index % scope.pageSize];
  if (!target) throw new Error(`Run ${runId} has no mailbox at ${index} (${scope.count} in scope)`);
  return target;
}
