import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { count, formatBytes } from '../format.js';
import type { RestoreStatus } from '../types.js';

const POLL_MS = 1000;
const FINISHED = new Set(['Completed', 'CompletedWithErrors', 'Failed', 'Canceled']);

function progressText(status: RestoreStatus): string {
  const p = status.progress;
  if (!p?.phase) return 'Starting';
  if (p.phase === 'importing') return `Importing: ${p.batchesDone ?? 0} of ${p.batchCount ?? '?'} batches`;
  if (p.phase === 'planning') return 'Planning: finding what to import';
  if (p.phase === 'reporting') return 'Writing the report';
  return p.phase;
}

/** A restore as it runs (polled), then its report with every failure named. */
export function RestoreProgress({ id }: { id: string }) {
  const [status, setStatus] = useState<RestoreStatus>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let active = true;
    const poll = async () => {
      try {
        const next = await api<RestoreStatus>(`restores/${encodeURIComponent(id)}`);
        if (!active) return;
        setStatus(next);
        setError(undefined);
        if (FINISHED.has(next.status) && next.report) return;
      } catch (err) {
        if (!active) return;
        setError(err);
      }
      timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      active = false;
      clearTimeout(timer);
    };
  }, [id]);
  const cancel = async () => {
    try {
      await api(`restores/${encodeURIComponent(id)}`, { method: 'DELETE' });
    } catch (err) {
      setError(err);
    }
  };
  const report = status?.report;
  const p = status?.progress;
  return (
    <>
      <h1>Restore {id}</h1>
      <ErrorBox error={error} />
      {status && (
        <>
          <p class="big" role="status">
            Status: <strong data-testid="restore-status">{status.status}</strong>
            {!report && ` — ${progressText(status)}`}
          </p>
          {!report && p?.batchCount ? (
            <progress max={p.batchCount} value={p.batchesDone ?? 0} aria-label="Batches imported" />
          ) : null}
          {!report && (
            <button type="button" onClick={() => void cancel()}>
              Cancel restore
            </button>
          )}
        </>
      )}
      {report && (
        <section aria-labelledby="report-heading">
          <h2 id="report-heading">Report</h2>
          <dl>
            <dt>From</dt>
            <dd>
              {report.source.upn}, snapshot {report.source.snapshotId}
            </dd>
            <dt>Into</dt>
            <dd>
              {report.target.upn}, {report.destination.root}
            </dd>
            <dt>Selected</dt>
            <dd>{count(report.counts.selected)}</dd>
            <dt>Imported</dt>
            <dd>
              {count(report.counts.imported)} ({formatBytes(report.bytesImported)})
            </dd>
            <dt>Already there (skipped)</dt>
            <dd>{count(report.counts.skippedAlreadyPresent)}</dd>
            <dt>Failed</dt>
            <dd>{count(report.counts.failed)}</dd>
          </dl>
          {report.error && <p role="alert">{report.error}</p>}
          {report.failures.length > 0 && (
            <table>
              <caption>Every item that failed</caption>
              <thead>
                <tr>
                  <th scope="col">Folder</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {report.failures.map((f) => (
                  <tr key={f.sourceItemId}>
                    <td>{f.folderPath}</td>
                    <td>{f.subject ?? f.sourceItemId}</td>
                    <td>
                      {f.code}: {f.message}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {report.warnings.length > 0 && (
            <ul class="warnings" aria-label="Warnings">
              {report.warnings.map((w, i) => (
                <li key={i}>
                  {w.code}: {w.message}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </>
  );
}
