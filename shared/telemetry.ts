import pLimit from 'p-limit';
import type { RunReport } from './backup/types.js';
import { errorReason } from './errors.js';
import type { MaintenanceReport } from './maintenance/report.js';
import { checkDeletions, type DeletionCheck } from './massDeletion.js';
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
  const mailboxes = report.mailboxes.map((m): TelemetryEvent => {
    const deletion = deletions.get(m.mailboxId);
    return {
      name: TELEMETRY_EVENTS.mailboxBackupFinished,
      runId: report.runId,
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
  });
  const run: TelemetryEvent = {
    name: TELEMETRY_EVENTS.backupRunFinished,
    runId: report.runId,
    trigger: report.trigger,
    status: report.status,
    mailboxes: report.totals.mailboxes,
    failedMailboxes: report.totals.failedMailboxes,
    itemsExported: report.totals.itemsExported,
    itemsFailed: report.totals.itemsFailed,
    massDeletions: [...deletions.values()].filter((d) => d.massDeletion).length,
    warnings: report.warnings.length,
  };
  return [...mailboxes, run];
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
 * Emits a backup run's events, judging each backed-up mailbox's deletions against its history first. A failure to
 * read or write that history is a warning: the run's outcome is still reported.
 */
export async function emitBackupTelemetry(vault: VaultStore, report: RunReport, sink: TelemetrySink): Promise<void> {
  const deletions = new Map<string, DeletionCheck>();
  const limit = pLimit(16);
  await Promise.all(
    report.mailboxes
      .filter((m) => m.snapshotId !== null)
      .map((m) =>
        limit(async () => {
          try {
            deletions.set(m.mailboxId, await checkDeletions(vault, report.runId, m));
          } catch (error) {
            sink.warn(`Could not check ${m.upn}'s deletions against its history: ${errorReason(error)}`);
          }
        }),
      ),
  );
  for (const event of backupRunEvents(report, deletions)) sink.info(formatTelemetry(event));
}

export function emitMaintenanceTelemetry(report: MaintenanceReport, sink: TelemetrySink): void {
  sink.info(formatTelemetry(maintenanceRunEvent(report)));
}
