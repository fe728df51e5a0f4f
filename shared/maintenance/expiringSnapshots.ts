import { keyOf, layout } from '../vault/layout.js';
import type { SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * The handshake between a prune and a restore being requested, so that a restore never reads a snapshot that is
 * being deleted.
 *
 * Downloads (MBOX or ZIP exports) read a snapshot for as long as a restore does and take part the same way:
 * what is said here of a restore's request holds for a download's (`downloads/{id}/request.json`, running until
 * its report is written).
 *
 * INVARIANT: once a restore is accepted (its request written and its check passed), no prune deletes its
 * snapshot, nor therefore any version the snapshot references, until the restore has ended (its report or its
 * cancel is written), however long it runs; the first prune after that may.
 *
 * Each side writes, then reads what the other side writes:
 * - a restore writes its request naming the snapshot, then reads the snapshot's expiring mark, then its record;
 *   it is refused (and withdraws its request) when the mark is there or the record is gone;
 * - a prune (holding the mailbox's lease) marks each snapshot the policy expires, then reads the running
 *   restores, deletes only marked snapshots none of them names, and clears the marks after those deletes.
 *
 * Why it holds. Blob storage is strongly consistent: a read sees every write that landed before it. Say a
 * prune deletes snapshot S that an accepted restore names. The prune's read of the restores missed the request,
 * so the request landed after it, hence after the mark. The restore read the mark after its request: it found
 * no mark, so the read came after the marks were cleared, hence after S's record was deleted; and the restore
 * read the record after that, found nothing and was refused. A contradiction. Both sides may see each other
 * (the restore refused, the snapshot kept one more night): that loses nothing.
 *
 * A prune that dies between marking and clearing leaves marks: restores of those snapshots (the policy expires
 * them already) are refused until the next prune of the mailbox, which clears every mark when it is done.
 *
 * A request whose orchestration never started (the trigger died between writing it and starting the restore)
 * would keep its snapshot for ever. The request carries a start deadline (`startBy`, READER_START_WINDOW_IN_MS
 * after it is written), and its trigger starts no orchestration after it (`startsInTime`). A prune whose clock
 * is ABANDONED_AFTER_DEADLINE_IN_MS past that deadline asks Durable whether the orchestration exists: if not, the
 * request is abandoned, protects nothing, and the prune's result names it. The margin covers a start already
 * sent when the deadline passed and clocks that differ, so a restore that did start is never taken for abandoned.
 */

/** How long a trigger has, from writing its request, to start the restore's or download's orchestration. */
export const READER_START_WINDOW_IN_MS = 5 * 60_000;

/** How long after its start deadline a request with no orchestration is taken for abandoned (see above). */
export const ABANDONED_AFTER_DEADLINE_IN_MS = 55 * 60_000;

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
interface ReadRequest {
  requestedAt?: string;
  startBy?: string;
  source: { mailboxId: string; snapshotId: string };
}

/** `mailboxes/{key}/state/expiring/{snapshotId}.json`: a prune is deleting that snapshot. */
export function expiringMark(mailboxKey: string, snapshotId: string): string {
  return `${expiringPrefix(mailboxKey)}${snapshotId}.json`;
}

function expiringPrefix(mailboxKey: string): string {
  return `${layout.byKey.mailbox(mailboxKey)}state/expiring/`;
}

/**
 * The prune's half: marks the snapshots to expire, then reads the running restores. Returns those to delete
 * (none a restore names) and those kept because a restore requested meanwhile names them.
 */
export async function markThenCheckRestores(
  vault: VaultStore,
  mailboxKey: string,
  expired: SnapshotRecord[],
  check?: AbandonedReadCheck,
): Promise<{ expire: SnapshotRecord[]; keptForRestores: string[]; abandoned: AbandonedRead[] }> {
  if (expired.length === 0) return { expire: [], keptForRestores: [], abandoned: [] };
  for (const snapshot of expired)
    await vault.writeJson(expiringMark(mailboxKey, snapshot.snapshotId), { snapshotId: snapshot.snapshotId });
  const reads = await findSnapshotReadsInProgress(vault, check);
  const named = new Set(reads.inProgress.get(mailboxKey) ?? []);
  return {
    expire: expired.filter((s) => !named.has(s.snapshotId)),
    keptForRestores: expired.filter((s) => named.has(s.snapshotId)).map((s) => s.snapshotId),
    abandoned: reads.abandoned.filter((read) => read.mailboxKey === mailboxKey),
  };
}

/** The prune's last step of the handshake, after its snapshot deletes: every mark of the mailbox goes. */
export async function clearExpiringMarks(vault: VaultStore, mailboxKey: string): Promise<void> {
  for await (const name of vault.listNames(expiringPrefix(mailboxKey))) await vault.deleteBlob(name);
}

/**
 * A reader's half (a restore's or a download's): writes its request with its start deadline, which keeps the
 * snapshot from pruning until the reader ends, then checks the snapshot is still kept. Returns the deadline
 * (start the orchestration only while `startsInTime` says so). When a prune got there first the request is
 * withdrawn (it would keep nothing alive) and the answer is null: refuse the reader.
 */
export async function recordSnapshotRead(
  vault: VaultStore,
  requestBlob: string,
  request: object,
  source: { mailboxId: string; snapshotId: string },
  now: Date = new Date(),
): Promise<string | null> {
  const startBy = new Date(now.getTime() + READER_START_WINDOW_IN_MS).toISOString();
  await vault.writeJson(requestBlob, { ...request, startBy }, { onlyIfAbsent: true });
  if (await snapshotStillKept(vault, source.mailboxId, source.snapshotId)) return startBy;
  await vault.deleteBlob(requestBlob);
  return null;
}

/** Whether a reader's orchestration may still be started: its request's deadline has not passed. */
export function startsInTime(startBy: string, now: Date = new Date()): boolean {
  return now.getTime() < Date.parse(startBy);
}

/**
 * The restore's half, called after its request is written: whether the snapshot is still kept. The mark is read
 * before the record (a prune deletes the record before it clears the mark), so one of the two reads sees the prune.
 */
export async function snapshotStillKept(vault: VaultStore, mailboxId: string, snapshotId: string): Promise<boolean> {
  if ((await vault.readJson(expiringMark(keyOf(mailboxId), snapshotId))) !== undefined) return false;
  return (await vault.readJson(layout.snapshotRecord(mailboxId, snapshotId))) !== undefined;
}

/**
 * Snapshots that running restores read, by mailbox key: kept whatever the policy says. A restore is running
 * until its report or its cancel is written, however long it runs. With a `check`, a request whose orchestration
 * never started is abandoned instead (see above); without one, none is.
 */
export async function findRestoresInProgress(vault: VaultStore, check?: AbandonedReadCheck): Promise<SnapshotReads> {
  return findReads(vault, 'restores/', check, async (restoreId) => ({
    request: await vault.readJson<ReadRequest>(layout.restoreRequest(restoreId)),
    ended:
      (await vault.readJson(layout.restoreReport(restoreId))) !== undefined ||
      (await vault.readJson(layout.restoreCanceled(restoreId))) !== undefined,
  }));
}

/** Snapshots that running downloads (MBOX or ZIP exports) read, by mailbox key: running until their report. */
export async function findDownloadsInProgress(vault: VaultStore, check?: AbandonedReadCheck): Promise<SnapshotReads> {
  return findReads(vault, 'downloads/', check, async (downloadId) => ({
    request: await vault.readJson<ReadRequest>(layout.downloadRequest(downloadId)),
    ended: (await vault.readJson(layout.downloadReport(downloadId))) !== undefined,
  }));
}

/** Every snapshot a running restore or download reads, by mailbox key: what a prune must keep. */
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
  vault: VaultStore,
  folder: 'restores/' | 'downloads/',
  check: AbandonedReadCheck | undefined,
  readState: (id: string) => Promise<{ request: ReadRequest | undefined; ended: boolean }>,
): Promise<SnapshotReads> {
  const reads: SnapshotReads = { inProgress: new Map(), abandoned: [] };
  for await (const prefix of vault.listPrefixes(folder)) {
    const id = prefix.slice(folder.length, -1);
    const { request, ended } = await readState(id);
    if (!request || ended) continue;
    const key = keyOf(request.source.mailboxId);
    const startBy = startDeadlineOf(request);
    const mayBeAbandoned = check && startBy && (check.mailboxKey === undefined || check.mailboxKey === key);
    if (mayBeAbandoned && (await isAbandoned(id, startBy, check))) {
      reads.abandoned.push({ id, mailboxKey: key, snapshotId: request.source.snapshotId, startBy });
      continue;
    }
    reads.inProgress.set(key, [...(reads.inProgress.get(key) ?? []), request.source.snapshotId]);
  }
  return reads;
}

/** The request's start deadline; for one written before deadlines were, its request time's. Null: none known. */
function startDeadlineOf(request: ReadRequest): string | null {
  if (request.startBy) return request.startBy;
  const requestedAt = request.requestedAt ? Date.parse(request.requestedAt) : NaN;
  return Number.isNaN(requestedAt) ? null : new Date(requestedAt + READER_START_WINDOW_IN_MS).toISOString();
}

/** Long past its start deadline and no orchestration: never started. Durable is asked only then. */
async function isAbandoned(id: string, startBy: string, check: AbandonedReadCheck): Promise<boolean> {
  const deadline = Date.parse(startBy);
  if (Number.isNaN(deadline) || check.now.getTime() <= deadline + ABANDONED_AFTER_DEADLINE_IN_MS) return false;
  return !(await check.orchestrationExists(id));
}
