import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { ItemTable, pageText } from '../components/ItemTable.js';
import { MailboxPicker } from '../components/MailboxPicker.js';
import { count, formatBytes, formatTime } from '../format.js';
import { setRestoreDraft } from '../restoreDraft.js';
import { navigate } from '../router.js';
import type { Item, Snapshot } from '../types.js';
import { useApi } from '../useApi.js';

const KINDS = ['added', 'changed', 'deleted', 'moved'] as const;
type Kind = (typeof KINDS)[number];
type Counts = Record<Kind, number>;

interface Comparison {
  from: { id: string; takenAt: string };
  to: { id: string; takenAt: string };
  folders: Array<Counts & { folderPath: string }>;
  totals: Counts;
}

const PAGE_SIZE = 50;

/** The items behind one count, a page at a time. */
function ChangedItems(props: { base: string; kind: Kind; folderPath: string }) {
  const [skip, setSkip] = useState(0);
  const { data, error, loading } = useApi<{ total: number; items: Item[] }>(
    `compare/items?${props.base}&${query({ kind: props.kind, folder: props.folderPath, top: PAGE_SIZE, skip })}`,
  );
  return (
    <section aria-labelledby="changed-heading">
      <h2 id="changed-heading">
        {props.kind[0]!.toUpperCase() + props.kind.slice(1)} in {props.folderPath || '(root)'}
      </h2>
      <ErrorBox error={error} />
      {loading && <p aria-live="polite">Loading…</p>}
      {data && (
        <>
          <ItemTable items={data.items} caption={pageText(skip, data.items.length, data.total)} showFolder />
          <div class="pager">
            <button type="button" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE_SIZE))}>
              Previous page
            </button>
            <button type="button" disabled={skip + PAGE_SIZE >= data.total} onClick={() => setSkip(skip + PAGE_SIZE)}>
              Next page
            </button>
          </div>
        </>
      )}
    </section>
  );
}

/** What changed between two snapshots of a mailbox, counts per folder first, and restoring what went missing. */
export function Compare({ initialMailbox }: { initialMailbox: string }) {
  const [mailbox, setMailbox] = useState(initialMailbox);
  const snapshots = useApi<{ snapshots: Snapshot[] }>(mailbox ? `snapshots?${query({ mailbox })}` : null);
  const [pair, setPair] = useState({ from: '', to: '' });
  const [result, setResult] = useState<{ base: string; comparison: Comparison }>();
  const [shown, setShown] = useState<{ kind: Kind; folderPath: string }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const list = snapshots.data?.snapshots ?? [];
  useEffect(() => setPair({ from: list[1]?.id ?? list[0]?.id ?? '', to: list[0]?.id ?? '' }), [snapshots.data]);
  const compare = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setShown(undefined);
    const base = query({ mailbox, from: pair.from, to: pair.to });
    try {
      setResult({ base, comparison: await api<Comparison>(`compare?${base}`) });
    } catch (err) {
      setError(err);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  };
  const restoreMissing = async (folderPath?: string) => {
    setError(undefined);
    try {
      const missing = await api<{
        snapshot: string;
        total: number;
        itemIds: string[];
        bytes: number;
        truncated: boolean;
      }>(`compare/missing?${result!.base}${folderPath !== undefined ? `&${query({ folder: folderPath })}` : ''}`);
      if (!missing.itemIds.length)
        throw new Error('Nothing is missing: every item of the older snapshot is still there.');
      setRestoreDraft({
        sourceMailbox: mailbox,
        snapshot: missing.snapshot,
        itemIds: missing.itemIds,
        description: `${count(missing.itemIds.length)} item(s) (${formatBytes(missing.bytes)}) of the snapshot of ${formatTime(result!.comparison.from.takenAt)} missing from the snapshot of ${formatTime(result!.comparison.to.takenAt)}${missing.truncated ? ` — the first ${count(missing.itemIds.length)} of ${count(missing.total)}; restore the rest by folder` : ''}`,
      });
      navigate('/restore');
    } catch (err) {
      setError(err);
    }
  };
  const snapshotSelect = (id: string, label: string, value: string, onChange: (v: string) => void) => (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {list.map((s) => (
          <option key={s.id} value={s.id}>
            {formatTime(s.takenAt)} ({count(s.items)} items)
          </option>
        ))}
      </select>
    </div>
  );
  const c = result?.comparison;
  return (
    <>
      <h1>Compare snapshots</h1>
      <form onSubmit={compare} class="grid">
        <MailboxPicker id="compare-mailbox" label="Mailbox" value={mailbox} onChange={setMailbox} />
        {snapshotSelect('compare-from', 'Older snapshot', pair.from, (from) => setPair({ ...pair, from }))}
        {snapshotSelect('compare-to', 'Newer snapshot', pair.to, (to) => setPair({ ...pair, to }))}
        <div class="field">
          <button type="submit" disabled={busy || !pair.from || !pair.to}>
            {busy ? 'Comparing…' : 'Compare'}
          </button>
        </div>
      </form>
      <ErrorBox error={snapshots.error ?? error} />
      {c && (
        <section aria-labelledby="changes-heading">
          <h2 id="changes-heading">Changes per folder</h2>
          <p aria-live="polite">
            From {formatTime(c.from.takenAt)} to {formatTime(c.to.takenAt)}:{' '}
            {KINDS.map((k) => `${count(c.totals[k])} ${k}`).join(', ')}.
          </p>
          <button type="button" disabled={c.totals.deleted === 0} onClick={() => void restoreMissing()}>
            Restore what is missing ({count(c.totals.deleted)} items)
          </button>
          {c.folders.length === 0 ? (
            <p>The two snapshots hold the same items.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Folder</th>
                  {KINDS.map((k) => (
                    <th scope="col" key={k}>
                      {k[0]!.toUpperCase() + k.slice(1)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {c.folders.map((f) => (
                  <tr key={f.folderPath}>
                    <th scope="row">{f.folderPath || '(root)'}</th>
                    {KINDS.map((k) => (
                      <td key={k}>
                        {f[k] === 0 ? (
                          '0'
                        ) : (
                          <button
                            type="button"
                            class="link"
                            aria-label={`${count(f[k])} ${k} in ${f.folderPath || 'the root'}: show them`}
                            onClick={() => setShown({ kind: k, folderPath: f.folderPath })}
                          >
                            {count(f[k])}
                          </button>
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {shown && (
            <>
              <ChangedItems key={`${shown.kind}-${shown.folderPath}`} base={result!.base} {...shown} />
              {shown.kind === 'deleted' && (
                <button type="button" onClick={() => void restoreMissing(shown.folderPath)}>
                  Restore what is missing in {shown.folderPath || '(root)'}
                </button>
              )}
            </>
          )}
        </section>
      )}
    </>
  );
}
