import { createHash, randomBytes } from 'node:crypto';
import { bodyLengthFor, payloadDigest, payloadLength, type PayloadSpec } from './payload.js';
import { SeededRandom } from './random.js';

/** Well-known folders every simulated mailbox has, with the names Graph accepts in paths. */
export const WELL_KNOWN_FOLDERS = [
  { wellKnownName: 'inbox', displayName: 'Inbox', type: 'IPF.Note' },
  { wellKnownName: 'sentitems', displayName: 'Sent Items', type: 'IPF.Note' },
  { wellKnownName: 'drafts', displayName: 'Drafts', type: 'IPF.Note' },
  { wellKnownName: 'deleteditems', displayName: 'Deleted Items', type: 'IPF.Note' },
  { wellKnownName: 'archive', displayName: 'Archive', type: 'IPF.Note' },
  { wellKnownName: 'calendar', displayName: 'Calendar', type: 'IPF.Appointment' },
  { wellKnownName: 'contacts', displayName: 'Contacts', type: 'IPF.Contact' },
] as const;

export const ITEM_CLASS_FOR_FOLDER: Record<string, string> = {
  'IPF.Note': 'IPM.Note',
  'IPF.Appointment': 'IPM.Appointment',
  'IPF.Contact': 'IPM.Contact',
  'IPF.Task': 'IPM.Task',
};

export interface SimFolder {
  id: string;
  displayName: string;
  parentFolderId: string;
  type: string;
  wellKnownName: string | null;
  /** Change sequence of the last change (delta rounds report what changed after a token's sequence). */
  seq: number;
}

export interface SimItem {
  id: string;
  folderId: string;
  changeKey: string;
  type: string;
  categories: string[];
  createdDateTime: string;
  lastModifiedDateTime: string;
  /** The MAPI size Graph reports; the exported stream is larger (see `inflation`). */
  size: number;
  spec: PayloadSpec;
  seq: number;
  /** SHA-256 of the stream this item exports, once computed. */
  digest?: string;
  /** Set when the item came in through an import: the digest of the stream that was posted. */
  importedDigest?: string;
  /** A per-item export error this item always returns (fault injection). */
  exportErrorCode?: string;
}

interface Tombstone {
  id: string;
  folderId: string;
  seq: number;
}

/** An archive and its auxiliary archives are mailboxes of their own, reached on beta only (archives.ts). */
export type MailboxKind = 'user' | 'shared' | 'archive' | 'auxiliaryArchive';

export class SimMailbox {
  readonly folders = new Map<string, SimFolder>();
  /** Folders outside the IPM subtree (Recoverable Items): addressable, never in folder listings or delta. */
  readonly hiddenFolders = new Map<string, SimFolder>();
  /** An archive's expanded folders: the auxiliary mailbox holding each one's content (archives.ts). */
  readonly expandedFolders = new Map<string, SimMailbox>();
  /** Redirects this mailbox answered: 308s on reads, per-item export redirects, 409s on import. */
  readonly redirectsAnswered = { reads: 0, exports: 0, imports: 0 };
  /** Under litigation hold or retention: a hard delete is refused (403). */
  onHold = false;
  readonly items = new Map<string, SimItem>();
  readonly itemTombstones: Tombstone[] = [];
  readonly folderTombstones: Tombstone[] = [];
  seq = 0;
  /** The in-place archive's mailbox id, when the mailbox has one (reported on beta only, as Graph does). */
  archiveMailboxId: string | undefined;
  /** Bumped to invalidate every delta and skip token issued so far. */
  deltaGeneration = 1;
  /** The newest sync-state generation per delta collection ('folders' or a folder id): one per round started. */
  readonly deltaRounds = new Map<string, number>();
  rootFolderId = '';

  constructor(
    readonly id: string,
    readonly upn: string,
    readonly displayName: string,
    readonly kind: MailboxKind,
  ) {}

  nextSeq(): number {
    return ++this.seq;
  }

  /** A folder by id, wherever it is in the mailbox (hidden ones included). */
  folder(id: string): SimFolder | undefined {
    return this.folders.get(id) ?? this.hiddenFolders.get(id);
  }

