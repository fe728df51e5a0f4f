import { ExtendedProperty, type MailboxItem } from '../graph/index.js';
import type { ItemMeta } from './types.js';

/** The extended properties planning asks Graph for: enough to browse and to match on restore. */
export const BACKUP_EXTENDED_PROPERTIES = [
  ExtendedProperty.subject,
  ExtendedProperty.senderEmail,
  ExtendedProperty.receivedTime,
  ExtendedProperty.searchKey,
] as const;

function propertyKey(id: string): string {
  const match = /^\s*(\w+)\s+0x([0-9a-f]+)\s*$/i.exec(id);
  return match ? `${match[1]!.toLowerCase()} ${parseInt(match[2]!, 16)}` : id.toLowerCase();
}

const SUBJECT = propertyKey(ExtendedProperty.subject);
const SENDER = propertyKey(ExtendedProperty.senderEmail);
const RECEIVED = propertyKey(ExtendedProperty.receivedTime);
const SEARCH_KEY = propertyKey(ExtendedProperty.searchKey);

/** What the manifest keeps of a listed item; extended properties are matched however Graph spells their ids. */
export function itemMetaOf(item: MailboxItem, folderId: string): ItemMeta {
  const meta: ItemMeta = {
    id: item.id,
    folderId,
    changeKey: item.changeKey ?? item['@odata.etag']?.replace(/^W\/"(.*)"$/, '$1') ?? '',
    type: item.type ?? 'IPM.Note',
    size: item.size ?? 0,
  };
  if (item.createdDateTime) meta.createdDateTime = item.createdDateTime;
  if (item.lastModifiedDateTime) meta.lastModifiedDateTime = item.lastModifiedDateTime;
  for (const property of item.singleValueExtendedProperties ?? []) {
    const key = propertyKey(property.id);
    if (key === SUBJECT) meta.subject = property.value;
    else if (key === SENDER) meta.sender = property.value;
    else if (key === RECEIVED) meta.receivedDateTime = property.value;
    else if (key === SEARCH_KEY) meta.searchKey = property.value;
  }
  return meta;
}
