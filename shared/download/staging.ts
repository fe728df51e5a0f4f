import type { Readable } from 'node:stream';
import { GraphRequestError, ImportSessionExpiredError, type MailboxClient } from '../graph/index.js';
import type { ImportSessionCache } from '../restore/sessions.js';
import { openVerifiedItem } from '../restore/verifyingStream.js';
import { compactTime } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { DownloadError } from './errors.js';

/** Every staging folder's name starts so; then the time it was made and the download it belongs to. */
export const STAGING_FOLDER_PREFIX = 'MailboxVault staging';

/** `MailboxVault staging 20261202T021100Z dl-…`: the sweep reads the time and the owner from the name alone. */
export function stagingFolderName(downloadId: string, createdAt: Date): string {
  return `${STAGING_FOLDER_PREFIX} ${compactTime(createdAt)} ${downloadId}`;
}

/** The time and download id a staging folder's name carries, or undefined for any other folder. */
export function parseStagingFolderName(name: string): { createdAt: Date; downloadId: string } | undefined {
  const match = /^MailboxVault staging (\d{8})T(\d{6})Z (\S+)$/.exec(name);
  if (!match) return undefined;
  const [, d, t, downloadId] = match as unknown as [string, string, string, string];
  const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4)}Z`;
  return { createdAt: new Date(iso), downloadId };
}

/** How a staged copy was found for reading: by the id import returned, or by listing the staging folder. */
export type IdPath = 'importId' | 'folderListing';

/** A stored item to convert: its blob, checksum and length. */
export interface StoredItem {
  sourceId: string;
  blob: string;
  sha256: string;
  length: number;
}

/** The staging mailbox: the shared mailbox an admin made for conversions, by UPN and mailbox id. */
export interface StagingMailbox {
  upn: string;
  mailboxId: string;
}

/** The staging mailbox the setting names, its mailbox id read once per process. */
export async function resolveStagingMailbox(graph: MailboxClient, upn: string | undefined): Promise<StagingMailbox> {
  if (!upn)
    throw new DownloadError(
      'StagingMailboxNotConfigured',
      'Downloads need a staging mailbox: set MAILBOX_VAULT_STAGING_MAILBOX to the shared mailbox made for them (README, Downloads)',
    );
  const { primaryMailboxId } = await graph.getMailboxIds(upn);
  return { upn, mailboxId: primaryMailboxId };
}

/**
 * Conversions through the staging mailbox: an item from the vault is imported into a folder of its own
 * download, read back as MIME through the mail API, and permanently deleted once read. Imports go through the
 * process's import sessions and the staging mailbox's upload pacing (MailboxLimiter), so every download of the
 * process shares that mailbox's budget and waits its turn rather than failing.
 */
export class StagingConverter {
  constructor(
    private readonly graph: MailboxClient,
    private readonly vault: VaultStore,
    private readonly sessions: ImportSessionCache,
    readonly staging: StagingMailbox,
  ) {}

  /** The download's folder in the staging mailbox: found by its name if an earlier attempt made it, else made. */
  async ensureFolder(name: string): Promise<string> {
    for await (const folder of this.graph.listFolders(this.staging.mailboxId))
      if (folder.displayName === name) return folder.id;
    try {
      return (await this.graph.createFolder(this.staging.mailboxId, { displayName: name, type: 'IPF.Note' })).id;
    } catch (error) {
      if (!(error instanceof GraphRequestError) || error.status !== 409) throw error;
      for await (const folder of this.graph.listFolders(this.staging.mailboxId))
        if (folder.displayName === name) return folder.id;
      throw error;
    }
  }

  /** Deletes a staging folder and whatever is still in it, for good; false when it was gone already. */
  deleteFolder(folderId: string): Promise<boolean> {
    return this.graph.permanentDelete(this.staging.mailboxId, this.staging.upn, { folderId });
  }

  /** Imports one stored item into the folder; the new item's id. */
  async stage(folderId: string, item: StoredItem): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.sessions.get(this.staging.mailboxId);
      try {
        const created = await this.graph.importItem(session, {
          folderId,
          openData: () => openVerifiedItem(this.vault, item),
          length: item.length,
        });
        return created.itemId;
      } catch (error) {
        if (!(error instanceof ImportSessionExpiredError) || attempt >= 3) throw error;
        this.sessions.invalidate(session);
      }
    }
  }

  /**
   * The staged copy's MIME: by the id import returned, which the mail API takes in practice; where it is refused,
   * by the id the staging folder's listing gives (the folder holds this download's items only, one at a time:
   * each is deleted once read, and `clearFolder` removes what a crashed attempt left). Call `release` once the
   * stream is read; `messageId` is the id to delete it by.
   */
  async openMime(
    folderId: string,
    importedId: string,
  ): Promise<{ body: Readable; release: () => void; messageId: string; idPath: IdPath }> {
    const direct = await this.graph.openMessageMime(this.staging.mailboxId, this.staging.upn, importedId);
    if ('body' in direct) return { ...direct, messageId: importedId, idPath: 'importId' };
    const listed = await this.findListed(folderId);
    if (!listed)
      throw new DownloadError(
        'StagedCopyNotFound',
        `The mail API refused the imported item's id (${direct.refused}) and the staging folder does not list it`,
      );
    const viaListing = await this.graph.openMessageMime(this.staging.mailboxId, this.staging.upn, listed);
    if (!('body' in viaListing))
      throw new DownloadError(
        'StagedCopyNotReadable',
        `The mail API refused the listed id too (${viaListing.refused})`,
      );
    return { ...viaListing, messageId: listed, idPath: 'folderListing' };
  }

  private async findListed(folderId: string): Promise<string | undefined> {
    const listed: string[] = [];
    for await (const message of this.graph.listFolderMessages(this.staging.mailboxId, this.staging.upn, folderId))
      listed.push(message.id);
    return listed.length === 1 ? listed[0] : undefined;
  }

  /** Deletes what an earlier, interrupted attempt left in the folder; how many it found. */
  async clearFolder(folderId: string): Promise<number> {
    let cleared = 0;
    for await (const message of this.graph.listFolderMessages(this.staging.mailboxId, this.staging.upn, folderId)) {
      await this.discard(message.id);
      cleared++;
    }
    return cleared;
  }

  /** The staged copy, gone for good once read. */
  async discard(messageId: string): Promise<void> {
    await this.graph.permanentDelete(this.staging.mailboxId, this.staging.upn, { messageId });
  }
}
