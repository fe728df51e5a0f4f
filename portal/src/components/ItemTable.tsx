import { count, formatBytes, formatTime } from '../format.js';
import type { Item } from '../types.js';

/** Items with a checkbox each (when selectable): subject, sender, received, size, and where they are. */
export function ItemTable(props: {
  items: Item[];
  caption: string;
  selected?: Set<string>;
  onToggle?: (item: Item) => void;
  /** Offers each message as an `.eml` file (converted through the staging mailbox). */
  onDownload?: (item: Item) => void;
  showFolder?: boolean;
  showSnapshot?: boolean;
}) {
  const { items, selected, onToggle } = props;
  if (!items.length) return <p>No items.</p>;
  return (
    <table>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {onToggle && <th scope="col">Select</th>}
          <th scope="col">Subject</th>
          <th scope="col">Sender</th>
          <th scope="col">Received</th>
          <th scope="col">Size</th>
          {props.showFolder && <th scope="col">Folder</th>}
          {props.showSnapshot && <th scope="col">Snapshot</th>}
          {props.onDownload && <th scope="col">File</th>}
        </tr>
      </thead>
      <tbody>
        {items.map((item, i) => {
          const key = `${item.snapshotId ?? ''}-${item.id}`;
          const label = item.subject ?? '(no subject)';
          return (
            <tr key={key}>
              {onToggle && (
                <td>
                  <input
                    type="checkbox"
                    id={`select-${i}`}
                    aria-label={`Select ${label}`}
                    checked={selected?.has(key) ?? false}
                    onChange={() => onToggle(item)}
                  />
                </td>
              )}
              <td>{label}</td>
              <td>{item.sender ?? '—'}</td>
              <td>{formatTime(item.receivedDateTime ?? item.createdDateTime)}</td>
              <td>{formatBytes(item.size)}</td>
              {props.showFolder && (
                <td>
                  {item.fromFolderPath !== undefined ? `${item.fromFolderPath} → ` : ''}
                  {item.folderPath || '(root)'}
                </td>
              )}
              {props.showSnapshot && <td>{formatTime(item.takenAt)}</td>}
              {props.onDownload && (
                <td>
                  <button
                    type="button"
                    class="link"
                    aria-label={`Download ${label} as EML`}
                    onClick={() => props.onDownload!(item)}
                  >
                    Download
                  </button>
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export const itemKey = (item: Item) => `${item.snapshotId ?? ''}-${item.id}`;

export function pageText(skip: number, shown: number, total: number): string {
  return shown ? `Items ${count(skip + 1)}–${count(skip + shown)} of ${count(total)}` : `No items`;
}
