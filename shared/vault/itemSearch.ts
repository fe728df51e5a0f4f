import { folderPathText } from '../mailbox/index.js';
import type { ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from './records.js';
import { readManifest } from './snapshotCatalog.js';
import type { VaultStore } from './vaultStore.js';

/** What to look for: every word in the subject, a sender, a received range (from inclusive, to exclusive). */
export interface ItemQuery {
  words: string[];
  sender?: string;
  receivedFrom?: string;
  receivedTo?: string;
}

export interface SearchHit {
  snapshotId: string;
  takenAt: string;
  item: ManifestItem;
  folderPath: string;
}

export interface SearchResult {
  hits: SearchHit[];
  /** More items matched than were listed: the caller should narrow the query. */
  more: boolean;
  snapshotsSearched: number;
  itemsScanned: number;
}

/** Subject words from free text: lower case, split on anything that is not a letter or digit. */
export function queryWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/** Whether an item matches: each word somewhere in the subject, the sender containing the text, in the range. */
export function itemMatches(item: ManifestItem, query: ItemQuery): boolean {
  if (query.words.length) {
    const subject = (item.subject ?? '').toLowerCase();
    if (!query.words.every((w) => subject.includes(w))) return false;
  }
  if (query.sender && !(item.sender ?? '').toLowerCase().includes(query.sender.toLowerCase())) return false;
  if (query.receivedFrom || query.receivedTo) {
    const received = Date.parse(item.receivedDateTime ?? item.createdDateTime ?? '');
    if (Number.isNaN(received)) return false;
    if (query.receivedFrom && received < Date.parse(query.receivedFrom)) return false;
    if (query.receivedTo && received >= Date.parse(query.receivedTo)) return false;
  }
  return true;
}

/** Where the search reads a snapshot's entries from; the vault's manifests, or anything else in tests. */
export type ManifestSource = (snapshot: SnapshotRecord) => AsyncIterable<ManifestEntry>;

/**
 * Searches snapshots in the order given (newest first), streaming each manifest: memory holds the folders of
 * one snapshot and at most `top` hits, whatever the mailbox's size. An item version already listed from a newer
 * snapshot is not listed again (searching every snapshot finds a deleted item in the newest one that still has
 * it). Stops at the first match past `top`, saying there is more.
 */
export async function searchSnapshots(
  snapshots: SnapshotRecord[],
  query: ItemQuery,
  top: number,
  source: ManifestSource,
): Promise<SearchResult> {
  const hits: SearchHit[] = [];
  const listed = new Set<string>();
  let itemsScanned = 0;
  let snapshotsSearched = 0;
  for (const snapshot of snapshots) {
    snapshotsSearched++;
    const folders = new Map<string, ManifestFolder>();
    for await (const entry of source(snapshot)) {
      if (entry.kind === 'folder') {
        folders.set(entry.id, entry);
        continue;
      }
      itemsScanned++;
      if (!itemMatches(entry, query)) continue;
      const version = `${entry.id}\n${entry.sha256}`;
      if (listed.has(version)) continue;
      if (hits.length === top) return { hits, more: true, snapshotsSearched, itemsScanned };
      listed.add(version);
      const path = folders.get(entry.folderId)?.path ?? [];
      hits.push({
        snapshotId: snapshot.snapshotId,
        takenAt: snapshot.takenAt,
        item: entry,
        folderPath: folderPathText(path),
      });
    }
  }
  return { hits, more: false, snapshotsSearched, itemsScanned };
}

/** The vault's manifests as the search's source. */
export function vaultManifests(vault: VaultStore): ManifestSource {
  return (snapshot) => readManifest(vault, snapshot);
}
