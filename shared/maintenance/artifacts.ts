import { readMailboxPage, readRunScope } from '../backup/runScope.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { retentionHorizon, type RetentionPolicy } from './retention.js';
import { isAbandoned, startDeadlineOf, type OrchestrationExists, type ReadRequest } from './snapshotReads.js';

/**
 * Run and restore artifacts past the retention policy. A backup run's folder (`runs/{runId}/`: plans, change
 * lists, batch results, the report), a restore's (`restores/{restoreId}/`: request, plan, journal, intents,
 * results, the report), a download's (`downloads/{id}/`: request, plan, converted messages, the MBOX or ZIP
 * file, the report) and a maintenance run's hold subjects, senders, search keys, mail itself or mailbox names,
 * so they must not outlive the snapshots the policy keeps: once the work started before the policy's horizon,
 * and is no longer running, its whole folder is deleted.
 *
 * In flight is decided from what the work writes, never from its age: a run is done once its report is written
 * (a download's once its file's link has expired too); without a report, once its Durable instance has ended
 * (and, for a backup, every mailbox's sub-orchestration without a result has too: terminating a parent does not
 * end its children). An instance whose status cannot be read counts as running, so its folder stays; so does one
 * Durable does not know, but for a restore's or download's request that never started (`neverStarted`). The
 * report is deleted last, so a deletion cut short still reads as done and is finished by the next maintenance run.
 */
export interface ArtifactsInput {
  policy: RetentionPolicy;
  /** The maintenance run's start, so a retried activity decides the same. */
  now: Date;
  dryRun: boolean;
  /** Whether a Durable instance has ended for good (false while it runs, or when its status is unknown). */
  hasEnded: (instanceId: string) => Promise<boolean>;
  /** Whether an instance exists (throws when Durable cannot be asked); without it no request counts as never started. */
  orchestrationExists?: OrchestrationExists;
}

export interface ArtifactsResult {
  dryRun: boolean;
  /** Work that started before this is past the policy. */
  horizon: string;
  /** Ids whose folders were deleted (or, in a dry run, would be). */
  deleted: { runs: string[]; restores: string[]; downloads: string[]; maintenance: string[] };
  /** Ids past the horizon left alone because they are still running. */
  running: string[];
  /** Finished downloads past the horizon whose file's link is still valid: deleted once it has expired. */
  downloadsKept?: string[];
  /**
   * Backup runs past the horizon with a snapshot still in the vault: their plans and change lists are deleted,
   * their report and mailbox results (what each kept snapshot lacks, and why) stay until the snapshots go.
   */
  reportsKept: string[];
  blobsDeleted: number;
  bytesFreed: number;
  /** Blobs a retention policy (WORM) still protects: left in place, reported. */
  immutable: Array<{ blob: string; reason: string }>;
}

type Kind = keyof ArtifactsResult['deleted'];

interface Folder {
  kind: Kind;
  root: string;
  report: (id: string) => string;
  /** A reader's request (restores, downloads): what its trigger writes before starting the orchestration. */
  request?: (id: string) => string;
}

const FOLDERS: Folder[] = [
  { kind: 'runs', root: 'runs/', report: layout.runReport },
  { kind: 'restores', root: 'restores/', report: layout.restoreReport, request: layout.restoreRequest },
  { kind: 'downloads', root: 'downloads/', report: layout.downloadReport, request: layout.downloadRequest },
  { kind: 'maintenance', root: 'maintenance/', report: layout.maintenanceReport },
];

/**
 * However short the policy, a week's work stays: the reports of last week's runs are what an admin reads after
 * a bad night, and what the portal's dashboard shows.
 */
export const ARTIFACTS_MINIMUM_DAYS = 7;

/** Work that started before this is past the policy. */
export function artifactsHorizon(policy: RetentionPolicy, now: Date): Date {
  const minimum = now.getTime() - ARTIFACTS_MINIMUM_DAYS * 86_400_000;
  return new Date(Math.min(retentionHorizon(policy, now).getTime(), minimum));
}

/** `backup-20261123T020000Z-1a2b3c4d` → its start; undefined for a name no trigger makes. */
export function startOfWork(id: string): Date | undefined {
  const match =
    /^(?:backup|restore|download|item|maintenance)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-|$)/.exec(id);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, ...number[]];
  return new Date(Date.UTC(year, month! - 1, day, hour, minute, second));
}

/** Deletes (or, in a dry run, counts) the folders of finished work that started before the policy's horizon. */
export async function expireArtifacts(vault: VaultStore, input: ArtifactsInput): Promise<ArtifactsResult> {
  const horizon = artifactsHorizon(input.policy, input.now);
  const result: ArtifactsResult = {
    dryRun: input.dryRun,
    horizon: horizon.toISOString(),
    deleted: { runs: [], restores: [], downloads: [], maintenance: [] },
    running: [],
    downloadsKept: [],
    reportsKept: [],
    blobsDeleted: 0,
    bytesFreed: 0,
    immutable: [],
  };
  for (const folder of FOLDERS) {
    for await (const prefix of vault.listPrefixes(folder.root)) {
      const id = prefix.slice(folder.root.length, -1);
      const started = startOfWork(id);
      if (!started || started >= horizon) continue;
      const state = await stateOf(vault, folder, id, input);
      if (state !== 'done') {
        (state === 'fileDownloadable' ? result.downloadsKept! : result.running).push(id);
        continue;
      }
      if (folder.kind === 'runs' && (await trimmedWhileSnapshotsKept(vault, prefix, input.dryRun, result))) {
        result.reportsKept.push(id);
        continue;
      }
      await deleteFolder(vault, prefix, folder.report(id), input.dryRun, result);
      result.deleted[folder.kind].push(id);
    }
  }
  return result;
}

