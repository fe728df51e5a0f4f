import { ErrorBox } from '../components/ErrorBox.js';
import { NightChart } from '../components/NightChart.js';
import { count, formatAge, formatBytes, formatTime } from '../format.js';
import { href } from '../router.js';
import type { Dashboard as DashboardData, RunSummary } from '../types.js';
import { useApi } from '../useApi.js';

const COUNT_LABELS: Record<string, string> = {
  mailboxes: 'mailboxes',
  failedMailboxes: 'failed mailboxes',
  itemsExported: 'items',
  itemsFailed: 'failed items',
  selected: 'selected',
  imported: 'imported',
  skippedAlreadyPresent: 'already there',
  failed: 'failed',
  snapshotsExpired: 'snapshots expired',
  snapshotsChecked: 'snapshots checked',
  problems: 'problems',
};

function countsText(run: RunSummary): string {
  return Object.entries(run.counts)
    .map(([k, v]) => (k.startsWith('bytes') ? formatBytes(v) : `${count(v)} ${COUNT_LABELS[k] ?? k}`))
    .join(', ');
}

function statusClass(status: string): string {
  if (status === 'Completed') return 'ok';
  if (status === 'Running') return 'running';
  return 'bad';
}

function Runs({ runs }: { runs: RunSummary[] }) {
  if (!runs.length) return <p>No run yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Started</th>
          <th scope="col">Status</th>
          <th scope="col">Counts</th>
          <th scope="col">Failures</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id}>
            <td>{run.kind === 'restore' ? <a href={href(`/restores/${run.id}`)}>{run.id}</a> : run.id}</td>
            <td>{formatTime(run.startedAt)}</td>
            <td>
              <span class={`status ${statusClass(run.status)}`}>{run.status}</span>
            </td>
            <td>{countsText(run)}</td>
            <td>
              {run.failures.length === 0 ? (
                'none'
              ) : (
                <details>
                  <summary>{run.failures.length} failure(s)</summary>
                  <ul>
                    {run.failures.map((f, i) => (
                      <li key={i}>{f}</li>
                    ))}
                  </ul>
                </details>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Mailboxes({ data }: { data: DashboardData }) {
  return (
    <table>
      <caption>
        A newest snapshot older than {Math.round(data.maxAgeHours)} h is late under the schedule{' '}
        <code>{data.schedule}</code>.
      </caption>
      <thead>
        <tr>
          <th scope="col">Mailbox</th>
          <th scope="col">Newest snapshot</th>
          <th scope="col">Age</th>
          <th scope="col">Items</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {data.mailboxes.map((m) => (
          <tr key={`${m.upn}-${m.mailboxId}`} class={m.stale ? 'stale' : undefined}>
            <td>
              {m.mailboxId && !m.archiveOf ? (
                <a href={href(`/mailbox/${encodeURIComponent(m.upn)}`)}>{m.upn}</a>
              ) : (
                m.upn
              )}
              {m.archiveOf ? ' (archive)' : ''}
            </td>
            <td>{formatTime(m.last?.takenAt)}</td>
            <td>
              {formatAge(m.ageHours)}
              {m.stale && <span class="badge">Late</span>}
            </td>
            <td>{m.last ? count(m.last.items) : '—'}</td>
            <td>{m.last?.status ?? m.note ?? 'no snapshot'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Unusual({ data }: { data: DashboardData }) {
  if (!data.unusualNights.length) return <p>No night's deletions or changes were far above a mailbox's usual rate.</p>;
  return (
    <ul class="warnings">
      {data.unusualNights.map((n) => (
        <li key={`${n.runId}-${n.upn}`}>
          <strong>{formatTime(n.startedAt)}</strong> {n.upn}:{' '}
          {n.massDeletion && `${count(n.removed)} items deleted (usually ${n.usualRemoved ?? 'unknown'}) `}
          {n.massChange && `${count(n.changed)} items changed (usually ${n.usualChanged ?? 'unknown'}) `}— a mass
          deletion, a compromised account or ransomware?{' '}
          <a href={href('/compare', { mailbox: n.upn })}>Compare its snapshots</a>
        </li>
      ))}
    </ul>
  );
}

function Verification({ data }: { data: DashboardData }) {
  const v = data.verification;
  if (!v.maintenanceId) return <p>The vault has not been verified yet (maintenance runs verify it).</p>;
  return (
    <>
      <p>
        {v.maintenanceId} ({v.mode}) finished {formatTime(v.finishedAt)}: {count(v.snapshotsChecked)} snapshots checked,{' '}
        {v.problems.length ? `${v.problems.length} problem(s)` : 'no problems'}.
      </p>
      {v.problems.length > 0 && (
        <ul class="warnings">
          {v.problems.map((p, i) => (
            <li key={i}>
              {p.upn ?? 'unknown mailbox'} snapshot {p.snapshotId}: {p.kind} {p.folderPath ?? ''} {p.subject ?? p.blob}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** The admin's first page: what ran, how fresh each mailbox's backup is, what the nights added, what looks wrong. */
export function Dashboard() {
  const { data, error, loading, reload } = useApi<DashboardData>('dashboard');
  return (
    <>
      <h1>Dashboard</h1>
      <button type="button" onClick={reload} disabled={loading}>
        Refresh
      </button>
      <ErrorBox error={error} />
      {loading && !data && <p aria-live="polite">Loading…</p>}
      {data && (
        <>
          <section aria-labelledby="unusual-heading">
            <h2 id="unusual-heading">Unusual nights</h2>
            <Unusual data={data} />
          </section>
          <section aria-labelledby="runs-heading">
            <h2 id="runs-heading">Recent runs</h2>
            <Runs runs={data.runs} />
          </section>
          <section aria-labelledby="mailboxes-heading">
            <h2 id="mailboxes-heading">Mailboxes</h2>
            <Mailboxes data={data} />
          </section>
          <section aria-labelledby="nights-heading">
            <h2 id="nights-heading">Backed up per night</h2>
            <NightChart nights={data.nights} />
          </section>
          <section aria-labelledby="verification-heading">
            <h2 id="verification-heading">Verification</h2>
            <Verification data={data} />
          </section>
        </>
      )}
    </>
  );
}
