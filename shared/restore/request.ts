import { z } from 'zod';
import { MailboxVaultError } from '../errors.js';
import { MailboxNotFoundError, type MailboxClient } from '../graph/index.js';
import { recordSnapshotRead, withdrawSnapshotRead } from '../maintenance/expiringSnapshots.js';
import { isMailboxId, mailboxSchema, parseFolderPath, samePath } from '../mailbox/index.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import { findSnapshot, readManifest, type SnapshotSelector } from '../vault/snapshotCatalog.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { archiveSource, archiveTarget } from './archives.js';
import type { RestoreFilters, RestoreRequest } from './types.js';

const mailbox = mailboxSchema;
const instant = z
  .string()
  .refine(
    (v) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(v) && !Number.isNaN(Date.parse(v)),
    'must be an ISO 8601 date or time, such as 2026-11-20T00:00:00Z',
  );
const folderPath = z.string().min(1).max(1024);

/** The body of `POST /api/restores`. Unknown fields are refused, so a typo never silently widens a restore. */
export const RestoreBody = z
  .object({
    sourceMailbox: mailbox,
    /** Restore from the sourceMailbox's in-place archive (a vault mailbox of its own). */
    sourceArchive: z.boolean().default(false),
    snapshot: z
      .string()
      .regex(
        /^(latest|\d{8}T\d{6}Z-[0-9a-f]{8})$/,
        "must be 'latest' or a snapshot id such as 20261123T020000Z-1a2b3c4d",
      )
      .default('latest'),
    asOf: instant.optional(),
    folders: z.array(folderPath).min(1, 'must name at least one folder when given').max(500).optional(),
    itemIds: z
      .array(z.string().min(1).max(512))
      .min(1, 'must name at least one item when given')
      .max(10_000)
      .optional(),
    createdFrom: instant.optional(),
    createdTo: instant.optional(),
    receivedFrom: instant.optional(),
    receivedTo: instant.optional(),
    itemTypes: z
      .array(z.string().regex(/^IPM(\.[\w.-]+)?$/i, 'must be a message class such as IPM.Note'))
      .min(1)
      .max(50)
      .optional(),
    targetMailbox: mailbox.optional(),
    /** Restore into the in-place archive of targetMailbox (or of sourceMailbox). */
    targetArchive: z.boolean().default(false),
    destination: z.enum(['newFolder', 'original', 'folder']).default('newFolder'),
    folderPath: folderPath.optional(),
    collisions: z.enum(['skip', 'copy']).default('skip'),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.asOf && body.snapshot !== 'latest')
      ctx.addIssue({ code: 'custom', path: ['asOf'], message: "give either 'snapshot' or 'asOf', not both" });
    if (body.destination === 'folder' && !body.folderPath)
      ctx.addIssue({ code: 'custom', path: ['folderPath'], message: "is required when destination is 'folder'" });
    if (body.destination !== 'folder' && body.folderPath)
      ctx.addIssue({ code: 'custom', path: ['folderPath'], message: "is only used with destination 'folder'" });
    for (const [from, to] of [
      ['createdFrom', 'createdTo'],
      ['receivedFrom', 'receivedTo'],
    ] as const) {
      if (body[from] && body[to] && Date.parse(body[from]) >= Date.parse(body[to]))
        ctx.addIssue({ code: 'custom', path: [to], message: `must be after ${from}` });
    }
  });

export type RestoreBodyInput = z.infer<typeof RestoreBody>;

/** Why a restore request was refused; the HTTP layer turns each code into its status. */
export type RestoreRequestErrorCode =
  'InvalidRequest' | 'SnapshotNotFound' | 'SnapshotExpiring' | 'UnknownFolder' | 'NothingSelected';

/** A restore request that cannot start; `errors` name each problem for the person who asked. */
export class RestoreRequestError extends MailboxVaultError {
  constructor(
    readonly code: RestoreRequestErrorCode,
    message: string,
    readonly errors: string[],
  ) {
    super(message);
  }
}