  /** By id, or by well-known name, which archives do not take (Graph's archive docs: reference folders by id). */
  folderByIdOrName(idOrName: string): SimFolder | undefined {
    const direct = this.folder(idOrName);
    if (direct) return direct;
    if (this.kind === 'archive' || this.kind === 'auxiliaryArchive') return undefined;
    const lower = idOrName.toLowerCase();
    if (lower === 'msgfolderroot') return this.folders.get(this.rootFolderId);
    for (const folder of [...this.folders.values(), ...this.hiddenFolders.values()])
      if (folder.wellKnownName === lower) return folder;
    return undefined;
  }

  /** The mailbox holding a folder's content: this one, or the auxiliary archive it is expanded into. */
  holderOf(folderId: string): SimMailbox {
    return this.expandedFolders.get(folderId)?.holderOf(folderId) ?? this;
  }

  childFolders(folderId: string): SimFolder[] {
    return [...this.folders.values()].filter((f) => f.parentFolderId === folderId && f.id !== folderId);
  }

  itemsIn(folderId: string): SimItem[] {
    return [...this.items.values()].filter((i) => i.folderId === folderId);
  }

  folderPath(folderId: string): string {
    const names: string[] = [];
    let folder = this.folder(folderId);
    while (folder && folder.id !== this.rootFolderId) {
      names.unshift(folder.displayName);
      folder = this.folder(folder.parentFolderId);
    }
    return names.join('/');
  }
}

export interface NewItem {
  /** Normally assigned by the simulator. */
  id?: string;
  type?: string;
  subject?: string;
  senderEmail?: string;
  /** Reported MAPI size in bytes. */
  size?: number;
  /** Exact exported stream length; default: `size` times a realistic inflation. */
  exportedLength?: number;
  createdDateTime?: string;
  receivedDateTime?: string;
  categories?: string[];
}

export interface TenantOptions {
  seed?: number;
  tenantId?: string;
  /** Exported stream length over reported size: [min, max], plus a rare outlier factor (field-notes: 95 KB → 3.8 MB). */
  inflation?: { min: number; max: number; outlierRate: number; outlierFactor: number };
}

const SUBJECT_WORDS = [
  'Quarterly',
  'review',
  'Budget',
  'Re:',
  'Fwd:',
  'Meeting',
  'Plan',
  'Über',
  'naïve',
  '会議',
  'Отчёт',
  'café',
  '📎',
  'draft',
  'final',
];

/**
 * The simulated tenant: users, their mailboxes, folders and items, with a change sequence per mailbox for delta
 * rounds. Everything is deterministic from the seed, so tests and benchmarks are reproducible.
 */
export class SimTenant {
  readonly tenantId: string;
  readonly mailboxes = new Map<string, SimMailbox>();
  /** Lower-cased UPN → mailbox id, or null for users who have no mailbox. */
  readonly users = new Map<string, string | null>();
  /** Entra group id → member UPNs (for scope by group). */
  readonly groups = new Map<string, string[]>();
  readonly integrityKey: Buffer;
  readonly random: SeededRandom;
  private readonly inflation: Required<TenantOptions>['inflation'];
  private idCounter = 0;

  constructor(options: TenantOptions = {}) {
    this.random = new SeededRandom(options.seed ?? 1);
    this.tenantId = options.tenantId ?? this.guid();
    this.integrityKey = options.seed === undefined ? randomBytes(32) : Buffer.from(this.random.bytes(32));
    this.inflation = options.inflation ?? { min: 1.15, max: 1.35, outlierRate: 0.02, outlierFactor: 12 };
  }

