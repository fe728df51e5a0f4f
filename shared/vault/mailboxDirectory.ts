import { keyOf, layout } from './layout.js';
import type { SnapshotRecord } from './records.js';
import type { VaultStore } from './vaultStore.js';

/**
 * The vault's directory: one small blob per mailbox, `directory/{key}.json`, saying what the mailbox list of the
 * portal and the dashboard shows of it (its newest snapshot, how many it has). The same entry rides in the blob's
 * metadata, so one listing of `directory/` (5,000 mailboxes a request) answers for the whole tenant, where
 * listing and reading each mailbox's snapshots took two requests per mailbox (20 s for 10,000 mailboxes on a
 * local Azurite). It is derived data: written by whoever changes a mailbox's snapshots, holding its lease (the
 * commit, the prune), from the vault as it then is, so a late or repeated write never puts an older snapshot
 * back. A mailbox without an entry (a vault from before the directory; a crash between commit and entry, until
 * the next commit or prune) is looked up the old way.
 */
export interface DirectoryEntry {
  mailboxId: string;
  upn: string;
  archiveOf: string | null;
  snapshots: number;
  newest: Pick<SnapshotRecord, 'snapshotId' | 'takenAt' | 'status' | 'itemCount' | 'totalBytes'>;
}

/** The metadata key holding the entry (URI-encoded JSON: metadata values are ASCII header values). */
const ENTRY_METADATA = 'entry';

/** The entry for a mailbox's snapshot records, or undefined when it has none. */
export function entryOf(records: SnapshotRecord[]): DirectoryEntry | undefined {
  const newest = records.reduce<SnapshotRecord | undefined>(
    (max, record) => (!max || record.snapshotId > max.snapshotId ? record : max),
    undefined,
  );
  if (!newest) return undefined;
  const { snapshotId, takenAt, status, itemCount, totalBytes } = newest;
  return {
    mailboxId: newest.mailboxId,
    upn: newest.upn,
    archiveOf: newest.archiveOf ?? null,
    snapshots: records.length,
    newest: { snapshotId, takenAt, status, itemCount, totalBytes },
  };
}

/** Writes the mailbox's entry, or deletes it when the mailbox has no snapshot left. */
export async function writeDirectoryEntry(
  vault: VaultStore,
  mailboxKey: string,
  entry: DirectoryEntry | undefined,
): Promise<void> {
  const blob = layout.byKey.directoryEntry(mailboxKey);
  if (!entry) {
    await vault.deleteBlob(blob);
    return;
  }
  await vault.writeJson(blob, entry, { metadata: { [ENTRY_METADATA]: encodeURIComponent(JSON.stringify(entry)) } });
}

/**
 * After a commit: the entry from the mailbox's snapshot names as listed now, reading only the newest record
 * (the one just committed, unless a newer one is there already).
 */
export async function refreshAfterCommit(vault: VaultStore, committed: SnapshotRecord): Promise<void> {
  const committedName = layout.snapshotRecord(committed.mailboxId, committed.snapshotId);
  const names = new Set([committedName]);
  for await (const name of vault.listNames(layout.snapshotsPrefix(committed.mailboxId)))
    if (name.endsWith('.json')) names.add(name);
  const newestName = [...names].sort().at(-1)!;
  const newest =
    newestName === committedName ? committed : ((await vault.readJson<SnapshotRecord>(newestName)) ?? committed);
  const entry = entryOf([newest])!;
  await writeDirectoryEntry(vault, keyOf(committed.mailboxId), { ...entry, snapshots: names.size });
}

/** Every entry of the directory, by mailbox key, from its listing alone. Unreadable entries are left out. */
export async function readDirectory(vault: VaultStore): Promise<Map<string, DirectoryEntry>> {
  const entries = new Map<string, DirectoryEntry>();
  for await (const { name, metadata } of vault.listWithMetadata(layout.directoryPrefix)) {
    const encoded = metadata[ENTRY_METADATA];
    if (!encoded) continue;
    try {
      entries.set(name.slice(layout.directoryPrefix.length, -'.json'.length), JSON.parse(decodeURIComponent(encoded)));
    } catch {
      // A damaged entry: the mailbox is looked up the old way.
    }
  }
  return entries;
}
