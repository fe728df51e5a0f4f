/** Shapes of the Graph mailbox import/export API (v1.0, with the beta-only fields marked optional). */

export interface SingleValueExtendedProperty {
  id: string;
  value: string;
}

export interface MailboxFolder {
  id: string;
  displayName: string;
  parentFolderId?: string;
  childFolderCount?: number;
  totalItemCount?: number;
  /** Folder class: IPF.Note, IPF.Appointment, IPF.Contact, IPF.Task… */
  type?: string;
  /** In the v1.0 docs and beta metadata, not yet in the v1.0 metadata: accept it when present. */
  wellKnownName?: string | null;
  parentMailboxUrl?: string;
  singleValueExtendedProperties?: SingleValueExtendedProperty[];
}

export interface MailboxItem {
  id: string;
  changeKey?: string;
  categories?: string[];
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  size?: number;
  /** Message class: IPM.Note, IPM.Appointment, IPM.Contact… */
  type?: string;
  '@odata.etag'?: string;
  singleValueExtendedProperties?: SingleValueExtendedProperty[];
}

/** A delta entry for something deleted (or moved out of the collection) since the last round. */
export interface RemovedEntry {
  id: string;
  removed: true;
  reason: string;
}

export interface DeltaPage<T> {
  changed: T[];
  removed: RemovedEntry[];
  /** Present on the last page of a round: store it and GET it next round. */
  deltaLink?: string;
  /** Present on every other page: the next page of the round (a round read over several activities resumes here). */
  nextLink?: string;
}

/** One page of a plain listing, and the link to the next page when there is one. */
export interface ListingPage<T> {
  items: T[];
  nextLink?: string;
}

export interface MailboxIds {
  primaryMailboxId: string;
  /** Beta only. */
  inPlaceArchiveMailboxId?: string;
}

export interface ExportError {
  code: string;
  message: string;
}

/**
 * One item of an exportItems response. For a success, `data` streams the exact exported bytes (already
 * decoded from base64); read it to the end before asking for the next item. `changeKey` is final once
 * `data` has ended. An item small enough to arrive whole (most mail) also has them in `bytes`, so a consumer
 * need not read a stream for it.
 */
export type ExportedItem =
  | { itemId: string; changeKey: string | undefined; data: AsyncIterable<Buffer>; bytes?: Buffer; error?: undefined }
  | { itemId: string; changeKey?: undefined; data?: undefined; bytes?: undefined; error: ExportError };

export type ImportMode = 'create' | 'update';

export interface ImportedItem {
  itemId: string;
  changeKey: string;
}

/** Extended property ids we ask Graph for, to browse and match items without parsing the opaque stream. */
export const ExtendedProperty = {
  subject: 'String 0x0037',
  senderEmail: 'String 0x0C1F',
  senderName: 'String 0x0C1A',
  receivedTime: 'SystemTime 0x0E06',
  /** PR_SEARCH_KEY survives export and import: the best "already restored?" key. */
  searchKey: 'Binary 0x300B',
} as const;