  guid(): string {
    const h = this.random.bytes(16).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Exchange-shaped ids: base64 with '+', '/' and '=' so every path and blob name must encode them. */
  newId(prefix = 'AAMkAD'): string {
    this.idCounter++;
    const body = Buffer.concat([
      Buffer.from([this.idCounter >> 16, this.idCounter >> 8, this.idCounter]),
      this.random.bytes(22),
    ]);
    return `${prefix}${body.toString('base64')}`;
  }

  newChangeKey(): string {
    return `CQAAABYAAAC${this.random.bytes(12).toString('base64')}`;
  }

  /**
   * A mailbox with its root, well-known and Recoverable Items folders. Options for archives: `listed: false`
   * keeps the UPN pointing at the user's own mailbox, `wellKnownFolders: false` leaves the IPM tree empty.
   */
  addMailbox(
    upn: string,
    options: {
      kind?: MailboxKind;
      displayName?: string;
      id?: string;
      rootFolderId?: string;
      listed?: boolean;
      wellKnownFolders?: boolean;
    } = {},
  ): SimMailbox {
    const id = options.id ?? `MBX:${this.guid()}@${this.tenantId}`;
    const mailbox = new SimMailbox(id, upn, options.displayName ?? upn.split('@')[0]!, options.kind ?? 'user');
    const root: SimFolder = {
      id: options.rootFolderId ?? this.newId('AQMkAD'),
      displayName: '',
      parentFolderId: this.newId('AQMkAD'),
      type: 'IPF.Note',
      wellKnownName: 'msgfolderroot',
      seq: mailbox.nextSeq(),
    };
    mailbox.rootFolderId = root.id;
    mailbox.folders.set(root.id, root);
    addRecoverableItemsFolders(mailbox, root.parentFolderId);
    for (const wk of options.wellKnownFolders === false ? [] : WELL_KNOWN_FOLDERS) {
      const folder: SimFolder = {
        id: this.newId('AQMkAD'),
        displayName: wk.displayName,
        parentFolderId: root.id,
        type: wk.type,
        wellKnownName: wk.wellKnownName,
        seq: mailbox.nextSeq(),
      };
      mailbox.folders.set(folder.id, folder);
    }
    this.mailboxes.set(id, mailbox);
    if (options.listed !== false) this.users.set(upn.toLowerCase(), id);
    return mailbox;
  }

  addUserWithoutMailbox(upn: string): void {
    this.users.set(upn.toLowerCase(), null);
  }

  /** By mailbox id or UPN. */
  mailbox(idOrUpn: string): SimMailbox {
    const byId = this.mailboxes.get(idOrUpn);
    if (byId) return byId;
    const id = this.users.get(idOrUpn.toLowerCase());
    const mailbox = id ? this.mailboxes.get(id) : undefined;
    if (!mailbox) throw new Error(`No simulated mailbox '${idOrUpn}'`);
    return mailbox;
  }

  addFolder(
    mailbox: SimMailbox,
    parentFolderId: string,
    displayName: string,
    type = 'IPF.Note',
    id?: string,
  ): SimFolder {
    const parent = mailbox.folderByIdOrName(parentFolderId);
    if (!parent) throw new Error(`No folder '${parentFolderId}'`);
    const folder: SimFolder = {
      id: id ?? this.newId('AQMkAD'),
      displayName,
      parentFolderId: parent.id,
      type,
      wellKnownName: null,
      seq: mailbox.nextSeq(),
    };
    mailbox.folders.set(folder.id, folder);
    return folder;
  }

  /** A folder path such as 'Inbox/Projects/2024' (or its names as an array, when a name holds '/'), created as needed. */
  ensureFolderPath(mailbox: SimMailbox, path: string | string[], type = 'IPF.Note'): SimFolder {
    let parent = mailbox.folders.get(mailbox.rootFolderId)!;
    for (const name of Array.isArray(path) ? path : path.split('/')) {
      const existing = mailbox.childFolders(parent.id).find((f) => f.displayName === name);
      parent = existing ?? this.addFolder(mailbox, parent.id, name, type);
    }
    return parent;
  }

  private exportedLengthFor(size: number): number {
    const { min, max, outlierRate, outlierFactor } = this.inflation;
    let factor = min + this.random.next() * (max - min);
    if (this.random.next() < outlierRate) factor *= outlierFactor;
    return Math.round(size * factor);
  }

  private randomSize(): number {
    // Mostly mail-sized (10–150 KB), some with attachments (0.2–5 MB).
    return this.random.next() < 0.9 ? this.random.int(10_000, 150_000) : this.random.int(200_000, 5_000_000);
  }

  addItem(mailbox: SimMailbox, folderIdOrName: string, item: NewItem = {}): SimItem {
    const folder = mailbox.folderByIdOrName(folderIdOrName);
    if (!folder) throw new Error(`No folder '${folderIdOrName}'`);
    const created =
      item.createdDateTime ??
      new Date(Date.UTC(2020, 0, 1) + this.random.int(0, 5 * 365 * 86400) * 1000).toISOString().replace('.000', '');
    const size = item.size ?? this.randomSize();
    const base: Omit<PayloadSpec, 'bodyLength'> = {
      messageClass: item.type ?? ITEM_CLASS_FOR_FOLDER[folder.type] ?? 'IPM.Note',
      subject:
        item.subject ?? Array.from({ length: this.random.int(2, 6) }, () => this.random.pick(SUBJECT_WORDS)).join(' '),
      senderEmail: item.senderEmail ?? `sender${this.random.int(1, 400)}@fabrikam.example`,
      receivedDateTime: item.receivedDateTime ?? created,
      searchKey: this.random.bytes(16),
      seed: this.random.bigint(),
    };
    const spec: PayloadSpec = {
      ...base,
      bodyLength: bodyLengthFor(item.exportedLength ?? this.exportedLengthFor(size), base),
    };
    const simItem: SimItem = {
      id: item.id ?? this.newId(),
      folderId: folder.id,
      changeKey: this.newChangeKey(),
      type: spec.messageClass,
      categories: item.categories ?? [],
      createdDateTime: created,
      lastModifiedDateTime: created,
      size,
      spec,
      seq: mailbox.nextSeq(),
    };
    mailbox.items.set(simItem.id, simItem);
    return simItem;
  }

  /** An edit: new content bytes and changeKey, same id and search key. */
  changeItem(mailbox: SimMailbox, itemId: string, changes: { subject?: string } = {}): SimItem {
    const item = this.requireItem(mailbox, itemId);
    item.spec = {
      ...item.spec,
      seed: this.random.bigint(),
      subject: changes.subject ?? `${item.spec.subject} (edited)`,
    };
    item.changeKey = this.newChangeKey();
    // An edit is stamped when it happens (and always after the item's last stamp).
    item.lastModifiedDateTime = new Date(Math.max(Date.parse(item.lastModifiedDateTime) + 3_600_000, Date.now()))
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    item.seq = mailbox.nextSeq();
    delete item.digest;
    delete item.importedDigest;
    return item;
  }

  /** A move: Exchange gives the item a new id in its new folder; the old id is removed from the old folder. */
  moveItem(mailbox: SimMailbox, itemId: string, targetFolderIdOrName: string): SimItem {
    const item = this.requireItem(mailbox, itemId);
    const target = mailbox.folderByIdOrName(targetFolderIdOrName);
    if (!target) throw new Error(`No folder '${targetFolderIdOrName}'`);
    mailbox.items.delete(item.id);
    mailbox.itemTombstones.push({ id: item.id, folderId: item.folderId, seq: mailbox.nextSeq() });
    const moved: SimItem = {
      ...item,
      id: this.newId(),
      folderId: target.id,
      changeKey: this.newChangeKey(),
      seq: mailbox.nextSeq(),
    };
    mailbox.items.set(moved.id, moved);
    return moved;
  }

  /**
   * A soft delete: the item moves into Recoverable Items' deletions folder. It keeps its id, as the docs' delete
   * examples show (soft delete from inbox, then hard delete of the same id from recoverableitemsdeletions).
   */
  softDeleteItem(mailbox: SimMailbox, itemId: string): SimItem {
    const item = this.requireItem(mailbox, itemId);
    const deletions = mailbox.folderByIdOrName(RECOVERABLE_DELETIONS)!;
    mailbox.itemTombstones.push({ id: item.id, folderId: item.folderId, seq: mailbox.nextSeq() });
    item.folderId = deletions.id;
    item.changeKey = this.newChangeKey();
    item.lastModifiedDateTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    item.seq = mailbox.nextSeq();
    return item;
  }

  deleteItem(mailbox: SimMailbox, itemId: string): void {
    const item = this.requireItem(mailbox, itemId);
    mailbox.items.delete(itemId);
    mailbox.itemTombstones.push({ id: item.id, folderId: item.folderId, seq: mailbox.nextSeq() });
  }

  renameFolder(mailbox: SimMailbox, folderId: string, displayName: string): SimFolder {
    const folder = mailbox.folderByIdOrName(folderId);
    if (!folder) throw new Error(`No folder '${folderId}'`);
    folder.displayName = displayName;
    folder.seq = mailbox.nextSeq();
    return folder;
  }

  deleteFolder(mailbox: SimMailbox, folderId: string): void {
    const folder = mailbox.folders.get(folderId);
    if (!folder || folder.id === mailbox.rootFolderId) throw new Error(`Cannot delete folder '${folderId}'`);
    for (const child of mailbox.childFolders(folderId)) this.deleteFolder(mailbox, child.id);
    for (const item of mailbox.itemsIn(folderId)) this.deleteItem(mailbox, item.id);
    mailbox.folders.delete(folderId);
    mailbox.folderTombstones.push({ id: folderId, folderId: folder.parentFolderId, seq: mailbox.nextSeq() });
  }

  /** A stream that came in through import, verified and parsed: becomes a new item in the folder. */
  createImportedItem(
    mailbox: SimMailbox,
    folderId: string,
    spec: PayloadSpec,
    digest: string,
    length: number,
  ): SimItem {
    const folder = mailbox.folder(folderId)!;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const item: SimItem = {
      id: this.newId(),
      folderId: folder.id,
      changeKey: this.newChangeKey(),
      type: spec.messageClass,
      categories: [],
      createdDateTime: now,
      lastModifiedDateTime: now,
      // Exchange recomputes the size of an imported item; it is not the source's.
      size: Math.round(length / 1.2),
      spec,
      seq: mailbox.nextSeq(),
      digest,
      importedDigest: digest,
    };
    mailbox.items.set(item.id, item);
    return item;
  }

  replaceImportedItem(mailbox: SimMailbox, item: SimItem, spec: PayloadSpec, digest: string): SimItem {
    item.spec = spec;
    item.digest = digest;
    item.importedDigest = digest;
    item.changeKey = this.newChangeKey();
    item.lastModifiedDateTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    item.seq = mailbox.nextSeq();
    return item;
  }

  requireItem(mailbox: SimMailbox, itemId: string): SimItem {
    const item = mailbox.items.get(itemId);
    if (!item) throw new Error(`No item '${itemId}' in ${mailbox.upn}`);
    return item;
  }

  exportedLength(item: SimItem): number {
    return payloadLength(item.spec);
  }

  digest(item: SimItem): string {
    item.digest ??= payloadDigest(item.spec, this.integrityKey);
    return item.digest;
  }

  /** The mailbox as a test compares it: folder paths and per-item content digests. */
  inspect(mailbox: SimMailbox, options: { digests?: boolean } = {}) {
    const folders = [...mailbox.folders.values()].map((f) => ({
      id: f.id,
      path: mailbox.folderPath(f.id),
      displayName: f.displayName,
      type: f.type,
      parentFolderId: f.parentFolderId,
      wellKnownName: f.wellKnownName,
    }));
    const items = [...mailbox.items.values()].map((i) => ({
      id: i.id,
      folderId: i.folderId,
      folderPath: mailbox.folderPath(i.folderId),
      type: i.type,
      size: i.size,
      exportedLength: payloadLength(i.spec),
      changeKey: i.changeKey,
      subject: i.spec.subject,
      searchKey: i.spec.searchKey.toString('base64'),
      createdDateTime: i.createdDateTime,
      receivedDateTime: i.spec.receivedDateTime,
      imported: i.importedDigest !== undefined,
      ...(options.digests === false ? {} : { digest: this.digest(i) }),
    }));
    return { mailboxId: mailbox.id, upn: mailbox.upn, kind: mailbox.kind, folders, items };
  }
}

const RECOVERABLE_DELETIONS = 'recoverableitemsdeletions';

/**
 * Recoverable Items, outside the IPM subtree: its root and its deletions folder (the one Graph's docs address, by
 * well-known name; Purges and Versions are not modelled, as the API does not expose them). Their ids come from the mailbox id, not the seeded random, so adding them moves no other id.
 */
function addRecoverableItemsFolders(mailbox: SimMailbox, nonIpmRootId: string): void {
  const idFor = (name: string) =>
    `AQMkAD${createHash('sha256').update(`${mailbox.id}/${name}`).digest('base64').slice(0, 30)}`;
  const root: SimFolder = {
    id: idFor('recoverableitemsroot'),
    displayName: 'Recoverable Items',
    parentFolderId: nonIpmRootId,
    type: 'IPF.Note',
    // Graph's docs address no other Recoverable Items folder by name: strict, the simulator does not either.
    wellKnownName: null,
    seq: mailbox.nextSeq(),
  };
  const deletions: SimFolder = {
    id: idFor(RECOVERABLE_DELETIONS),
    displayName: 'Deletions',
    parentFolderId: root.id,
    type: 'IPF.Note',
    wellKnownName: RECOVERABLE_DELETIONS,
    seq: mailbox.nextSeq(),
  };
  for (const folder of [root, deletions]) mailbox.hiddenFolders.set(folder.id, folder);
}
