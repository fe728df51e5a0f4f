import { ExtendedProperty, type MailboxItem } from '../graph/index.js';

/** What the vault keeps of an item besides its stored bytes (from Graph's listing). */
export interface ItemMeta {
  id: string;
  folderId: string;
  changeKey: string;
  type: string;
  size: number;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  receivedDateTime?: string;
  subject?: string;
  sender?: string;
  /** PR_SEARCH_KEY, base64: survives export and import, so restores match on it. */
  searchKey?: string;
}

/** PR_SEARCH_KEY: the property that identifies an item across export and import, so restores match on it. */
export const SEARCH_KEY_PROPERTY = ExtendedProperty.searchKey;

/** The extended properties a backup asks Graph for: enough to browse and to match on restore. */
export const ITEM_META_PROPERTIES = [
  ExtendedProperty.subject,
  ExtendedProperty.senderEmail,
  ExtendedProperty.receivedTime,
  SEARCH_KEY_PROPERTY,
] as const;

/** 'String 0x0037' and 'string 0x37' name the same property: compare by type and number. */
function propertyKey(id: string): string {
  const match = /^\s*(\w+)\s+0x([0-9a-f]+)\s*$/i.exec(id);
  return match ? `${match[1]!.toLowerCase()} ${parseInt(match[2]!, 16)}` : id.toLowerCase();
}

const SUBJECT = propertyKey(ExtendedProperty.subject);
const SENDER = propertyKey(ExtendedProperty.senderEmail);
const RECEIVED = propertyKey(ExtendedProperty.receivedTime);
const SEARCH_KEY = propertyKey(SEARCH_KEY_PROPERTY);

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

/** The search key of a listed item, if Graph returned it (the last one given, as itemMetaOf takes it). */
export function searchKeyOf(item: MailboxItem): string | undefined {
  const property = item.singleValueExtendedProperties?.findLast((p) => propertyKey(p.id) === SEARCH_KEY);
  return property?.value;
}
