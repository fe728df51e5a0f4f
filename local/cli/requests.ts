import { UsageError } from './usage.js';

/** Parsed option values, by option name. */
export type OptionValues = Record<string, string | string[] | boolean | undefined>;

/** The API call a command makes; statusPath is where a started run reports until it finishes. */
export interface ApiRequest {
  method: string;
  path: string;
  body?: unknown;
  kind: string;
  statusPath?: (id: string) => string;
  /** The file a download writes. */
  saveTo?: string;
}

/** restore's options and the request fields they set. */
const RESTORE_FIELDS: Array<[string, string]> = [
  ['target', 'targetMailbox'],
  ['snapshot', 'snapshot'],
  ['as-of', 'asOf'],
  ['created-from', 'createdFrom'],
  ['created-to', 'createdTo'],
  ['received-from', 'receivedFrom'],
  ['received-to', 'receivedTo'],
  ['destination', 'destination'],
  ['folder-path', 'folderPath'],
  ['collisions', 'collisions'],
];

const str = (values: OptionValues, name: string) => values[name] as string | undefined;
const list = (values: OptionValues, name: string) => values[name] as string[] | undefined;

/** The request for a command whose options were checked; throws UsageError for what is missing. */
export function requestFor(command: string, rest: string[], values: OptionValues): ApiRequest {
  switch (command) {
    case 'backup':
      return backupRequest(values);
    case 'restore':
      return restoreRequest(values);
    case 'download':
      return downloadRequest(values);
    case 'snapshots':
      return snapshotsRequest(values);
    case 'items':
      return itemsRequest(values);
    case 'verify':
    case 'prune':
      return maintenanceRequest(command, values);
    case 'audit':
      return auditRequest(values);
    default:
      return statusRequest(rest);
  }
}

function backupRequest(values: OptionValues): ApiRequest {
  const mailboxes = list(values, 'mailbox');
  return {
    method: 'POST',
    path: '/api/backups',
    body: mailboxes ? { mailboxes } : {},
    kind: 'backup',
    statusPath: (id) => `/api/backups/${id}`,
  };
}

function restoreRequest(values: OptionValues): ApiRequest {
  if (!str(values, 'source')) throw new UsageError('restore needs --source <upn>');
  const body: Record<string, unknown> = { sourceMailbox: str(values, 'source') };
  for (const [flag, field] of RESTORE_FIELDS) if (str(values, flag) !== undefined) body[field] = str(values, flag);
  if (list(values, 'folder')) body.folders = list(values, 'folder');
  if (list(values, 'item')) body.itemIds = list(values, 'item');
  if (list(values, 'type')) body.itemTypes = list(values, 'type');
  return { method: 'POST', path: '/api/restores', body, kind: 'restore', statusPath: (id) => `/api/restores/${id}` };
}

function snapshotsRequest(values: OptionValues): ApiRequest {
  const mailbox = list(values, 'mailbox');
  if (mailbox?.length !== 1) throw new UsageError('snapshots needs one --mailbox <upn>');
  return { method: 'GET', path: `/api/snapshots?mailbox=${encodeURIComponent(mailbox[0]!)}`, kind: 'snapshots' };
}

function itemsRequest(values: OptionValues): ApiRequest {
  const mailbox = list(values, 'mailbox');
  if (mailbox?.length !== 1) throw new UsageError('items needs one --mailbox <upn>');
  const query = new URLSearchParams({ mailbox: mailbox[0]! });
  const folder = list(values, 'folder');
  if (folder?.length) query.set('folder', folder[0]!);
  for (const k of ['top', 'skip']) if (str(values, k) !== undefined) query.set(k, str(values, k)!);
  return {
    method: 'GET',
    path: `/api/snapshots/${encodeURIComponent(str(values, 'snapshot') ?? 'latest')}/items?${query}`,
    kind: 'items',
  };
}

function maintenanceRequest(command: 'verify' | 'prune', values: OptionValues): ApiRequest {
  const body: Record<string, unknown> =
    command === 'verify'
      ? { verify: { mode: values.full ? 'full' : 'sample' } }
      : { prune: { dryRun: values['dry-run'] === true } };
  if (list(values, 'mailbox')) body.mailboxes = list(values, 'mailbox');
  return {
    method: 'POST',
    path: '/api/maintenance',
    body,
    kind: 'maintenance',
    statusPath: (id) => `/api/maintenance/${id}`,
  };
}

function auditRequest(values: OptionValues): ApiRequest {
  const query = new URLSearchParams();
  for (const k of ['since', 'until', 'limit']) if (str(values, k) !== undefined) query.set(k, str(values, k)!);
  return { method: 'GET', path: `/api/audit${query.size ? `?${query}` : ''}`, kind: 'audit' };
}

/** Where `status` follows each kind of run, by its id's prefix. */
const STATUS_COLLECTIONS: Record<string, string> = {
  backup: 'backups',
  restore: 'restores',
  download: 'downloads',
  maintenance: 'maintenance',
};

/** `status <id>`: the run's kind comes from its id's prefix. */
function statusRequest(rest: string[]): ApiRequest {
  const id = rest[0];
  if (!id || rest.length > 1) throw new UsageError('status needs one run id');
  // An item's download (X-Download-Id `item-…`) is served in its answer: there is no run to follow.
  if (id.startsWith('item-'))
    throw new UsageError(`'${id}' is an item's download, served at once: only an export (download-…) has a status`);
  const kind = Object.keys(STATUS_COLLECTIONS).find((k) => id.startsWith(`${k}-`));
  if (!kind) throw new UsageError(`'${id}' is not a backup, restore, download or maintenance id`);
  return { method: 'GET', path: `/api/${STATUS_COLLECTIONS[kind]}/${id}`, kind };
}

/**
 * `download`: one item (`--item` once, no `--format`) straight as EML, or a selection as an export job whose
 * file is saved once it is ready. Either way `--out` names the file written.
 */
function downloadRequest(values: OptionValues): ApiRequest {
  const source = str(values, 'source');
  const out = str(values, 'out');
  if (!source) throw new UsageError('download needs --source <upn>');
  if (!out) throw new UsageError('download needs --out <file>');
  const items = list(values, 'item');
  const format = str(values, 'format');
  if (format && format !== 'mbox' && format !== 'zip') throw new UsageError('--format must be mbox or zip');
  if (items?.length === 1 && !format) {
    const snapshot = str(values, 'snapshot') ?? 'latest';
    return {
      method: 'GET',
      path: `/api/snapshots/${encodeURIComponent(snapshot)}/items/${encodeURIComponent(items[0]!)}/content?mailbox=${encodeURIComponent(source)}`,
      kind: 'downloadItem',
      saveTo: out,
    };
  }
  const body = { ...(restoreRequest({ ...values, target: undefined }).body as object), format: format ?? 'mbox' };
  return {
    method: 'POST',
    path: '/api/downloads',
    body,
    kind: 'download',
    statusPath: (id) => `/api/downloads/${id}`,
    saveTo: out,
  };
}
