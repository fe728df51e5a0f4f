import { layout } from '../vault/layout.js';
import { createHash } from 'node:crypto';
import { folderPathText } from '../mailbox/index.js';
import type { ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { readSnapshotRecords } from '../vault/snapshotCatalog.js';

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

/** A blob's SHA-256 and length, as its bytes read back now. */
type Hashed = { sha256: string; length: number };

async function sha256Of(vault: VaultStore, blob: string): Promise<Hashed> {
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
  const records = await readSnapshotRecords(vault, layout.byKey.snapshots(input.mailboxKey));
  records.sort((a, b) => b.takenAt.localeCompare(a.takenAt));
  const verification = new MailboxVerification(vault, input, records[0]);
  for (const record of input.mode === 'full' ? records : records.slice(0, 1)) await verification.checkSnapshot(record);
  return verification.result;
}

/** One mailbox's verification: the result it adds to, and each version's hash, so a version is hashed once. */
class MailboxVerification {
  readonly result: VerifyResult;
  /** Blob → its hash, or null when the blob is missing. */
  private readonly hashed = new Map<string, Hashed | null>();

  constructor(
    private readonly vault: VaultStore,
    private readonly input: VerifyInput,
    newest: SnapshotRecord | undefined,
  ) {
    this.result = {
      mailboxKey: input.mailboxKey,
      mailboxId: newest?.mailboxId ?? null,
      upn: newest?.upn ?? null,
      mode: input.mode,
      snapshotsChecked: 0,
      entriesChecked: 0,
      versionsHashed: 0,
      bytesHashed: 0,
      problems: [],
    };
  }

  /**
   * Streams the manifest (folders come first): in full mode each item is checked as it comes; in sample mode only
   * the `sample` lowest-scored items are kept while reading (memory: the sample, not the mailbox).
   */
  async checkSnapshot(record: SnapshotRecord): Promise<void> {
    this.result.snapshotsChecked++;
    if (!(await this.checkManifest(record))) return;
    const folders = new Map<string, ManifestFolder>();
    const sample = new LowestScored<ManifestItem>(this.input.sample);
    for await (const entry of this.vault.readNdjsonGz<ManifestEntry>(record.manifestBlob)) {
      if (entry.kind === 'folder') folders.set(entry.id, entry);
      else if (this.input.mode === 'sample') sample.offer(score(this.input.seed, entry.id), entry);
      else await this.checkItem(record, folders, entry);
    }
    for (const item of sample.inOrder()) await this.checkItem(record, folders, item);
  }

  /** The manifest itself: present and unchanged since the commit. False when its entries cannot be trusted. */
  private async checkManifest(record: SnapshotRecord): Promise<boolean> {
    const { snapshotId, manifestBlob: blob } = record;
    let manifestSha: string;
    try {
      manifestSha = (await sha256Of(this.vault, blob)).sha256;
    } catch {
      this.result.problems.push({ snapshotId, kind: 'manifestMissing', blob });
      return false;
    }
    if (manifestSha === record.manifestSha256) return true;
    this.result.problems.push({
      snapshotId,
      kind: 'manifestDamaged',
      blob,
      expected: record.manifestSha256,
      actual: manifestSha,
    });
    return false;
  }

  /** An entry against its blob: present, same hash, same length; the first difference is the problem. */
  private async checkItem(
    record: SnapshotRecord,
    folders: Map<string, ManifestFolder>,
    item: ManifestItem,
  ): Promise<void> {
    this.result.entriesChecked++;
    const actual = await this.hashOnce(item.blob);
    const where = {
      snapshotId: record.snapshotId,
      itemId: item.id,
      folderPath: folderPathText(folders.get(item.folderId)?.path ?? []),
      ...(item.subject !== undefined ? { subject: item.subject } : {}),
      blob: item.blob,
    };
    if (actual === null) this.result.problems.push({ ...where, kind: 'missingBlob' });
    else if (actual.sha256 !== item.sha256)
      this.result.problems.push({ ...where, kind: 'checksumMismatch', expected: item.sha256, actual: actual.sha256 });
    else if (actual.length !== item.length)
      this.result.problems.push({
        ...where,
        kind: 'sizeMismatch',
        expected: String(item.length),
        actual: String(actual.length),
      });
  }

  /** A version's hash, computed the first time a manifest names it; null when the blob is missing. */
  private async hashOnce(blob: string): Promise<Hashed | null> {
    const known = this.hashed.get(blob);
    if (known !== undefined) return known;
    let actual: Hashed | null = null;
    if (await this.vault.getItemVersion(blob)) {
      actual = await sha256Of(this.vault, blob);
      this.result.versionsHashed++;
      this.result.bytesHashed += actual.length;
    }
    this.hashed.set(blob, actual);
    return actual;
  }
}

/**
 * The `size` records of lowest score among those offered, ties to the earlier: the same pick as sorting every
 * record by score and taking the first `size`, holding only `size` of them.
 */
class LowestScored<T> {
  private readonly kept: Array<{ score: number; record: T }> = [];

  constructor(private readonly size: number) {}

  offer(score: number, record: T): void {
    if (this.size <= 0) return;
    if (this.kept.length >= this.size && score >= this.kept[this.kept.length - 1]!.score) return;
    let at = this.kept.length;
    while (at > 0 && this.kept[at - 1]!.score > score) at--;
    this.kept.splice(at, 0, { score, record });
    if (this.kept.length > this.size) this.kept.pop();
  }

  inOrder(): T[] {
    return this.kept.map(({ record }) => record);
  }
}
