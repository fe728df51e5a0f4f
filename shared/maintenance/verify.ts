import { createHash } from 'node:crypto';
import { folderPathText } from '../mailbox/index.js';
import { layout } from '../vault/layout.js';
import type { ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';

export type VerifyMode = 'sample' | 'full';

export interface VerifyProblem {
  snapshotId: string;
  kind: 'missingBlob' | 'checksumMismatch' | 'sizeMismatch' | 'manifestDamaged' | 'manifestMissing';
  itemId?: string;
  folderPath?: string;
  subject?: string;
  blob: string;
  expected?: string;
  actual?: string;
}

export interface VerifyResult {
  mailboxKey: string;
  mailboxId: string | null;
  upn: string | null;
  mode: VerifyMode;
  snapshotsChecked: number;
  entriesChecked: number;
  versionsHashed: number;
  bytesHashed: number;
  problems: VerifyProblem[];
}

export interface VerifyInput {
  mailboxKey: string;
  mode: VerifyMode;
  /** Versions re-hashed by a sampled run. */
  sample: number;
  /** Seeds the sample, so a run can be repeated. */
  seed: string;
}

async function sha256Of(vault: VaultStore, blob: string): Promise<{ sha256: string; length: number }> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of await vault.openItemVersion(blob)) {
    hash.update(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), length };
}

/** A stable pseudo-random score per item, so a sample is spread over the mailbox and repeatable. */
function score(seed: string, id: string): number {
  return createHash('sha256').update(seed).update(id).digest().readUInt32BE(0);
}

/**
 * Checks what the vault promises. Full: every committed snapshot's manifest against its recorded SHA-256,
 * every manifest entry against its blob (present, and re-hashed: each version once). Sample: the newest
 * snapshot's manifest, and `sample` of its versions re-hashed. Problems name the snapshot, item and blob.
 */
export async function verifyMailbox(vault: VaultStore, input: VerifyInput): Promise<VerifyResult> {
  const records: SnapshotRecord[] = [];
  for await (const name of vault.listNames(layout.byKey.snapshots(input.mailboxKey))) {
    if (!name.endsWith('.json')) continue;
    const record = await vault.readJson<SnapshotRecord>(name);
    if (record) records.push(record);
  }
  records.sort((a, b) => b.takenAt.localeCompare(a.takenAt));
  const result: VerifyResult = {
    mailboxKey: input.mailboxKey,
    mailboxId: records[0]?.mailboxId ?? null,
    upn: records[0]?.upn ?? null,
    mode: input.mode,
    snapshotsChecked: 0,
    entriesChecked: 0,
    versionsHashed: 0,
    bytesHashed: 0,
    problems: [],
  };
  const checked = new Map<string, { sha256: string; length: number } | null>();
  const toCheck = input.mode === 'full' ? records : records.slice(0, 1);
  for (const record of toCheck) {
    result.snapshotsChecked++;
    // The manifest itself: present and unchanged since the commit.
    let manifestSha: string | undefined;
    try {
      manifestSha = (await sha256Of(vault, record.manifestBlob)).sha256;
    } catch {
      result.problems.push({ snapshotId: record.snapshotId, kind: 'manifestMissing', blob: record.manifestBlob });
      continue;
    }
    if (manifestSha !== record.manifestSha256) {
      result.problems.push({
        snapshotId: record.snapshotId,
        kind: 'manifestDamaged',
        blob: record.manifestBlob,
        expected: record.manifestSha256,
        actual: manifestSha,
      });
      continue;
    }
    const folders = new Map<string, ManifestFolder>();
    let items: ManifestItem[] = [];
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(record.manifestBlob)) {
      if (entry.kind === 'folder') folders.set(entry.id, entry);
      else items.push(entry);
    }
    if (input.mode === 'sample')
      items = items.sort((a, b) => score(input.seed, a.id) - score(input.seed, b.id)).slice(0, input.sample);
    for (const item of items) {
      result.entriesChecked++;
      let actual = checked.get(item.blob);
      if (actual === undefined) {
        const present = await vault.getItemVersion(item.blob);
        if (!present) actual = null;
        else {
          actual = await sha256Of(vault, item.blob);
          result.versionsHashed++;
          result.bytesHashed += actual.length;
        }
        checked.set(item.blob, actual);
      }
      const where = {
        snapshotId: record.snapshotId,
        itemId: item.id,
        folderPath: folderPathText(folders.get(item.folderId)?.path ?? []),
        ...(item.subject !== undefined ? { subject: item.subject } : {}),
        blob: item.blob,
      };
      if (actual === null) result.problems.push({ ...where, kind: 'missingBlob' });
      else if (actual.sha256 !== item.sha256)
        result.problems.push({ ...where, kind: 'checksumMismatch', expected: item.sha256, actual: actual.sha256 });
      else if (actual.length !== item.length)
        result.problems.push({
          ...where,
          kind: 'sizeMismatch',
          expected: String(item.length),
          actual: String(actual.length),
        });
    }
  }
  return result;
}
