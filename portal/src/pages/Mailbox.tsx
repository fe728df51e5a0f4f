import { useState } from 'preact/hooks';
import { query } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { downloadItemAsEml, downloadSelection } from '../downloads.js';
import { ItemTable, itemKey, pageText } from '../components/ItemTable.js';
import { count, folderPathText, formatBytes, formatTime } from '../format.js';
import { restoreDraftFor } from '../restoreSelection.js';
import { href, navigate } from '../router.js';
import type { FolderPage, Item, Snapshot } from '../types.js';
import { useApi } from '../useApi.js';

const PAGE_SIZE = 50;

function Timeline(props: { upn: string; snapshots: Snapshot[]; current: string }) {
  return (
    <ol class="timeline">
      {props.snapshots.map((s) => (
        <li key={s.id}>
          <a
            href={href(`/mailbox/${encodeURIComponent(props.upn)}`, { snapshot: s.id })}
            aria-current={s.id === props.current ? 'true' : undefined}
          >
            {formatTime(s.takenAt)}
          </a>{' '}
          {count(s.items)} items, {formatBytes(s.bytes)}, {s.status}
          {s.failedItems ? `, ${s.failedItems} failed` : ''}
        </li>
      ))}
    </ol>
  );
}

/** One folder of a snapshot: its path, sub-folders with their counts, and a page of its items to select. */
function FolderView(props: { upn: string; snapshotId: string }) {
  const [folder, setFolder] = useState<string[]>([]);
  const [skip, setSkip] = useState(0);
  const [selected, setSelected] = useState(new Map<string, Item>());
  const path = `snapshots/${props.snapshotId}/items?${query({ mailbox: props.upn, folder: folderPathText(folder), top: PAGE_SIZE, skip })}`;
  const { data, error, loading } = useApi<FolderPage>(path);
  const open = (p: string[]) => (setFolder(p), setSkip(0));
  const toggle = (item: Item) => {
    const next = new Map(selected);
    if (next.has(itemKey(item))) next.delete(itemKey(item));
    else next.set(itemKey(item), item);
    setSelected(next);
  };
  const restoreItems = () => {
    restoreDraftFor(props.upn, props.snapshotId, [...selected.values()], 'in the mailbox view');
    navigate('/restore');
  };
  const [downloadError, setDownloadError] = useState<unknown>();
  const [downloading, setDownloading] = useState<string>();
  const download = async (run: () => Promise<void>) => {
    setDownloadError(undefined);
    try {
      await run();
    } catch (err) {
      setDownloadError(err);
    } finally {
      setDownloading(undefined);
    }
  };
  const downloadOne = (item: Item) => download(() => downloadItemAsEml(props.upn, props.snapshotId, item));
  const downloadSelected = (format: 'mbox' | 'zip') =>
    download(() => downloadSelection(props.upn, props.snapshotId, [...selected.values()], format, setDownloading));
  const restoreFolder = () => {
    restoreDraftFor(props.upn, props.snapshotId, [], 'in the mailbox view', [folderPathText(folder)]);
    navigate('/restore');
  };
  return (
    <section aria-labelledby="folder-heading">
      <h2 id="folder-heading">Folder {folder.length ? folder.join(' / ') : '(mailbox root)'}</h2>
      <nav aria-label="Folder path" class="breadcrumb">
        <button type="button" class="link" onClick={() => open([])}>
          Root
        </button>
        {folder.map((name, i) => (
          <span key={i}>
            {' / '}
            <button type="button" class="link" onClick={() => open(folder.slice(0, i + 1))}>
              {name}
            </button>
          </span>
        ))}
      </nav>
      <ErrorBox error={error} />
      {loading && <p aria-live="polite">Loading…</p>}
      {data && (
        <>
          {data.folders.length > 0 && (
            <ul class="folders" aria-label="Sub-folders">
              {data.folders.map((f) => (
                <li key={f.id}>
                  <button type="button" class="link" onClick={() => open(f.path)}>
                    {f.name}
                  </button>{' '}
                  ({count(f.items)} items)
                </li>
              ))}
            </ul>
          )}
          <div class="actions">
            <button type="button" disabled={selected.size === 0} onClick={restoreItems}>
              Restore {selected.size} selected item(s)
            </button>
            {folder.length > 0 && (
              <button type="button" onClick={restoreFolder}>
                Restore this folder
              </button>
            )}
            <button type="button" disabled={selected.size === 0} onClick={() => void downloadSelected('mbox')}>
              Download selected as MBOX
            </button>
            <button type="button" disabled={selected.size === 0} onClick={() => void downloadSelected('zip')}>
              Download selected as ZIP
            </button>
          </div>
          {downloading && <p aria-live="polite">{downloading}</p>}
          <ErrorBox error={downloadError} />
          <ItemTable
            items={data.items.map((i) => ({ ...i, snapshotId: props.snapshotId }))}
            caption={pageText(skip, data.items.length, data.folder.items)}
            selected={new Set(selected.keys())}
            onToggle={toggle}
            onDownload={(item) => void downloadOne(item)}
          />
          <div class="pager">
            <button type="button" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE_SIZE))}>
              Previous page
            </button>
            <button type="button" disabled={!data.nextLink} onClick={() => setSkip(skip + PAGE_SIZE)}>
              Next page
            </button>
          </div>
        </>
      )}
    </section>
  );
}

/** A mailbox: its snapshots over time, and the folders and items of the one chosen. */
export function Mailbox({ upn, snapshot }: { upn: string; snapshot: string | null }) {
  const { data, error } = useApi<{ snapshots: Snapshot[] }>(`snapshots?${query({ mailbox: upn })}`);
  const current = snapshot ?? data?.snapshots[0]?.id;
  return (
    <>
      <h1>Mailbox {upn}</h1>
      <p>
        <a href={href('/search', { mailbox: upn })}>Search this mailbox</a> ·{' '}
        <a href={href('/compare', { mailbox: upn })}>Compare its snapshots</a>
      </p>
      <ErrorBox error={error} />
      {data && !data.snapshots.length && <p>The vault has no snapshot of this mailbox yet.</p>}
      {data && current && (
        <div class="columns">
          <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">Snapshots</h2>
            <Timeline upn={upn} snapshots={data.snapshots} current={current} />
          </section>
          <FolderView key={current} upn={upn} snapshotId={current} />
        </div>
      )}
    </>
  );
}
