import { keyOf, layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import {
  addRead,
  findSnapshotReadsInProgress,
  isAbandoned,
  listRunningRequests,
  readReaderState,
  startDeadlineOf,
  type AbandonedReadCheck,
  type ReaderKind,
  type SnapshotReads,
} from './snapshotReads.js';

/**
 * Reader markers: how a prune finds the restores and downloads of its own mailbox without reading every request
 * of the tenant. A reader writes `mailboxes/{key}/state/readers/{id}.json` after its request and before it
 * reads the expiring mark (the handshake of expiringSnapshots.ts); a prune lists that folder only.
 *
 * Vaults upgraded with readers running have requests without a marker, and during a deployment old instances may
 * still write some. Until `state/reader-markers.json` says the backfill is complete, each maintenance run lists
 * `restores/` and `downloads/` once (not per mailbox) and writes a marker for each running request, and prunes
 * read every request as before (the tenant-wide view); see backfillReaderMarkers for when it completes.
 */
export interface ReaderMarker {
  kind: ReaderKind;
  id: string;
  snapshotId: string;
  /** The request's start deadline; null for a request older than deadlines with no request time either. */
  startBy: string | null;
}

/** The reader's marker, written after its request and before it reads the snapshot's expiring mark. */
export async function writeReaderMarker(vault: VaultStore, mailboxId: string, marker: ReaderMarker): Promise<void> {
  await vault.writeJson(layout.byKey.readerMarker(keyOf(mailboxId), marker.id), marker);
}

/** Withdraws a reader's marker (its request refused or withdrawn): it protects nothing any more. */
export async function deleteReaderMarker(vault: VaultStore, mailboxId: string, readerId: string): Promise<void> {
  await vault.deleteBlob(layout.byKey.readerMarker(keyOf(mailboxId), readerId));
}

/**
 * The snapshots of one mailbox its running readers read, and its abandoned readers: its markers when every
 * reader has one, else (a vault not backfilled yet) every request of the vault, kept to this mailbox's.
 * `clearEnded` (a prune holding the mailbox's lease, not a dry run) deletes the markers that protect nothing.
 */
export async function findMailboxReads(
  vault: VaultStore,
  mailboxKey: string,
  check?: AbandonedReadCheck,
  options: { clearEnded?: boolean } = {},
): Promise<SnapshotReads> {
  const scoped = check && { ...check, mailboxKey };
  if (await everyReaderMarked(vault)) return findMarkedReads(vault, mailboxKey, scoped, options.clearEnded === true);
  const reads = await findSnapshotReadsInProgress(vault, scoped);
  return {
    inProgress: new Map([[mailboxKey, reads.inProgress.get(mailboxKey) ?? []]]),
    abandoned: reads.abandoned.filter((read) => read.mailboxKey === mailboxKey),
  };
}

/** Whether the backfill is complete: every running reader has a marker, and prunes may read markers only. */
export async function everyReaderMarked(vault: VaultStore): Promise<boolean> {
  return (await vault.readJson<BackfillState>(layout.readerMarkersBackfilled()))?.completedAt !== undefined;
}

/**
 * Each marker of the mailbox, with its request and ended state. A reader is running until its report (or a
 * restore's cancel); its marker is written after its request and withdrawn after it, so a marker without its
 * request is a reader withdrawn, or ended with its folder expired (maintenance/artifacts.ts): it protects nothing.
 */
async function findMarkedReads(
  vault: VaultStore,
  mailboxKey: string,
  check: AbandonedReadCheck | undefined,
  clearEnded: boolean,
): Promise<SnapshotReads> {
  const reads: SnapshotReads = { inProgress: new Map([[mailboxKey, []]]), abandoned: [] };
  for await (const name of vault.listNames(layout.byKey.readerMarkersPrefix(mailboxKey))) {
    const marker = await vault.readJson<ReaderMarker>(name);
    if (!marker) continue; // deleted since the listing: its reader was refused or has ended
    const { request, ended } = await readReaderState(vault, marker.kind, marker.id);
    if (ended || !request) {
      if (clearEnded) await vault.deleteBlob(name);
      continue;
    }
    const startBy = startDeadlineOf(request);
    if (check && startBy && (await isAbandoned(marker.id, startBy, check)))
      reads.abandoned.push({ id: marker.id, mailboxKey, snapshotId: marker.snapshotId, startBy });
    else addRead(reads, mailboxKey, marker.snapshotId);
  }
  return reads;
}

/**
 * How long after the first backfill a second one completes it: longer than an app's old instances (code that
 * writes requests without markers) take to drain after a deployment.
 */
export const READER_MARKERS_SETTLE_IN_MS = 60 * 60_000;

/** `state/reader-markers.json`: when the vault's requests were first listed for markers, and when last. */
interface BackfillState {
  firstBackfillAt: string;
  markersWritten: number;
  completedAt?: string;
}

/**
 * At the start of each maintenance run until complete: a marker for every running request written without one
 * (by code older than markers), onto the flag. The first pass records its time; the first pass at least
 * READER_MARKERS_SETTLE_IN_MS after it lists again, so it also marks the requests old instances wrote meanwhile,
 * and completes the flag: from then on prunes read markers only. `now` is the time of the pass itself, never a
 * run's start, which can lie hours before it (a late timer run): the window would look longer than it was.
 * Returns how many markers it wrote.
 */
export async function backfillReaderMarkers(vault: VaultStore, now: Date): Promise<number> {
  const state = await vault.readJson<BackfillState>(layout.readerMarkersBackfilled());
  if (state?.completedAt !== undefined) return 0;
  let written = 0;
  for (const kind of ['restore', 'download'] as const) {
    for await (const { id, request } of listRunningRequests(vault, kind)) {
      const marker = { kind, id, snapshotId: request.source.snapshotId, startBy: startDeadlineOf(request) };
      const name = layout.byKey.readerMarker(keyOf(request.source.mailboxId), id);
      if (await vault.writeJson(name, marker, { onlyIfAbsent: true })) written++;
    }
  }
  const firstBackfillAt = state?.firstBackfillAt ?? now.toISOString();
  const settled = now.getTime() - Date.parse(firstBackfillAt) >= READER_MARKERS_SETTLE_IN_MS;
  const next: BackfillState = { firstBackfillAt, markersWritten: (state?.markersWritten ?? 0) + written };
  await vault.writeJson(layout.readerMarkersBackfilled(), settled ? { ...next, completedAt: now.toISOString() } : next);
  return written;
}
