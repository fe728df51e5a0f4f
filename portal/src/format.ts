export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Times in UTC, as the schedule and the reports give them. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatAge(hours: number | null): string {
  if (hours === null) return 'never backed up';
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} days`;
}

export const count = (n: number) => n.toLocaleString('en');

/** ['Inbox', 'a/b'] → 'Inbox/a\/b': how the API takes folder paths (a '/' in a name written '\/'). */
export function folderPathText(path: string[]): string {
  return path.map((p) => p.replace(/\\/g, '\\\\').replace(/\//g, '\\/')).join('/');
}
