import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { ErrorBox } from '../components/ErrorBox.js';
import { ItemTable, itemKey } from '../components/ItemTable.js';
import { MailboxPicker } from '../components/MailboxPicker.js';
import { count, formatTime } from '../format.js';
import { restoreDraftFor } from '../restoreSelection.js';
import { navigate } from '../router.js';
import type { Item, Snapshot } from '../types.js';
import { useApi } from '../useApi.js';

interface SearchAnswer {
  hits: Item[];
  more: boolean;
  snapshotsSearched: number;
  itemsScanned: number;
}

/** Finds items by subject words, sender and received dates: in the newest snapshot, one chosen, or all of them. */
export function Search({ initialMailbox }: { initialMailbox: string }) {
  const [form, setForm] = useState({
    mailbox: initialMailbox,
    q: '',
    sender: '',
    from: '',
    to: '',
    snapshot: 'latest',
  });
  const snapshots = useApi<{ snapshots: Snapshot[] }>(
    form.mailbox ? `snapshots?${query({ mailbox: form.mailbox })}` : null,
  );
  const [answer, setAnswer] = useState<SearchAnswer>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState(new Map<string, Item>());
  const set = (name: keyof typeof form) => (e: Event) =>
    setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  const search = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setAnswer(await api<SearchAnswer>(`search?${query(form)}`));
      setSelected(new Map());
    } catch (err) {
      setError(err);
      setAnswer(undefined);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (item: Item) => {
    const next = new Map(selected);
    if (next.has(itemKey(item))) next.delete(itemKey(item));
    else next.set(itemKey(item), item);
    setSelected(next);
  };
  const snapshotsSelected = new Set([...selected.values()].map((i) => i.snapshotId));
  const restore = () => {
    const items = [...selected.values()];
    restoreDraftFor(form.mailbox, items[0]!.snapshotId!, items, 'in search');
    navigate('/restore');
  };
  return (
    <>
      <h1>Search</h1>
      <form onSubmit={search} class="grid">
        <MailboxPicker
          id="search-mailbox"
          label="Mailbox"
          value={form.mailbox}
          onChange={(mailbox) => setForm({ ...form, mailbox, snapshot: 'latest' })}
        />
        <div class="field">
          <label for="search-q">Subject words</label>
          <input id="search-q" type="search" value={form.q} onInput={set('q')} />
        </div>
        <div class="field">
          <label for="search-sender">Sender</label>
          <input id="search-sender" type="text" value={form.sender} onInput={set('sender')} />
        </div>
        <div class="field">
          <label for="search-from">Received from</label>
          <input id="search-from" type="date" value={form.from} onInput={set('from')} />
        </div>
        <div class="field">
          <label for="search-to">Received before</label>
          <input id="search-to" type="date" value={form.to} onInput={set('to')} />
        </div>
        <div class="field">
          <label for="search-snapshot">Snapshots</label>
          <select id="search-snapshot" value={form.snapshot} onChange={set('snapshot')}>
            <option value="latest">The newest snapshot</option>
            <option value="all">Every snapshot (finds deleted items)</option>
            {(snapshots.data?.snapshots ?? []).map((snapshot) => (
              <option key={snapshot.id} value={snapshot.id}>
                The snapshot of {formatTime(snapshot.takenAt)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <button type="submit" disabled={busy}>
            {busy ? 'Searching…' : 'Search'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      {answer && (
        <section aria-labelledby="results-heading">
          <h2 id="results-heading">Results</h2>
          <p aria-live="polite">
            {count(answer.hits.length)} item(s) found in {count(answer.snapshotsSearched)} snapshot(s),{' '}
            {count(answer.itemsScanned)} items searched.
            {answer.more && ' More items match: narrow the search to see them.'}
          </p>
          <div class="actions">
            <button type="button" disabled={selected.size === 0 || snapshotsSelected.size > 1} onClick={restore}>
              Restore {selected.size} selected item(s)
            </button>
            {snapshotsSelected.size > 1 && (
              <p role="alert">A restore takes items of one snapshot: select items of the same snapshot.</p>
            )}
          </div>
          <ItemTable
            items={answer.hits}
            caption="Items found"
            selected={new Set(selected.keys())}
            onToggle={toggle}
            showFolder
            showSnapshot
          />
        </section>
      )}
    </>
  );
}
