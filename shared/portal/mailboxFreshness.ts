import { Cron } from 'croner';
import { layout } from '../vault/layout.js';
import { entryOf, readDirectory, type DirectoryEntry } from '../vault/mailboxDirectory.js';
import type { SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { windowedMap } from '../windowedMap.js';

/**
 * Mailboxes looked up at once (two requests each). A tenant of 10,000 mailboxes asked all at once made 20,000
 * requests in flight: the page never answered and the storage account throttled everyone else.
 */
export const MAILBOXES_LOOKED_UP_AT_ONCE = 16;

/** A mailbox in the vault, its newest committed snapshot, and whether that is older than the schedule promises. */
export interface MailboxFreshness {
  /** Null for a mailbox in the backup scope of which the vault has no snapshot at all (also stale). */
  mailboxId: string | null;
  upn: string;
  archiveOf: string | null;
  snapshots: number;
  last: { snapshotId: string; takenAt: string; status: string; items: number; bytes: number } | null;
  ageHours: number | null;
  stale: boolean;
  /** Why a user of the scope has no snapshot, when the newest backup said (a user without a mailbox). */
  note?: string;
}

/**
 * The age a newest snapshot may reach before it is late: one and a half intervals of the backup schedule (a
 * nightly schedule promises a snapshot no older than 36 hours, leaving a night's run time to finish).
 */
export function promisedMaxAgeMs(schedule: string, now: Date): number {
  const [first, second] = new Cron(schedule, { paused: true, timezone: 'UTC' }).nextRuns(2, now);
  const interval = first && second ? second.getTime() - first.getTime() : 24 * 3600_000;
  return interval * 1.5;
}

/**
 * Every mailbox in the vault (primary and archive), by UPN. The directory answers for the mailboxes it has an
 * entry of (one listing for the tenant); the others are looked up one by one: their newest commit record.
 */
export async function listMailboxFreshness(
  vault: VaultStore,
  now: Date,
  maxAgeMs: number,
): Promise<MailboxFreshness[]> {
  const directory = await readDirectory(vault);
  const mailboxes: Array<MailboxFreshness | undefined> = [];
  const notInDirectory: string[] = [];
  for await (const prefix of vault.listPrefixes('mailboxes/')) {
    const key = prefix.slice('mailboxes/'.length, -1);
    const entry = directory.get(key);
    if (entry) mailboxes.push(freshnessFrom(entry, now, maxAgeMs));
    else notInDirectory.push(key);
  }
  const lookups = windowedMap(notInDirectory, MAILBOXES_LOOKED_UP_AT_ONCE, (key) =>
    freshnessOf(vault, key, now, maxAgeMs),
  );
  for await (const mailbox of lookups) mailboxes.push(mailbox);
  return mailboxes
    .filter((m): m is MailboxFreshness => m !== undefined)
    .sort((a, b) => a.upn.localeCompare(b.upn) || Number(a.archiveOf !== null) - Number(b.archiveOf !== null));
}

async function freshnessOf(
  vault: VaultStore,
  key: string,
  now: Date,
  maxAgeMs: number,
): Promise<MailboxFreshness | undefined> {
  // Commit records are named by snapshot id, which starts with the time: the last name listed is the newest.
  const names: string[] = [];
  for await (const name of vault.listNames(layout.byKey.snapshots(key)))
    if (/\/snapshots\/[^/]+\.json$/.test(name)) names.push(name);
  const newest = names.sort().at(-1);
  const record = newest ? await vault.readJson<SnapshotRecord>(newest) : undefined;
  if (!record) return undefined;
  return freshnessFrom({ ...entryOf([record])!, snapshots: names.length }, now, maxAgeMs);
}

function freshnessFrom(entry: DirectoryEntry, now: Date, maxAgeMs: number): MailboxFreshness {
  const { newest } = entry;
  const ageMs = now.getTime() - Date.parse(newest.takenAt);
  return {
    mailboxId: entry.mailboxId,
    upn: entry.upn,
    archiveOf: entry.archiveOf,
    snapshots: entry.snapshots,
    last: {
      snapshotId: newest.snapshotId,
      takenAt: newest.takenAt,
      status: newest.status === ('CompleteWithErrors' as string) ? 'CompletedWithErrors' : newest.status,
      items: newest.itemCount,
      bytes: newest.totalBytes,
    },
    ageHours: Math.round(ageMs / 360_000) / 10,
    stale: ageMs > maxAgeMs,
  };
}
