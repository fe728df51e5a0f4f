import functions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { MailboxNotFoundError } from '../shared/graph/index.js';
import { parseFolderPath } from '../shared/restore/request.js';
import { getServices } from '../shared/services.js';
import type { ManifestFolder, ManifestItem } from '../shared/vault/records.js';
import { findSnapshot, listSnapshots, readManifest } from '../shared/vault/snapshotCatalog.js';
import { originOf, problem } from './http.js';

const MAILBOX_ID = /^MBX:[0-9a-fA-F-]+@[0-9a-fA-F-]+$/;
const UPN = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;

async function mailboxParam(request: HttpRequest): Promise<{ mailboxId: string } | { response: HttpResponseInit }> {
  const value = request.query.get('mailbox') ?? '';
  if (MAILBOX_ID.test(value)) return { mailboxId: value };
  if (!UPN.test(value))
    return {
      response: problem(400, 'The request is not valid', [
        `mailbox: a user principal name or mailbox id is required, got '${value.slice(0, 80)}'`,
      ]),
    };
  const { graph } = await getServices();
  try {
    return { mailboxId: (await graph.getMailboxIds(value)).primaryMailboxId };
  } catch (error) {
    if (error instanceof MailboxNotFoundError) return { response: problem(404, `No mailbox for '${value}'`) };
    throw error;
  }
}

/** `GET /api/snapshots?mailbox=…`: committed snapshots of a mailbox, newest first. */
export async function listSnapshotsHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const mailbox = await mailboxParam(request);
  if ('response' in mailbox) return mailbox.response;
  const { vault } = await getServices();
  const snapshots = await listSnapshots(vault, mailbox.mailboxId);
  return {
    status: 200,
    jsonBody: {
      mailboxId: mailbox.mailboxId,
      snapshots: snapshots.map((s) => ({
        id: s.snapshotId,
        takenAt: s.takenAt,
        committedAt: s.committedAt,
        status: s.status,
        items: s.itemCount,
        folders: s.folderCount,
        bytes: s.totalBytes,
        failedItems: s.failedItemCount,
        runId: s.runId,
      })),
    },
  };
}

/**
 * `GET /api/snapshots/{id}/items?mailbox=…&folder=Inbox/Projects&top=100&skip=0`: one folder of a snapshot,
 * its sub-folders and a page of its items with what the manifest holds, so an admin can pick what to restore.
 */
export async function browseSnapshot(request: HttpRequest): Promise<HttpResponseInit> {
  const mailbox = await mailboxParam(request);
  if ('response' in mailbox) return mailbox.response;
  const id = request.params.id ?? '';
  const top = Number(request.query.get('top') ?? 100);
  const skip = Number(request.query.get('skip') ?? 0);
  const errors: string[] = [];
  if (!Number.isInteger(top) || top < 1 || top > 1000) errors.push('top: must be a whole number from 1 to 1000');
  if (!Number.isInteger(skip) || skip < 0) errors.push('skip: must be a whole number from 0');
  if (errors.length) return problem(400, 'The request is not valid', errors);
  const { vault } = await getServices();
  const snapshot = await findSnapshot(
    vault,
    mailbox.mailboxId,
    id === 'latest' ? { latest: true } : { snapshotId: id },
  );
  if (!snapshot) return problem(404, `No snapshot '${id}' for this mailbox`);
  const path = parseFolderPath(request.query.get('folder') ?? '').map((n) => n.toLowerCase());
  const folders = new Map<string, ManifestFolder>();
  const itemCounts = new Map<string, number>();
  const items: ManifestItem[] = [];
  let total = 0;
  let current: ManifestFolder | undefined;
  for await (const entry of readManifest(vault, snapshot)) {
    if (entry.kind === 'folder') {
      folders.set(entry.id, entry);
      if (entry.path.length === path.length && entry.path.every((n, i) => n.toLowerCase() === path[i]))
        current ??= entry;
      continue;
    }
    itemCounts.set(entry.folderId, (itemCounts.get(entry.folderId) ?? 0) + 1);
    if (current && entry.folderId === current.id) {
      if (total >= skip && items.length < top) items.push(entry);
      total++;
    }
  }
  if (!current)
    return problem(404, `No folder '${request.query.get('folder') ?? ''}' in snapshot ${snapshot.snapshotId}`);
  const children = [...folders.values()]
    .filter((f) => f.parentId === current!.id)
    .map((f) => ({ id: f.id, name: f.displayName, path: f.path, type: f.type, items: itemCounts.get(f.id) ?? 0 }));
  const next = skip + top < total ? new URL(request.url) : undefined;
  next?.searchParams.set('skip', String(skip + top));
  return {
    status: 200,
    jsonBody: {
      snapshot: { id: snapshot.snapshotId, takenAt: snapshot.takenAt, status: snapshot.status },
      folder: { id: current.id, path: current.path, type: current.type, items: total },
      folders: children,
      items: items.map((i) => ({
        id: i.id,
        type: i.type,
        subject: i.subject ?? null,
        sender: i.sender ?? null,
        receivedDateTime: i.receivedDateTime ?? null,
        createdDateTime: i.createdDateTime ?? null,
        size: i.size,
        storedBytes: i.length,
        stale: i.stale ?? false,
      })),
      ...(next ? { nextLink: `${originOf(request)}${next.pathname}${next.search}` } : {}),
    },
  };
}

// @azure/functions is CommonJS: Node's ESM loader reaches `app` through the default export.
functions.app.http('listSnapshots', {
  route: 'snapshots',
  methods: ['GET'],
  authLevel: 'function',
  handler: listSnapshotsHandler,
});
functions.app.http('browseSnapshot', {
  route: 'snapshots/{id}/items',
  methods: ['GET'],
  authLevel: 'function',
  handler: browseSnapshot,
});