/** Done: its report written, or its orchestration over without one; a finished download until its link expires. */
async function stateOf(
  vault: VaultStore,
  folder: Folder,
  id: string,
  input: ArtifactsInput,
): Promise<'done' | 'running' | 'fileDownloadable'> {
  const report = await vault.readJson<{ file?: { expiresAt: string } }>(folder.report(id));
  // A link may be given for longer than a week's work is kept: the file stays until the link has expired.
  if (report?.file && Date.parse(report.file.expiresAt) > input.now.getTime()) return 'fileDownloadable';
  if (report) return 'done';
  if (await input.hasEnded(id)) {
    const mailboxesDone = folder.kind !== 'runs' || (await mailboxesHaveEnded(vault, id, input.hasEnded));
    return mailboxesDone ? 'done' : 'running';
  }
  return folder.request && (await neverStarted(vault, folder, id, input)) ? 'done' : 'running';
}

/**
 * A restore's or download's request whose trigger died before starting its orchestration: its folder holds the
 * request alone (an orchestration's first step writes its plan), the request is long past its start deadline,
 * and Durable has no such instance. All three, so that Durable asked in another task hub (a renamed hub), which
 * knows no instance at all, cannot make running work look abandoned.
 */
async function neverStarted(vault: VaultStore, folder: Folder, id: string, input: ArtifactsInput): Promise<boolean> {
  const { orchestrationExists, now } = input;
  if (!orchestrationExists) return false;
  const requestBlob = folder.request!(id);
  for await (const name of vault.listNames(`${folder.root}${id}/`)) if (name !== requestBlob) return false;
  const request = await vault.readJson<ReadRequest>(requestBlob);
  const startBy = request && startDeadlineOf(request);
  if (!startBy) return false;
  try {
    return await isAbandoned(id, startBy, { now, orchestrationExists });
  } catch {
    return false; // Durable could not be asked
  }
}

/** A backup run without a report: every mailbox sub-orchestration without a recorded result has ended. */
async function mailboxesHaveEnded(
  vault: VaultStore,
  runId: string,
  hasEnded: ArtifactsInput['hasEnded'],
): Promise<boolean> {
  const scope = await readRunScope(vault, runId);
  for (let page = 0; page < scope.pages; page++)
    for (const { mailboxId } of await readMailboxPage(vault, runId, page)) {
      if ((await vault.readJson(layout.runMailboxResult(runId, mailboxId))) !== undefined) continue;
      // backupOrchestrators.ts names each mailbox's instance `${runId}-${mailboxKey}`.
      const mailboxKey = layout.mailboxPrefix(mailboxId).split('/')[1]!;
      if (!(await hasEnded(`${runId}-${mailboxKey}`))) return false;
    }
  return true;
}

/** A run's record of what it could not back up: its report (and report pages), scope and mailbox results. */
function isRunRecord(name: string, prefix: string): boolean {
  const rest = name.slice(prefix.length);
  return /^(report\.json|report\/.*|mailboxes\.json|scope\/.*|[^/]+\/result\.json)$/.test(rest);
}

/**
 * A backup run some of whose snapshots the policy still keeps: everything but its record is deleted (or counted),
 * and true is returned; false when none of its snapshots remains, so the whole folder may go.
 */
async function trimmedWhileSnapshotsKept(
  vault: VaultStore,
  prefix: string,
  dryRun: boolean,
  result: ArtifactsResult,
): Promise<boolean> {
  let snapshotKept = false;
  const others: Array<{ name: string; size: number }> = [];
  for await (const blob of vault.listBlobs(prefix)) {
    if (!isRunRecord(blob.name, prefix)) others.push(blob);
    else if (!snapshotKept && blob.name.endsWith('/result.json'))
      snapshotKept = await snapshotStillKept(vault, blob.name);
  }
  if (!snapshotKept) return false;
  for (const blob of others) await deleteOne(vault, blob, dryRun, result);
  return true;
}

async function snapshotStillKept(vault: VaultStore, resultBlob: string): Promise<boolean> {
  const outcome = await vault.readJson<{ mailboxId: string; snapshotId: string | null }>(resultBlob);
  if (!outcome?.snapshotId) return false;
  return (await vault.readJson(layout.snapshotRecord(outcome.mailboxId, outcome.snapshotId))) !== undefined;
}

/** Every blob of the folder, streamed (a big run has many), its report last. */
async function deleteFolder(
  vault: VaultStore,
  prefix: string,
  report: string,
  dryRun: boolean,
  result: ArtifactsResult,
): Promise<void> {
  let reportSize: number | undefined;
  for await (const blob of vault.listBlobs(prefix)) {
    if (blob.name === report) reportSize = blob.size;
    else await deleteOne(vault, blob, dryRun, result);
  }
  if (reportSize !== undefined) await deleteOne(vault, { name: report, size: reportSize }, dryRun, result);
}

async function deleteOne(
  vault: VaultStore,
  blob: { name: string; size: number },
  dryRun: boolean,
  result: ArtifactsResult,
): Promise<void> {
  // A dry run counts each blob as if its delete had succeeded.
  const outcome = dryRun ? 'deleted' : await vault.deleteBlob(blob.name);
  if (outcome === 'deleted') {
    result.blobsDeleted++;
    result.bytesFreed += blob.size;
  } else if (outcome === 'immutable')
    result.immutable.push({ blob: blob.name, reason: 'run artifact under a retention policy' });
}
