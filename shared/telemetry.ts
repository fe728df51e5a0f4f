import { readRunReportPage } from './backup/report.js';
import type { MailboxRunResult, RunReport } from './backup/types.js';
import type { MaintenanceReport } from './maintenance/report.js';
import type { DeletionCheck } from './massDeletion.js';
import type { VaultStore } from './vault/vaultStore.js';
import { keyOf } from './vault/layout.js';

/**
 * Each run's outcome as structured telemetry, for the alert rules in infra/app/alerts.bicep (their queries are in
 * infra/alerts/). An event is one log line: a fixed prefix, then JSON. The Functions host sends the app's log
 * lines to Application Insights as traces with the identity it already uses, so no SDK, key or second pipeline
 * is needed; host.json keeps traces out of sampling, so an alert never misses an event.
 */

export const TELEMETRY_PREFIX = 'mailbox-vault.telemetry ';

export const TELEMETRY_EVENTS = {
  backupRunFinished: 'BackupRunFinished',
  mailboxBackupFinished: 'MailboxBackupFinished',
  maintenanceRunFinished: 'MaintenanceRunFinished',
} as const;

export type TelemetryEvent = { name: string } & Record<string, string | number | boolean | null>;

export type TelemetrySink = { info(line: string): void; warn(line: string): void };

export function formatTelemetry(event: TelemetryEvent): string {
  return TELEMETRY_PREFIX + JSON.stringify(event);
}

/** The events in a set of log lines (the inverse of formatTelemetry), for tests and tools reading logs. */
export function parseTelemetry(lines: Iterable<string>): TelemetryEvent[] {
  return [...lines]
    .filter((line) => line.startsWith(TELEMETRY_PREFIX))
    .map((line) => JSON.parse(line.slice(TELEMETRY_PREFIX.length)) as TelemetryEvent);
}

/** One event per mailbox, then the run's. */
export function backupRunEvents(report: RunReport, deletions: Map<string, DeletionCheck>): TelemetryEvent[] {
  const mailboxes = report.mailboxes.map((m) => mailboxBackupEvent(report.runId, m, deletions.get(m.mailboxId)));
  const massDeletions = [...deletions.values()].filter((d) => d.massDeletion).length;
  return [...mailboxes, backupRunEvent(report, massDeletions)];
}

export function mailboxBackupEvent(
  runId: string,
  m: MailboxRunResult,
  deletion: DeletionCheck | undefined,
): TelemetryEvent {
  return {
    name: TELEMETRY_EVENTS.mailboxBackupFinished,
    runId,
    mailbox: keyOf(m.mailboxId),
    upn: m.upn,
    status: m.status,
    snapshotId: m.snapshotId,
    itemsInSnapshot: m.items.inSnapshot,
    itemsExported: m.items.exported,
    itemsFailed: m.items.failed,
    removed: m.items.removed,
    usualRemoved: deletion?.usualRemoved ?? null,
    massDeletion: deletion?.massDeletion ?? false,
    error: m.error ?? null,
    // A mailbox skipped because another run was backing it up: that run's event carries its snapshot.
    skippedFor: m.skippedFor ?? null,
  };
}

export function backupRunEvent(report: RunReport, massDeletions: number): TelemetryEvent {
  return {
    name: TELEMETRY_EVENTS.backupRunFinished,
    runId: report.runId,
    trigger: report.trigger,
    status: report.status,
    mailboxes: report.totals.mailboxes,
    failedMailboxes: report.totals.failedMailboxes,
    itemsExported: report.totals.itemsExported,
    itemsFailed: report.totals.itemsFailed,
    massDeletions,
    warnings: report.warnings.length,
  };
}

export function maintenanceRunEvent(report: MaintenanceReport): TelemetryEvent {
  return {
    name: TELEMETRY_EVENTS.maintenanceRunFinished,
    id: report.id,
    trigger: report.trigger,
    status: report.status,
    verifyProblems: report.verify?.totals.problems ?? 0,
    snapshotsChecked: report.verify?.totals.snapshotsChecked ?? 0,
    versionsDeleted: report.prune?.totals.versionsDeleted ?? 0,
    errors: report.errors.length,
  };
}

/**
 * Emits a backup run's events once its report is written: each mailbox's, read from the report pages one page at
 * a time (their deletions were judged when the page was gathered; a check that failed is a warning), then the run's.
 */
export async function emitBackupTelemetry(vault: VaultStore, report: RunReport, sink: TelemetrySink): Promise<void> {
  let massDeletions = 0;
  const pages = report.pages?.count ?? (report.totals.mailboxes > 0 ? 1 : 0);
  for (let page = 0; page < pages; page++) {
    const { mailboxes, deletions, deletionWarnings } = await readRunReportPage(vault, report.runId, page);
    for (const warning of deletionWarnings) sink.warn(warning);
    for (const m of mailboxes) {
      const deletion = deletions[m.mailboxId];
      if (deletion?.massDeletion) massDeletions++;
      sink.info(formatTelemetry(mailboxBackupEvent(report.runId, m, deletion)));
    }
  }
  sink.info(formatTelemetry(backupRunEvent(report, massDeletions)));
}

export function emitMaintenanceTelemetry(report: MaintenanceReport, sink: TelemetrySink): void {
  sink.info(formatTelemetry(maintenanceRunEvent(report)));
}