export function filtersOf(body: RestoreBodyInput): RestoreFilters {
  const filters: RestoreFilters = {};
  if (body.folders) filters.folders = body.folders.map(parseFolderPath);
  if (body.itemIds) filters.itemIds = body.itemIds;
  for (const key of ['createdFrom', 'createdTo', 'receivedFrom', 'receivedTo'] as const)
    if (body[key]) filters[key] = new Date(body[key]).toISOString();
  if (body.itemTypes) filters.itemTypes = body.itemTypes;
  return filters;
}

/** Whether a manifest item is selected; folder filters match the folder and everything below it. */
export function matches(
  item: ManifestItem,
  folder: ManifestFolder | undefined,
  filters: RestoreFilters,
  itemIds?: Set<string>,
): boolean {
  if (itemIds && !itemIds.has(item.id)) return false;
  if (filters.folders) {
    const path = folder?.path ?? [];
    // A filter selects its folder and everything below: it matches the start of the item's folder path.
    if (!filters.folders.some((f) => samePath(f, path.slice(0, f.length)))) return false;
  }
  if (
    filters.itemTypes &&
    !filters.itemTypes.some(
      (t) => item.type.toLowerCase() === t.toLowerCase() || item.type.toLowerCase().startsWith(`${t.toLowerCase()}.`),
    )
  )
    return false;
  const inRange = (value: string | undefined, from?: string, to?: string) => {
    if (!from && !to) return true;
    if (!value) return false;
    const t = Date.parse(value);
    return (!from || t >= Date.parse(from)) && (!to || t < Date.parse(to));
  };
  return (
    inRange(item.createdDateTime, filters.createdFrom, filters.createdTo) &&
    inRange(item.receivedDateTime ?? item.createdDateTime, filters.receivedFrom, filters.receivedTo)
  );
}

async function resolveMailbox(
  graph: MailboxClient,
  value: string,
  field: string,
): Promise<{ mailboxId: string; upn: string | null }> {
  if (isMailboxId(value)) return { mailboxId: value, upn: null };
  try {
    return { mailboxId: (await graph.getMailboxIds(value)).primaryMailboxId, upn: value };
  } catch (error) {
    if (error instanceof MailboxNotFoundError)
      throw new RestoreRequestError('InvalidRequest', 'The request is not valid', [
        `${field}: '${value}' has no Exchange Online mailbox`,
      ]);
    throw error;
  }
}

/**
 * Turns a validated body into a restore request: mailboxes resolved, the snapshot found among committed ones,
 * and the selection checked to hold at least one item, so that a restore that would do nothing, or could not
 * start, is refused before anything is written.
 */
export async function resolveRestoreRequest(
  graph: MailboxClient,
  vault: VaultStore,
  body: RestoreBodyInput,
  meta: { restoreId: string; requestedAt: string; requestedBy: string; requesterOid?: string | null },
): Promise<{ request: RestoreRequest; snapshot: SnapshotRecord; selected: number }> {
  const owner = await resolveMailbox(graph, body.sourceMailbox, 'sourceMailbox');
  const source = body.sourceArchive ? await archiveSource(vault, owner, body.sourceMailbox) : owner;
  const targetOwner = body.targetMailbox ? await resolveMailbox(graph, body.targetMailbox, 'targetMailbox') : owner;
  const target = body.targetArchive
    ? await archiveTarget(graph, vault, targetOwner, body.targetMailbox ?? body.sourceMailbox)
    : body.targetMailbox
      ? targetOwner
      : source;
  const snapshot = await findRequestedSnapshot(vault, body, source.mailboxId);
  const filters = filtersOf(body);
  const selected = await countSelection(vault, snapshot, filters);
  const request: RestoreRequest = {
    restoreId: meta.restoreId,
    requestedAt: meta.requestedAt,
    source: { ...source, snapshotId: snapshot.snapshotId, takenAt: snapshot.takenAt },
    target,
    filters,
    destination: destinationOf(body),
    collisions: body.collisions,
    requestedBy: meta.requestedBy,
    requesterOid: meta.requesterOid ?? null,
  };
  return { request, snapshot, selected };
}

