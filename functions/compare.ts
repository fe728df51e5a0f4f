import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { parseFolderPath, folderPathText } from '../shared/mailbox/index.js';
import { getServices } from '../shared/services.js';
import { vaultManifests } from '../shared/vault/itemSearch.js';
import type { SnapshotRecord } from '../shared/vault/records.js';
import { findSnapshot } from '../shared/vault/snapshotCatalog.js';
import {
  CHANGE_KINDS,
  diffSnapshots,
  pageOfChanges,
  summarizeChanges,
  type ChangeKind,
  type ItemChange,
} from '../shared/vault/snapshotCompare.js';
import { problem, registerApiRoute } from './http.js';
import { countParam } from './queryParams.js';
import { itemJson, mailboxParam } from './snapshots.js';

/** Most item ids "restore what is missing" hands back: what one restore request takes (RestoreBody's itemIds). */
const MISSING_IDS_MAX = 10_000;

const SNAPSHOT_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** `from=` (the base snapshot) and `to=` (the other) of one mailbox, both committed. */
async function snapshotPair(
  request: HttpRequest,
): Promise<{ base: SnapshotRecord; other: SnapshotRecord } | { response: HttpResponseInit }> {
  const mailbox = await mailboxParam(request);
  if ('response' in mailbox) return mailbox;
  const ids = { from: request.query.get('from') ?? '', to: request.query.get('to') ?? '' };
  const errors = Object.entries(ids)
    .filter(([, id]) => !SNAPSHOT_ID.test(id))
    .map(([name]) => `${name}: a snapshot id such as 20261123T020000Z-1a2b3c4d is required`);
  if (errors.length) return { response: problem(400, 'The request is not valid', errors) };
  const { vault } = await getServices();
  const [base, other] = await Promise.all(
    [ids.from, ids.to].map((snapshotId) => findSnapshot(vault, mailbox.mailboxId, { snapshotId })),
  );
  if (!base || !other) return { response: problem(404, `No snapshot '${!base ? ids.from : ids.to}' for this mailbox`) };
  return { base, other };
}

async function changesOf(pair: { base: SnapshotRecord; other: SnapshotRecord }): Promise<AsyncIterable<ItemChange>> {
  const { vault } = await getServices();
  return diffSnapshots(pair.base, pair.other, vaultManifests(vault));
}

const snapshotJson = (s: SnapshotRecord) => ({ id: s.snapshotId, takenAt: s.takenAt, items: s.itemCount });

/** `GET /api/compare?mailbox=…&from={id}&to={id}`: per folder, how many items were added, changed, deleted, moved. */
export async function compareSnapshots(request: HttpRequest): Promise<HttpResponseInit> {
  const pair = await snapshotPair(request);
  if ('response' in pair) return pair.response;
  const summary = await summarizeChanges(await changesOf(pair));
  return { status: 200, jsonBody: { from: snapshotJson(pair.base), to: snapshotJson(pair.other), ...summary } };
}

/** `GET /api/compare/items?…&kind=deleted&folder=Inbox&top=100&skip=0`: the items behind one count, a page. */
export async function compareItems(request: HttpRequest): Promise<HttpResponseInit> {
  const pair = await snapshotPair(request);
  if ('response' in pair) return pair.response;
  const errors: string[] = [];
  const kind = request.query.get('kind') as ChangeKind;
  if (!CHANGE_KINDS.includes(kind)) errors.push(`kind: must be one of ${CHANGE_KINDS.join(', ')}`);
  const top = countParam(request, 'top', { min: 1, max: 1000, default: 100 }, errors);
  const skip = countParam(request, 'skip', { min: 0, max: Number.MAX_SAFE_INTEGER, default: 0 }, errors);
  if (errors.length) return problem(400, 'The request is not valid', errors);
  const folder = request.query.get('folder');
  const filter = { kind, ...(folder !== null ? { folderPath: folderPathText(parseFolderPath(folder)) } : {}) };
  const page = await pageOfChanges(await changesOf(pair), filter, { skip, top });
  return {
    status: 200,
    jsonBody: {
      kind,
      total: page.total,
      items: page.items.map((c) => ({
        folderPath: c.folderPath,
        ...(c.fromFolderPath !== undefined ? { fromFolderPath: c.fromFolderPath } : {}),
        ...itemJson(c.item),
      })),
    },
  };
}

/**
 * `GET /api/compare/missing?mailbox=…&from={older}&to={newer}[&folder=…]`: the items of the older snapshot the
 * newer one no longer has (moved items are not missing), as the `itemIds` of a restore from the older snapshot.
 */
export async function missingItems(request: HttpRequest): Promise<HttpResponseInit> {
  const pair = await snapshotPair(request);
  if ('response' in pair) return pair.response;
  const folder = request.query.get('folder');
  const itemIds: string[] = [];
  let bytes = 0;
  let total = 0;
  for await (const change of await changesOf(pair)) {
    if (change.kind !== 'deleted') continue;
    if (folder !== null && change.folderPath !== folderPathText(parseFolderPath(folder))) continue;
    total++;
    if (itemIds.length < MISSING_IDS_MAX) {
      itemIds.push(change.item.id);
      bytes += change.item.size;
    }
  }
  return {
    status: 200,
    jsonBody: { snapshot: pair.base.snapshotId, total, itemIds, bytes, truncated: total > itemIds.length },
  };
}

// Self-service users compare snapshots of their own mailbox only: snapshotPair's mailboxParam applies the policy.
registerApiRoute('compareSnapshots', 'GET', 'compare', { role: 'reader', selfService: true }, compareSnapshots);
registerApiRoute('compareItems', 'GET', 'compare/items', { role: 'reader', selfService: true }, compareItems);
registerApiRoute('missingItems', 'GET', 'compare/missing', { role: 'reader', selfService: true }, missingItems);
