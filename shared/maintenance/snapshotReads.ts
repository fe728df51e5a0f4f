import { keyOf, layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * What restores and downloads read of the vault's snapshots, as their requests say: the readers a prune must
 * respect (expiringSnapshots.ts states the handshake; readerMarkers.ts how a prune finds its mailbox's readers).
 */

/** How long a trigger has, from writing its request, to start the restore's or download's orchestration. */
export const READER_START_WINDOW_IN_MS = 5 * 60_000;

/** How long after its start deadline a request with no orchestration is taken for abandoned (expiringSnapshots.ts). */
export const ABANDONED_AFTER_DEADLINE_IN_MS = 55 * 60_000;

export type ReaderKind = 'restore' | 'download';

/** Whether the orchestration of a restore or download (its instance id is the request's id) exists. */
export type OrchestrationExists = (instanceId: string) => Promise<boolean>;

/** What a prune needs to tell an abandoned request: its "now", and Durable's answer. */
export interface AbandonedReadCheck {
  now: Date;
  orchestrationExists: OrchestrationExists;
  /** The mailbox being pruned: Durable is asked about its requests only (others count as in progress). */
  mailboxKey?: string;
}

/** A request whose orchestration never started: it keeps nothing from pruning. */
export interface AbandonedRead {
  /** The restore's or download's id. */
  id: string;
  mailboxKey: string;
  snapshotId: string;
  startBy: string;
}

/** Snapshots running restores and downloads read, by mailbox key, and the requests found abandoned. */
export interface SnapshotReads {
  inProgress: Map<string, string[]>;
  abandoned: AbandonedRead[];
}

/** A reader's request as written: `startBy` is absent from requests written before deadlines were. */
export interface ReadRequest {
  requestedAt?: string;
  startBy?: string;
  source: { mailboxId: string; snapshotId: string };
}

/** A reader's request, and whether it has ended (its report, or a restore's cancel, is written). */
export async function readReaderState(
  vault: VaultStore,
  kind: ReaderKind,
  id: string,
): Promise<{ request: ReadRequest | undefined; ended: boolean }> {
  if (kind === 'download')
    return {
      request: await vault.readJson<ReadRequest>(layout.downloadRequest(id)),
      ended: (await vault.readJson(layout.downloadReport(id))) !== undefined,
    };
  return {
    request: await vault.readJson<ReadRequest>(layout.restoreRequest(id)),
    ended:
      (await vault.readJson(layout.restoreReport(id))) !== undefined ||
      (await vault.readJson(layout.restoreCanceled(id))) !== undefined,
  };
}

/** A running reader found by listing its folder: its id and request. */
export interface RunningRequest {
  kind: ReaderKind;
  id: string;
  request: ReadRequest;
}

/** Every restore or download of the vault whose request is written and which has not ended: one listing of its folder. */
export async function* listRunningRequests(vault: VaultStore, kind: ReaderKind): AsyncGenerator<RunningRequest> {
  const folder = kind === 'restore' ? 'restores/' : 'downloads/';
  for await (const prefix of vault.listPrefixes(folder)) {
    const id = prefix.slice(folder.length, -1);
    const { request, ended } = await readReaderState(vault, kind, id);
    if (request && !ended) yield { kind, id, request };
  }
}

/**
 * Snapshots that running restores read, by mailbox key: kept whatever the policy says. A restore is running
 * until its report or its cancel is written, however long it runs. With a `check`, a request whose orchestration
 * never started is abandoned instead (expiringSnapshots.ts); without one, none is. Reads every restore of the vault.
 */
export async function findRestoresInProgress(vault: VaultStore, check?: AbandonedReadCheck): Promise<SnapshotReads> {
  return findReads(listRunningRequests(vault, 'restore'), check);
}

/** Snapshots that running downloads (MBOX or ZIP exports) read, by mailbox key: running until their report. */
export async function findDownloadsInProgress(vault: VaultStore, check?: AbandonedReadCheck): Promise<SnapshotReads> {
  return findReads(listRunningRequests(vault, 'download'), check);
}

/** Every snapshot a running restore or download of the vault reads, by mailbox key: the tenant-wide view. */
export async function findSnapshotReadsInProgress(
  vault: VaultStore,
  check?: AbandonedReadCheck,
): Promise<SnapshotReads> {
  const reads = await findRestoresInProgress(vault, check);
  const downloads = await findDownloadsInProgress(vault, check);
  for (const [key, snapshots] of downloads.inProgress)
    reads.inProgress.set(key, [...(reads.inProgress.get(key) ?? []), ...snapshots]);
  reads.abandoned.push(...downloads.abandoned);
  return reads;
}

async function findReads(
  running: AsyncIterable<RunningRequest>,
  check: AbandonedReadCheck | undefined,
): Promise<SnapshotReads> {
  const reads: SnapshotReads = { inProgress: new Map(), abandoned: [] };
  for await (const { id, request } of running) {
    const key = keyOf(request.source.mailboxId);
    const startBy = startDeadlineOf(request);
    const mayBeAbandoned = check && startBy && (check.mailboxKey === undefined || check.mailboxKey === key);
    if (mayBeAbandoned && (await isAbandoned(id, startBy, check))) {
      reads.abandoned.push({ id, mailboxKey: key, snapshotId: request.source.snapshotId, startBy });
      continue;
    }
    addRead(reads, key, request.source.snapshotId);
  }
  return reads;
}

export function addRead(reads: SnapshotReads, mailboxKey: string, snapshotId: string): void {
  reads.inProgress.set(mailboxKey, [...(reads.inProgress.get(mailboxKey) ?? []), snapshotId]);
}

/** The request's start deadline; for one written before deadlines were, its request time's. Null: none known. */
export function startDeadlineOf(request: ReadRequest): string | null {
  if (request.startBy) return request.startBy;
  const requestedAt = request.requestedAt ? Date.parse(request.requestedAt) : NaN;
  return Number.isNaN(requestedAt) ? null : new Date(requestedAt + READER_START_WINDOW_IN_MS).toISOString();
}

/** Long past its start deadline and no orchestration: never started. Durable is asked only then. */
export async function isAbandoned(id: string, startBy: string, check: AbandonedReadCheck): Promise<boolean> {
  const deadline = Date.parse(startBy);
  if (Number.isNaN(deadline) || check.now.getTime() <= deadline + ABANDONED_AFTER_DEADLINE_IN_MS) return false;
  return !(await check.orchestrationExists(id));
}
