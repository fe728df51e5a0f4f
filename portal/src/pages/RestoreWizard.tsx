import { useMemo, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { MailboxPicker } from '../components/MailboxPicker.js';
import { mayRestoreElsewhere, useMe } from '../me.js';
import { count, formatBytes, formatTime } from '../format.js';
import { takeRestoreDraft, type RestoreDraft } from '../restoreDraft.js';
import { navigate } from '../router.js';
import type { Snapshot } from '../types.js';
import { useApi } from '../useApi.js';

type What = 'items' | 'folders' | 'dates' | 'everything';
type Where = 'newFolder' | 'original' | 'folder';

interface Preview {
  source: { upn: string | null; snapshotId: string; takenAt: string };
  target: { upn: string | null };
  destination: { mode: Where; folderPath?: string[] };
  items: number;
  bytes: number;
}

interface WizardState {
  sourceMailbox: string;
  snapshot: string;
  what: What;
  folders: string;
  receivedFrom: string;
  receivedTo: string;
  targetMailbox: string;
  where: Where;
  folderPath: string;
  collisions: 'skip' | 'copy';
}

function initialState(draft: RestoreDraft | undefined, mailbox: string): WizardState {
  return {
    sourceMailbox: draft?.sourceMailbox ?? mailbox,
    snapshot: draft?.snapshot ?? 'latest',
    what: draft?.itemIds ? 'items' : draft?.folders ? 'folders' : 'folders',
    folders: draft?.folders?.join('\n') ?? '',
    receivedFrom: '',
    receivedTo: '',
    targetMailbox: '',
    where: 'newFolder',
    folderPath: '',
    collisions: 'skip',
  };
}

/** The body of POST /api/restores for the choices made (README, HTTP API). */
function restoreBody(s: WizardState, itemIds: string[] | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {
    sourceMailbox: s.sourceMailbox,
    snapshot: s.snapshot,
    destination: s.where,
    collisions: s.collisions,
  };
  if (s.what === 'items' && itemIds) body.itemIds = itemIds;
  if (s.what === 'folders')
    body.folders = s.folders
      .split('\n')
      .map((f) => f.trim())
      .filter(Boolean);
  if (s.what === 'dates') {
    if (s.receivedFrom) body.receivedFrom = s.receivedFrom;
    if (s.receivedTo) body.receivedTo = s.receivedTo;
  }
  if (s.targetMailbox) body.targetMailbox = s.targetMailbox;
  if (s.where === 'folder') body.folderPath = s.folderPath;
  return body;
}

function Radio<T extends string>(props: {
  name: string;
  value: T;
  current: T;
  onChange: (v: T) => void;
  label: string;
}) {
  const id = `${props.name}-${props.value}`;
  return (
    <div class="radio">
      <input
        type="radio"
        id={id}
        name={props.name}
        value={props.value}
        checked={props.current === props.value}
        onChange={() => props.onChange(props.value)}
      />
      <label for={id}>{props.label}</label>
    </div>
  );
}

/** What, from which snapshot, to where, what on collision; a preview of items and bytes; then start. */
export function RestoreWizard({ initialMailbox }: { initialMailbox: string }) {
  const draft = useMemo(takeRestoreDraft, []);
  // Only the restorer role restores into another mailbox: anyone else is not offered one (the API refuses it too).
  const elsewhere = mayRestoreElsewhere(useMe());
  const [s, setState] = useState(() => initialState(draft, initialMailbox));
  const [preview, setPreview] = useState<Preview>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const snapshots = useApi<{ snapshots: Snapshot[] }>(
    s.sourceMailbox ? `snapshots?${query({ mailbox: s.sourceMailbox })}` : null,
  );
  const update = (change: Partial<WizardState>) => {
    setState({ ...s, ...change });
    setPreview(undefined);
  };
  const input = (name: keyof WizardState) => (e: Event) => update({ [name]: (e.target as HTMLInputElement).value });
  const body = restoreBody(s, draft?.itemIds);
  const call = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const showPreview = (e: Event) => {
    e.preventDefault();
    void call(async () => setPreview(await api<Preview>('restores/preview', { method: 'POST', body })));
  };
  const start = () =>
    call(async () => {
      const started = await api<{ id: string }>('restores', { method: 'POST', body });
      navigate(`/restores/${started.id}`);
    });
  return (
    <>
      <h1>Restore</h1>
      <form onSubmit={showPreview}>
        <fieldset>
          <legend>1. From which mailbox and snapshot</legend>
          <MailboxPicker
            id="restore-source"
            label="Mailbox backed up"
            value={s.sourceMailbox}
            onChange={(sourceMailbox) => update({ sourceMailbox, snapshot: 'latest' })}
          />
          <div class="field">
            <label for="restore-snapshot">Snapshot</label>
            <select id="restore-snapshot" value={s.snapshot} onChange={input('snapshot')}>
              <option value="latest">The newest snapshot</option>
              {(snapshots.data?.snapshots ?? []).map((snap) => (
                <option key={snap.id} value={snap.id}>
                  {formatTime(snap.takenAt)} ({count(snap.items)} items)
                </option>
              ))}
            </select>
          </div>
        </fieldset>
        <fieldset>
          <legend>2. What to restore</legend>
          {draft?.itemIds && (
            <Radio
              name="what"
              value="items"
              current={s.what}
              onChange={(what) => update({ what })}
              label={draft.description ?? `${draft.itemIds.length} selected item(s)`}
            />
          )}
          <Radio
            name="what"
            value="folders"
            current={s.what}
            onChange={(what) => update({ what })}
            label="Folders (and everything below them)"
          />
          {s.what === 'folders' && (
            <div class="field">
              <label for="restore-folders">Folder paths, one per line (such as Inbox/Projects)</label>
              <textarea id="restore-folders" rows={3} value={s.folders} onInput={input('folders')} />
            </div>
          )}
          <Radio
            name="what"
            value="dates"
            current={s.what}
            onChange={(what) => update({ what })}
            label="Items received in a date range"
          />
          {s.what === 'dates' && (
            <div class="grid">
              <div class="field">
                <label for="restore-from">Received from</label>
                <input id="restore-from" type="date" value={s.receivedFrom} onInput={input('receivedFrom')} />
              </div>
              <div class="field">
                <label for="restore-to">Received before</label>
                <input id="restore-to" type="date" value={s.receivedTo} onInput={input('receivedTo')} />
              </div>
            </div>
          )}
          <Radio
            name="what"
            value="everything"
            current={s.what}
            onChange={(what) => update({ what })}
            label="The whole mailbox"
          />
        </fieldset>
        <fieldset>
          <legend>3. Where to</legend>
          {elsewhere ? (
            <MailboxPicker
              id="restore-target"
              label="Into mailbox (leave unchosen for the same mailbox)"
              value={s.targetMailbox}
              onChange={(targetMailbox) => update({ targetMailbox })}
            />
          ) : (
            <p>Into the same mailbox{s.sourceMailbox ? ` (${s.sourceMailbox})` : ''}.</p>
          )}
          <Radio
            name="where"
            value="newFolder"
            current={s.where}
            onChange={(where) => update({ where })}
            label="A new folder named for this restore (nothing existing is touched)"
          />
          <Radio
            name="where"
            value="original"
            current={s.where}
            onChange={(where) => update({ where })}
            label="The folders the items came from"
          />
          <Radio
            name="where"
            value="folder"
            current={s.where}
            onChange={(where) => update({ where })}
            label="A folder I name"
          />
          {s.where === 'folder' && (
            <div class="field">
              <label for="restore-folder-path">Folder path</label>
              <input id="restore-folder-path" type="text" value={s.folderPath} onInput={input('folderPath')} />
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>4. When the item is already there</legend>
          <Radio
            name="collisions"
            value="skip"
            current={s.collisions}
            onChange={(collisions) => update({ collisions })}
            label="Skip it (the mailbox already has it)"
          />
          <Radio
            name="collisions"
            value="copy"
            current={s.collisions}
            onChange={(collisions) => update({ collisions })}
            label="Restore a copy beside it"
          />
        </fieldset>
        <button type="submit" disabled={busy || !s.sourceMailbox}>
          Preview
        </button>
      </form>
      <ErrorBox error={error ?? snapshots.error} />
      {preview && (
        <section aria-labelledby="preview-heading" class="preview">
          <h2 id="preview-heading">Preview</h2>
          <p aria-live="polite">
            {count(preview.items)} item(s), {formatBytes(preview.bytes)}, from the snapshot of{' '}
            {formatTime(preview.source.takenAt)} of {preview.source.upn ?? s.sourceMailbox} into{' '}
            {preview.target.upn ?? (s.targetMailbox || s.sourceMailbox)},{' '}
            {preview.destination.mode === 'newFolder'
              ? 'a new folder'
              : preview.destination.mode === 'original'
                ? 'the folders they came from'
                : `the folder ${preview.destination.folderPath?.join('/')}`}
            .
          </p>
          <button type="button" disabled={busy} onClick={() => void start()}>
            Start restore
          </button>
        </section>
      )}
    </>
  );
}
