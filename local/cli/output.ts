import type { DownloadReport } from '../../shared/download/types.js';
/* eslint-disable @typescript-eslint/no-explicit-any -- reports arrive as JSON; their lines read them loosely */

/** Results go to stdout, progress and problems to stderr. */
export const out = (text: string) => process.stdout.write(`${text}\n`);
export const err = (text: string) => process.stderr.write(`${text}\n`);

type Report = Record<string, any>;

/** An API problem response as text: its title and each listed error. */
export function describeProblem(body: Record<string, unknown>): string {
  const error = body.error as { title?: string; errors?: string[]; rule?: string } | undefined;
  const title = `${error?.title ?? 'The request failed'}${error?.rule ? ` (rule: ${error.rule})` : ''}`;
  return [title, ...(error?.errors ?? []).map((e) => `  - ${e}`)].join('\n');
}

/** The audit trail's records, one line each: when, who (and roles), what, outcome. */
export function printAudit(body: Record<string, unknown>): void {
  const records = (body.records as Report[] | undefined) ?? [];
  if (!records.length) out(`No audit records from ${body.since} to ${body.until}`);
  for (const r of records) {
    const who = `${r.who?.name ?? r.who?.oid} [${(r.who?.roles ?? []).join(',') || 'no role'}]`;
    const outcome = r.outcome === 'accepted' ? 'accepted' : `${r.outcome} ${r.status}${r.rule ? ` (${r.rule})` : ''}`;
    const subject = r.subject ? ` ${r.subject}` : '';
    out(`${r.at}  ${r.action}${subject}  by ${who} from ${r.clientAddress ?? 'unknown address'}: ${outcome}`);
  }
  if (body.truncated) out('(more records in this range: narrow it with --since/--until or raise --limit)');
}

/** A finished run (backup, restore, download or maintenance) as text, and whether it failed. */
export function resultOf(kind: string, body: Record<string, unknown>): { failed: boolean; lines: string[] } {
  const report = body.report as Report | null;
  const status = String(body.status ?? report?.status ?? body.runtimeStatus);
  const lines = [`${kind} ${body.id}: ${status}`];
  if (kind === 'backup' && report) lines.push(...backupLines(report));
  if (kind === 'restore' && report) lines.push(...restoreLines(report));
  if (kind === 'maintenance' && report) lines.push(...maintenanceLines(report));
  if (kind === 'download' && report) lines.push(...downloadLines(report as unknown as DownloadReport));
  // The link's host is the app that answered: in-process, one gone with the command, so its path is shown.
  const file = body.download as { url: string; bytes: number; expiresAt: string } | null | undefined;
  if (kind === 'download' && file)
    lines.push(`  file: ${file.bytes} bytes, until ${file.expiresAt} (GET ${new URL(file.url).pathname})`);
  if (!report && body.error) lines.push(`  ${String(body.error)}`);
  return { failed: status !== 'Completed', lines };
}

function downloadLines(report: DownloadReport): string[] {
  const c = report.counts;
  const lines = [
    `  ${c.selected} selected, ${c.converted} converted to ${report.format.toUpperCase()}, ${c.notDownloadable} not downloadable, ${c.failed} failed`,
  ];
  for (const n of report.notDownloadable)
    lines.push(`  not downloadable: ${n.folderPath} ${n.subject ?? n.sourceItemId}: ${n.reason}`);
  for (const f of report.failures)
    lines.push(`  failed: ${f.folderPath} ${f.subject ?? f.sourceItemId}: ${f.code} ${f.message}`);
  return lines;
}

function backupLines(report: Report): string[] {
  const lines: string[] = [];
  for (const m of report.mailboxes ?? [])
    lines.push(
      `  ${m.status.padEnd(19)} ${m.upn}${m.archiveOf ? ' (archive)' : ''}  ${m.items.inSnapshot} items in snapshot ${m.snapshotId ?? '-'}, ${m.items.exported} exported, ${m.items.failed} failed${m.error ? ` (${m.error})` : ''}`,
    );
  for (const w of report.warnings ?? []) lines.push(`  warning: ${w}`);
  if (report.archives?.reason) lines.push(`  note: ${report.archives.reason}`);
  for (const m of report.mailboxes ?? [])
    for (const f of m.failures ?? [])
      lines.push(`  failed: ${m.upn} ${f.folderPath} ${f.subject ?? f.itemId}: ${f.code} ${f.message}`);
  return lines;
}