/**
 * Writes a resolved restore's request, then checks that its snapshot is still kept: the restore's half of the
 * handshake with pruning (expiringSnapshots.ts states the invariant). Once this returns, no prune deletes the
 * snapshot until the restore's report or cancel is written, provided its orchestration is started by the deadline
 * returned (`startsInTime`). When a prune is deleting the snapshot, the request is withdrawn (it would keep
 * nothing alive but an empty folder) and the restore refused: SnapshotExpiring.
 */
export async function recordRestoreRequest(vault: VaultStore, request: RestoreRequest): Promise<string> {
  const reader = { kind: 'restore' as const, id: request.restoreId };
  const startBy = await recordSnapshotRead(vault, reader, request, request.source);
  if (startBy) return startBy;
  throw snapshotExpiring('restore', request.source.snapshotId);
}

/** SnapshotExpiring: a prune began deleting the snapshot as this restore or download was requested. */
export function snapshotExpiring(reader: 'restore' | 'download', snapshotId: string): RestoreRequestError {
  return new RestoreRequestError('SnapshotExpiring', `Snapshot pruned while the ${reader} started`, [
    `snapshot: '${snapshotId}' is being deleted by the retention policy (a prune of the mailbox began as this ` +
      `${reader} was requested); choose a newer snapshot`,
  ]);
}

/** Deletes a request no restore was started for, and its marker, so it protects no snapshot from pruning. */
export async function withdrawRestoreRequest(vault: VaultStore, request: RestoreRequest): Promise<void> {
  await withdrawSnapshotRead(vault, { kind: 'restore', id: request.restoreId }, request.source.mailboxId);
}

/** The snapshot the body names (an id, `latest`, or `asOf`); SnapshotNotFound says which one was missing. */
async function findRequestedSnapshot(
  vault: VaultStore,
  body: RestoreBodyInput,
  mailboxId: string,
): Promise<SnapshotRecord> {
  const selector: SnapshotSelector = body.asOf
    ? { asOf: body.asOf }
    : body.snapshot === 'latest'
      ? { latest: true }
      : { snapshotId: body.snapshot };
  const snapshot = await findSnapshot(vault, mailboxId, selector);
  if (snapshot) return snapshot;
  const what =
    'asOf' in selector
      ? `no snapshot of ${body.sourceMailbox} was completed at or before ${body.asOf}`
      : 'latest' in selector
        ? `${body.sourceMailbox} has no committed snapshot yet`
        : `snapshot '${body.snapshot}' of ${body.sourceMailbox} does not exist`;
  throw new RestoreRequestError('SnapshotNotFound', 'Snapshot not found', [`snapshot: ${what}`]);
}

/** How many of the snapshot's items the filters select; refused when a folder is unknown or none is. */
async function countSelection(vault: VaultStore, snapshot: SnapshotRecord, filters: RestoreFilters): Promise<number> {
  const itemIds = filters.itemIds ? new Set(filters.itemIds) : undefined;
  const folders = new Map<string, ManifestFolder>();
  let selected = 0;
  for await (const entry of readManifest(vault, snapshot)) {
    if (entry.kind === 'folder') folders.set(entry.id, entry);
    else if (matches(entry, folders.get(entry.folderId), filters, itemIds)) selected++;
  }
  if (filters.folders) refuseUnknownFolders(filters.folders, [...folders.values()], snapshot);
  if (selected === 0)
    throw new RestoreRequestError('NothingSelected', 'The selection is empty', [
      `No item of snapshot ${snapshot.snapshotId} matches the filters`,
    ]);
  return selected;
}

function refuseUnknownFolders(wantedFolders: string[][], folders: ManifestFolder[], snapshot: SnapshotRecord): void {
  const known = folders.map((f) => f.path);
  const missing = wantedFolders.filter((wanted) => !known.some((path) => samePath(path, wanted)));
  if (missing.length)
    throw new RestoreRequestError(
      'UnknownFolder',
      'The selection names folders the snapshot does not have',
      missing.map((f) => `folders: '${f.join('/')}' is not in snapshot ${snapshot.snapshotId}`),
    );
}

function destinationOf(body: RestoreBodyInput): RestoreRequest['destination'] {
  return body.destination === 'folder'
    ? { mode: 'folder', folderPath: parseFolderPath(body.folderPath!) }
    : { mode: body.destination };
}
