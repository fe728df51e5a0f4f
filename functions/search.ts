import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getServices } from '../shared/services.js';
import { queryWords, searchSnapshots, vaultManifests, type ItemQuery } from '../shared/vault/itemSearch.js';
import { findSnapshot, listSnapshots } from '../shared/vault/snapshotCatalog.js';
import { problem, registerApiRoute } from './http.js';
import { countParam, instantParam, snapshotParam } from './queryParams.js';
import { itemJson, mailboxParam } from './snapshots.js';

/** The query of a search, or the 400 naming each bad parameter. */
function searchQuery(request: HttpRequest): { query: ItemQuery; snapshot: string; top: number } | { errors: string[] } {
  const errors: string[] = [];
  const words = queryWords(request.query.get('q') ?? '');
  const sender = request.query.get('sender')?.trim() || undefined;
  const receivedFrom = instantParam(request, 'from', errors);
  const receivedTo = instantParam(request, 'to', errors);
  const snapshot = snapshotParam(request, errors, true);
  const top = countParam(request, 'top', { min: 1, max: 500, default: 50 }, errors);
  if (!words.length && !sender && !receivedFrom && !receivedTo)
    errors.push('q, sender, from or to: give at least one (subject words, a sender, or a received date range)');
  if (receivedFrom && receivedTo && receivedFrom >= receivedTo) errors.push('to: must be after from');
  if (errors.length) return { errors };
  return { query: { words, sender, receivedFrom, receivedTo }, snapshot, top };
}

/**
 * `GET /api/search?mailbox=…&q=words&sender=…&from=…&to=…&snapshot=latest|all|{id}&top=50`: items whose subject
 * holds every word, from a sender, received in a range, in one snapshot or in every snapshot of the mailbox
 * (newest first, each item version once, in the newest snapshot that has it). Manifests are streamed.
 */
export async function searchItems(request: HttpRequest): Promise<HttpResponseInit> {
  const mailbox = await mailboxParam(request);
  if ('response' in mailbox) return mailbox.response;
  const parsed = searchQuery(request);
  if ('errors' in parsed) return problem(400, 'The request is not valid', parsed.errors);
  const { vault } = await getServices();
  const { snapshot, query, top } = parsed;
  const snapshots =
    snapshot === 'all'
      ? await listSnapshots(vault, mailbox.mailboxId)
      : [
          await findSnapshot(
            vault,
            mailbox.mailboxId,
            snapshot === 'latest' ? { latest: true } : { snapshotId: snapshot },
          ),
        ];
  if (!snapshots[0] || snapshots.includes(undefined))
    return problem(
      404,
      snapshot === 'all' || snapshot === 'latest'
        ? 'This mailbox has no snapshot yet'
        : `No snapshot '${snapshot}' for this mailbox`,
    );
  const result = await searchSnapshots(
    snapshots as NonNullable<(typeof snapshots)[number]>[],
    query,
    top,
    vaultManifests(vault),
  );
  return {
    status: 200,
    jsonBody: {
      mailboxId: mailbox.mailboxId,
      snapshotsSearched: result.snapshotsSearched,
      itemsScanned: result.itemsScanned,
      more: result.more,
      hits: result.hits.map((h) => ({
        snapshotId: h.snapshotId,
        takenAt: h.takenAt,
        folderPath: h.folderPath,
        ...itemJson(h.item),
      })),
    },
  };
}

// Self-service users search their own mailbox only: mailboxParam applies the policy's selfServiceOwnMailbox.
registerApiRoute('searchItems', 'GET', 'search', { role: 'reader', selfService: true }, searchItems);