function restoreLines(report: Report): string[] {
  const c = report.counts;
  const lines = [
    `  ${c.selected} selected, ${c.imported} imported, ${c.skippedAlreadyPresent} already present, ${c.failed} failed; into ${report.target.upn ?? report.target.mailboxId} under '${report.destination.root || '(original folders)'}'`,
  ];
  for (const w of report.warnings ?? [])
    lines.push(`  warning: ${w.sourceItemId ? `${w.sourceItemId}: ` : ''}${w.code} ${w.message}`);
  for (const f of report.failures ?? [])
    lines.push(`  failed: ${f.folderPath} ${f.subject ?? f.sourceItemId}: ${f.code} ${f.message}`);
  return lines;
}

function maintenanceLines(report: Report): string[] {
  const lines = [
    ...(report.prune ? pruneLines(report.prune) : []),
    ...(report.verify ? verifyLines(report.verify) : []),
  ];
  for (const e of report.errors ?? []) lines.push(`  error: ${e.mailboxKey} ${e.step}: ${e.message}`);
  return lines;
}

function pruneLines(prune: Report): string[] {
  const t = prune.totals;
  const would = prune.dryRun ? 'would be ' : '';
  const lines = [
    `  prune${prune.dryRun ? ' (dry run: nothing deleted)' : ''}: ${t.snapshotsExpired} snapshots expired, ${t.versionsDeleted} item versions ${would}deleted, ${(t.bytesFreed / 1024 / 1024).toFixed(1)} MB ${would}freed, ${t.immutableLeft} left under a retention policy`,
  ];
  for (const m of prune.mailboxes)
    for (const i of m.immutable) lines.push(`  immutable: ${m.upn ?? m.mailboxKey} ${i.blob} (${i.reason})`);
  const a = prune.artifacts;
  if (a) {
    // A report written before downloads expired has no `downloads`.
    const deleted = Object.values(a.deleted as Record<string, string[] | undefined>);
    const folders = deleted.reduce((sum, ids) => sum + (ids?.length ?? 0), 0);
    lines.push(
      `  run artifacts before ${a.horizon}: ${folders} runs, restores, downloads and maintenance runs ${would}deleted (${a.blobsDeleted} blobs), ${a.running.length} still running left alone`,
    );
    if (a.downloadsKept?.length)
      lines.push(`  downloads kept while their file's link is valid: ${a.downloadsKept.join(', ')}`);
    for (const i of a.immutable) lines.push(`  immutable: ${i.blob} (${i.reason})`);
  }
  return lines;
}

function verifyLines(verify: Report): string[] {
  const t = verify.totals;
  const lines = [
    `  verify (${verify.mode}): ${t.snapshotsChecked} snapshots, ${t.entriesChecked} entries checked, ${t.versionsHashed} versions re-hashed, ${t.problems} problems`,
  ];
  for (const m of verify.mailboxes)
    for (const p of m.problems)
      lines.push(
        `  problem: ${m.upn ?? m.mailboxKey} snapshot ${p.snapshotId} ${p.kind} ${p.folderPath ?? ''} ${p.subject ?? p.itemId ?? ''} ${p.blob}`,
      );
  return lines;
}

export function printSnapshots(body: Record<string, unknown>): void {
  const snapshots = body.snapshots as Array<Record<string, unknown>>;
  if (!snapshots.length) out('No committed snapshots.');
  for (const s of snapshots)
    out(
      `${s.id}  taken ${s.takenAt}  ${String(s.status).padEnd(18)} ${s.items} items in ${s.folders} folders, ${(Number(s.bytes) / 1024 / 1024).toFixed(1)} MB${Number(s.failedItems) ? `, ${s.failedItems} failed` : ''}`,
    );
}

export function printItems(body: Record<string, unknown>): void {
  const b = body as {
    folder: { path: string[]; items: number };
    folders: Array<{ name: string; items: number }>;
    items: Array<Record<string, unknown>>;
    nextLink?: string;
  };
  out(`/${b.folder.path.join('/')}  (${b.folder.items} items)`);
  for (const f of b.folders) out(`  [${f.name}]  ${f.items} items`);
  for (const i of b.items)
    out(
      `  ${String(i.receivedDateTime ?? i.createdDateTime ?? '').slice(0, 16)}  ${String(i.sender ?? '').padEnd(28)} ${i.subject ?? '(no subject)'}  ${i.id}`,
    );
  if (b.nextLink) out(`  … more: --skip ${new URL(b.nextLink).searchParams.get('skip')}`);
}
