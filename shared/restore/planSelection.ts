import { folderPathText, samePath } from '../mailbox/index.js';
import type { ManifestReader } from '../vault/manifestReader.js';
import type { ManifestFolder } from '../vault/records.js';
import { matches } from './request.js';
import type { PlannedImport, RestoreRequest } from './types.js';

/** An item the restore takes, with the source folder whose target folder it goes to. */
export type SelectedItem = Omit<PlannedImport, 'targetFolderId'> & { folderId: string };

/** A level of a folder path to ensure in the target: its name, and what finds or creates it. */
export type PathLevel = { name: string; wellKnownName: string | null; type: string };

/**
 * The items the request's filters select from the `examined`-th candidate on (a candidate: an item of a folder the
 * filters name, or of any folder), at most `budget` candidates looked at; `progress` counts them and says whether
 * the candidates ran out. With folder filters and an indexed manifest, only the chunks of those folders are read.
 */
export async function* selectItems(
  manifest: ManifestReader,
  folders: Map<string, ManifestFolder>,
  request: RestoreRequest,
  from: { examined: number; budget: number },
  progress: { examined: number; exhausted: boolean },
): AsyncGenerator<SelectedItem> {
  const itemIds = request.filters.itemIds ? new Set(request.filters.itemIds) : undefined;
  const wanted = request.filters.folders;
  const inWantedFolder = (folderId: string) => {
    const path = folders.get(folderId)?.path;
    return !wanted || (path !== undefined && wanted.some((w) => samePath(w, path.slice(0, w.length))));
  };
  if (from.budget <= 0) return;
  for await (const entry of manifest.itemsFrom(inWantedFolder, from.examined)) {
    progress.examined++;
    if (matches(entry, folders.get(entry.folderId), request.filters, itemIds))
      yield {
        sourceId: entry.id,
        folderId: entry.folderId,
        blob: entry.blob,
        sha256: entry.sha256,
        length: entry.length,
        folderPath: folderPathText(folders.get(entry.folderId)?.path ?? []),
        ...(entry.subject !== undefined ? { subject: entry.subject } : {}),
        ...(entry.searchKey ? { searchKey: entry.searchKey } : {}),
      };
    if (progress.examined >= from.budget) return;
  }
  progress.exhausted = true;
}

/** `Restored 2026-11-23 15.04.05` (UTC), from the request time, so a re-planned restore finds its own folder. */
export function restoreFolderName(requestedAt: string): string {
  return `Restored ${requestedAt.slice(0, 19).replace('T', ' ').replace(/:/g, '.')}`;
}

/** The folders the restore lands under: a new `Restored …` folder, a folder the admin named, or none. */
export function destinationLevels(request: RestoreRequest): PathLevel[] {
  const plainFolder = (name: string): PathLevel => ({ name, wellKnownName: null, type: 'IPF.Note' });
  if (request.destination.mode === 'newFolder') return [plainFolder(restoreFolderName(request.requestedAt))];
  if (request.destination.mode === 'folder') return request.destination.folderPath!.map(plainFolder);
  return [];
}

/**
 * A source folder's path as levels to ensure. Well-known folders map onto the target's own (its Inbox may be
 * called Posteingang) only when restoring in place.
 */
export function sourceLevels(
  folders: Map<string, ManifestFolder>,
  folderId: string,
  request: RestoreRequest,
): PathLevel[] {
  const chain: ManifestFolder[] = [];
  for (let f = folders.get(folderId); f && f.path.length > 0; f = f.parentId ? folders.get(f.parentId) : undefined)
    chain.unshift(f);
  const inPlace = request.destination.mode === 'original';
  return chain.map((f) => ({ name: f.displayName, wellKnownName: inPlace ? f.wellKnownName : null, type: f.type }));
}
