import type { RunReport } from '../backup/types.js';
import type { MaintenanceReport } from '../maintenance/report.js';
import type { RestoreReport } from '../restore/types.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

export type RunKind = 'backup' | 'restore' | 'maintenance';

/** One run as the dashboard lists it: what it did in numbers, and each failure named. */
export interface RunSummary {
  kind: RunKind;
  id: string;
  startedAt: string;
  finishedAt: string | null;
  /** The report's status; `Running` while a run has no report yet (or stopped before writing one). */
  status: string;
  counts: Record<string, number>;
  failures: string[];
}

/** Failures listed per run; the run's own status route names the rest. */
const FAILURES_LISTED = 50;

const FOLDERS: Record<RunKind, string> = { backup: 'runs/', restore: 'restores/', maintenance: 'maintenance/' };

/** `backup-20261123T020000Z-1a2b3c4d` → `2026-11-23T02:00:00Z`: every run id starts with its start time. */
export function startOfId(id: string): string | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : undefined;
}

/** Ids of a kind's runs in the vault, newest first (only folder names are listed, no report is read). */
export async function listRunIds(vault: VaultStore, kind: RunKind): Promise<string[]> {
  const ids: string[] = [];
  for await (const prefix of vault.listPrefixes(FOLDERS[kind])) {
    const id = prefix.slice(FOLDERS[kind].length).replace(/\/$/, '');
    if (id.startsWith(`${kind}-`) && startOfId(id)) ids.push(id);
  }
  return ids.sort((a, b) => startOfId(b)!.localeCompare(startOfId(a)!) || b.localeCompare(a));
}

/** The newest runs of every kind together, newest first, each summarized from its report. */
export async function listRecentRuns(vault: VaultStore, top: number, kinds: RunKind[]): Promise<RunSummary[]> {
  const newest = (
    await Promise.all(
      kinds.map(async (kind) => (await listRunIds(vault, kind)).slice(0, top).map((id) => ({ kind, id }))),
    )
  )
    .flat()
    .sort((a, b) => startOfId(b.id)!.localeCompare(startOfId(a.id)!))
    .slice(0, top);
  return Promise.all(newest.map(({ kind, id }) => summarizeRun(vault, kind, id)));
}

export async function summarizeRun(vault: VaultStore, kind: RunKind, id: string): Promise<RunSummary> {
  const blob =
    kind === 'backup'
      ? layout.runReport(id)
      : kind === 'restore'
        ? layout.restoreReport(id)
        : layout.maintenanceReport(id);
  const report = await vault.readJson<RunReport | RestoreReport | MaintenanceReport>(blob);
  const pending = {
    kind,
    id,
    startedAt: startOfId(id)!,
    finishedAt: null,
    status: 'Running',
    counts: {},
    failures: [],
  };
  if (!report) return pending;
  const summary =
    kind === 'backup'
      ? backupSummary(report as RunReport)
      : kind === 'restore'
        ? restoreSummary(report as RestoreReport)
        : maintenanceSummary(report as MaintenanceReport);
  return { ...pending, ...summary, failures: summary.failures.slice(0, FAILURES_LISTED) };
}

type Summarized = Pick<RunSummary, 'finishedAt' | 'status' | 'counts' | 'failures'>;

function backupSummary(report: RunReport): Summarized {
  const failures: string[] = [];
  for (const m of report.mailboxes) {
    if (m.status === 'Failed') failures.push(`${m.upn}: ${m.error ?? 'the mailbox was not backed up'}`);
    for (const f of m.failedFolders) failures.push(`${m.upn} ${f.folderPath}: ${f.reason}`);
    for (const f of m.failures)
      failures.push(`${m.upn} ${f.folderPath} '${f.subject ?? f.itemId}': ${f.code} ${f.message}`);
  }
  const t = report.totals;
  return {
    finishedAt: report.finishedAt,
    status: report.status,
    counts: {
      mailboxes: t.mailboxes,
      failedMailboxes: t.failedMailboxes,
      itemsExported: t.itemsExported,
      itemsFailed: t.itemsFailed,
      bytesExported: t.bytesExported,
    },
    failures,
  };
}

function restoreSummary(report: RestoreReport): Summarized {
  return {
    finishedAt: report.finishedAt,
    status: report.status,
    counts: { ...report.counts, bytesImported: report.bytesImported },
    failures: [
      ...(report.error ? [report.error] : []),
      ...report.failures.map((f) => `${f.folderPath} '${f.subject ?? f.sourceItemId}': ${f.code} ${f.message}`),
    ],
  };
}

function maintenanceSummary(report: MaintenanceReport): Summarized {
  const problems = (report.verify?.mailboxes ?? []).flatMap((m) =>
    m.problems.map(
      (p) => `${m.upn ?? m.mailboxKey} ${p.snapshotId}: ${p.kind} ${p.folderPath ?? ''} ${p.subject ?? p.blob}`,
    ),
  );
  return {
    finishedAt: report.finishedAt,
    status: report.status,
    counts: {
      snapshotsExpired: report.prune?.totals.snapshotsExpired ?? 0,
      bytesFreed: report.prune?.totals.bytesFreed ?? 0,
      snapshotsChecked: report.verify?.totals.snapshotsChecked ?? 0,
      problems: report.verify?.totals.problems ?? 0,
    },
    failures: [...problems, ...report.errors.map((e) => `${e.mailboxKey} ${e.step}: ${e.message}`)],
  };
}
