import { createHmac } from 'node:crypto';
import type { SimFolder, SimItem, SimMailbox } from './tenant.js';

/** OData query handling the simulator supports: $select, $filter (simple comparisons), $expand of extended properties. */

export type Comparison = { field: string; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; value: string | number };

export class ODataQueryError extends Error {}

/** `a ge 2021-08-21 and type eq 'IPM.Note'`: comparisons joined by `and` (what the docs' examples use). */
export function parseFilter(filter: string | null): Comparison[] {
  if (!filter) return [];
  return filter.split(/\s+and\s+/i).map((part) => {
    const match = /^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|[\w:.+-]+)\s*$/i.exec(part);
    if (!match) throw new ODataQueryError(`Invalid filter clause: ${part}`);
    const raw = match[3]!;
    const value = raw.startsWith("'")
      ? raw.slice(1, -1).replace(/''/g, "'")
      : /^-?\d+(\.\d+)?$/.test(raw)
        ? Number(raw)
        : raw;
    return { field: match[1]!, op: match[2]!.toLowerCase() as Comparison['op'], value };
  });
}

function compare(actual: unknown, c: Comparison): boolean {
  if (actual === undefined) throw new ODataQueryError(`Could not find a property named '${c.field}'`);
  let a: string | number = actual as string | number;
  let b: string | number = c.value;
  const dateLike =
    typeof a === 'string' && /^\d{4}-\d{2}-\d{2}/.test(a) && typeof b === 'string' && /^\d{4}-\d{2}-\d{2}/.test(b);
  if (dateLike) {
    a = Date.parse(a as string);
    b = Date.parse(b as string);
  }
  switch (c.op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
  }
}

export function matchesFilter(entity: Record<string, unknown>, filter: Comparison[]): boolean {
  return filter.every((c) => compare(entity[c.field], c));
}

export function applySelect(entity: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (!select) return entity;
  const keep = new Set(select.split(',').map((s) => s.trim()));
  // Graph returns parentMailboxUrl whatever $select says (see the docs' list-folders example).
  const always = new Set(['id', 'parentMailboxUrl', 'singleValueExtendedProperties']);
  return Object.fromEntries(
    Object.entries(entity).filter(([key]) => always.has(key) || key.startsWith('@odata') || keep.has(key)),
  );
}

/** Normalises 'String 0x37' and 'string 0x0037' to one key. */
function propertyKey(id: string): string {
  const match = /^\s*(\w+)\s+0x([0-9a-f]+)\s*$/i.exec(id);
  return match ? `${match[1]!.toLowerCase()} ${parseInt(match[2]!, 16)}` : id.toLowerCase();
}

/** Ids named in `$expand=singleValueExtendedProperties($filter=id eq '…' or id eq '…')`. */
export function parseExpand(expand: string | null): string[] {
  if (!expand) return [];
  if (!/^singleValueExtendedProperties(\(.*\))?$/i.test(expand.trim()))
    throw new ODataQueryError(`Unsupported $expand: ${expand}`);
  return [...expand.matchAll(/id\s+eq\s+'([^']+)'/gi)].map((m) => m[1]!);
}

export function itemExtendedProperties(item: SimItem, ids: string[]): Array<{ id: string; value: string }> {
  const out: Array<{ id: string; value: string }> = [];
  for (const id of ids) {
    let value: string | undefined;
    switch (propertyKey(id)) {
      case 'string 55':
        value = item.spec.subject;
        break; // 0x0037 subject
      case 'string 3103':
        value = item.spec.senderEmail;
        break; // 0x0C1F sender email
      case 'string 3098':
        value = item.spec.senderEmail.split('@')[0];
        break; // 0x0C1A sender name
      case 'systemtime 3590':
        value = item.spec.receivedDateTime;
        break; // 0x0E06 received
      case 'binary 12299':
        value = item.spec.searchKey.toString('base64');
        break; // 0x300B search key
    }
    if (value !== undefined) out.push({ id, value });
  }
  return out;
}

export function folderExtendedProperties(folder: SimFolder, ids: string[]): Array<{ id: string; value: string }> {
  return ids.filter((id) => propertyKey(id) === 'string 12289').map((id) => ({ id, value: folder.displayName }));
}

export function folderJson(
  base: string,
  version: string,
  mailbox: SimMailbox,
  folder: SimFolder,
): Record<string, unknown> {
  // An archive's expanded folder is physically in an auxiliary mailbox: its URL and its items are that one's.
  const holder = mailbox.holderOf(folder.id);
  return {
    '@odata.type': '#microsoft.graph.mailboxFolder',
    id: folder.id,
    displayName: folder.displayName,
    parentFolderId: folder.parentFolderId,
    parentMailboxUrl: `${base}/${version}/admin/exchange/mailboxes/${holder.id}`,
    childFolderCount: mailbox.childFolders(folder.id).length,
    totalItemCount: holder.itemsIn(folder.id).length,
    wellKnownName: folder.wellKnownName,
    type: folder.type,
  };
}

export function itemJson(item: SimItem): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.mailboxItem',
    '@odata.etag': `W/"${item.changeKey}"`,
    id: item.id,
    createdDateTime: item.createdDateTime,
    lastModifiedDateTime: item.lastModifiedDateTime,
    changeKey: item.changeKey,
    categories: item.categories,
    type: item.type,
    size: item.size,
  };
}

/** State carried in $skiptoken/$deltatoken: opaque and signed, so a tampered or foreign token is rejected. */
export interface SyncState {
  /** Mailbox id and collection ('folders' or a folder id) the token belongs to. */
  mailbox: string;
  collection: string;
  generation: number;
  /** Changes after `from` up to `to` belong to this round. */
  from: number;
  to: number;
  offset: number;
  expand: string[];
}

export function encodeSyncState(state: SyncState, key: Buffer): string {
  const body = Buffer.from(JSON.stringify(state)).toString('base64url');
  const mac = createHmac('sha256', key).update(body).digest('base64url').slice(0, 16);
  return `${body}.${mac}`;
}

export function decodeSyncState(token: string, key: Buffer): SyncState | undefined {
  const [body, mac] = token.split('.');
  if (!body || !mac) return undefined;
  if (createHmac('sha256', key).update(body).digest('base64url').slice(0, 16) !== mac) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString()) as SyncState;
  } catch {
    return undefined;
  }
}
