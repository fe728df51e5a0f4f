/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read raw wire JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimMailbox, Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

/**
 * The simulator serves archives, auxiliary archives and Recoverable Items as Graph's docs describe them, over
 * raw HTTP: beta names the archive and redirects reads of expanded folders (308), exportItems names the mailbox
 * holding an item, an import session of the wrong mailbox answers 409; v1.0 does neither; deletes answer 204.
 */

const upn = 'ines@contoso.example';
let sim: Simulator;
let owner: SimMailbox;
let archive: SimMailbox;
let aux1: SimMailbox;
let aux2: SimMailbox;

async function call(method: string, url: string, body?: unknown) {
  const response = await fetch(url, {
    method,
    redirect: 'manual',
    headers: { Authorization: `Bearer ${sim.demoToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

const mailboxUrl = (mailbox: SimMailbox, version = 'beta') =>
  `${sim.baseUrl}/${version}/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}`;

/** The folder of the archive whose items live two links down the auxiliary chain. */
function chainedFolder(): string {
  return [...archive.expandedFolders.keys()].find((id) => aux1.expandedFolders.has(id))!;
}

beforeAll(async () => {
  sim = await startSeededSimulator(
    {
      mailboxes: [{ upn, items: 6, sizes: [2_000, 8_000], archive: { items: 4, auxiliaryChain: [3, 5] } }],
    },
    RAW_HTTP,
  );
  owner = sim.tenant.mailbox(upn);
  archive = sim.tenant.mailboxes.get(owner.archiveMailboxId!)!;
  [aux1, aux2] = [...sim.tenant.mailboxes.values()].filter((m) => m.kind === 'auxiliaryArchive') as [
    SimMailbox,
    SimMailbox,
  ];
});
afterAll(() => sim.close());

describe('archives', () => {
  it('are named by settings/exchange on beta only, and refused on v1.0', async () => {
    const beta = await call('GET', `${sim.baseUrl}/beta/users/${upn}/settings/exchange`);
    expect(beta.body).toMatchObject({ primaryMailboxId: owner.id, inPlaceArchiveMailboxId: archive.id });
    const v1 = await call('GET', `${sim.baseUrl}/v1.0/users/${upn}/settings/exchange`);
    expect(v1.body.primaryMailboxId).toBe(owner.id);
    expect(v1.body).not.toHaveProperty('inPlaceArchiveMailboxId');
    expect((await call('GET', `${mailboxUrl(archive, 'v1.0')}/folders`)).status).toBe(400);
  });

  it('redirect reads of an expanded folder down the auxiliary chain with 308s', async () => {
    const folderId = chainedFolder();
    const first = await call('GET', `${mailboxUrl(archive)}/folders/${encodeURIComponent(folderId)}/items?$top=2`);
    expect(first.status).toBe(308);
    const location = first.headers.get('location')!;
    // Graph's casing, as a field report saw it: a client must match the path without regard to case.
    expect(location).toContain(`/beta/admin/Exchange/Mailboxes/${aux1.id}/folders/`);
    expect(new URL(location).searchParams.get('$top')).toBe('2'); // the same request, query and all
    const second = await call('GET', location);
    expect(second.status).toBe(308);
    const third = await call('GET', second.headers.get('location')!);
    expect(third.status).toBe(200);
    expect(third.body.value.map((i: any) => i.id).every((id: string) => aux2.items.has(id))).toBe(true);
    // The main archive still lists the folder, with where it physically is and how many items it has.
    const folder = await call('GET', `${mailboxUrl(archive)}/folders?$top=100`);
    const listed = folder.body.value.find((f: any) => f.id === folderId);
    expect(listed.parentMailboxUrl).toContain(aux2.id);
    expect(listed.totalItemCount).toBe(aux2.itemsIn(folderId).length);
  });

  it('take folder ids only, not well-known names', async () => {
    expect((await call('GET', `${mailboxUrl(archive)}/folders/recoverableitemsdeletions`)).status).toBe(404);
  });

  it('name, per item, the mailbox an exported item lives in', async () => {
    const [id] = aux2.itemsIn(chainedFolder()).map((i) => i.id);
    const fromArchive = await call('POST', `${mailboxUrl(archive)}/exportItems`, { itemIds: [id] });
    const entry = fromArchive.body.value[0];
    const error = entry.error ?? entry.Error;
    expect(error).toEqual({
      code: 'ErrorArchiveFolderMovedPermanently',
      message: `${sim.baseUrl}/beta/admin/exchange/mailboxes/${aux1.id}/exportItems`,
    });
    const fromAux1 = await call('POST', `${mailboxUrl(aux1)}/exportItems`, { itemIds: [id] });
    expect((fromAux1.body.value[0].error ?? fromAux1.body.value[0].Error).message).toContain(aux2.id);
    const fromAux2 = await call('POST', `${mailboxUrl(aux2)}/exportItems`, { itemIds: [id] });
    expect(fromAux2.body.value[0].data).toBeTruthy();
  });

  it('answer an import into an expanded folder with a 409 naming the mailbox whose session it needs', async () => {
    const session = await call('POST', `${mailboxUrl(archive)}/createImportSession`);
    const response = await fetch(session.body.importUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ FolderId: chainedFolder(), Mode: 'create', Data: 'AQAAAA==' }),
    });
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      Message: `Invalid import session. The target session is expected in mailbox ${aux1.id}.`,
    });
  });
});

describe('deletes', () => {
  it('soft-delete an item into recoverableitemsdeletions, outside folder listings and delta', async () => {
    const item = owner.itemsIn(owner.folderByIdOrName('inbox')!.id)[0] ?? sim.tenant.addItem(owner, 'inbox');
    const url = `${mailboxUrl(owner, 'v1.0')}/folders/inbox/items/${encodeURIComponent(item.id)}`;
    expect((await call('DELETE', url)).status).toBe(400); // disposalType is part of the documented request
    expect((await call('DELETE', `${url}?disposalType=softDelete`)).status).toBe(204);
    const deletions = await call('GET', `${mailboxUrl(owner, 'v1.0')}/folders/recoverableitemsdeletions/items`);
    expect(deletions.body.value.map((i: any) => i.id)).toContain(item.id);
    const tree = await call('GET', `${mailboxUrl(owner, 'v1.0')}/folders/delta`);
    expect(tree.body.value.some((f: any) => /^recoverableitems/.test(f.wellKnownName ?? ''))).toBe(false);
  });

  it('refuse a hard delete under hold (403), and answer 204 without', async () => {
    const [item] = owner.itemsIn(owner.folderByIdOrName('recoverableitemsdeletions')!.id);
    const url = `${mailboxUrl(owner)}/folders/recoverableitemsdeletions/items/${encodeURIComponent(item!.id)}`;
    owner.onHold = true;
    expect((await call('DELETE', `${url}?disposalType=hardDelete`)).status).toBe(403);
    expect(owner.items.has(item!.id)).toBe(true);
    owner.onHold = false;
    expect((await call('DELETE', `${url}?disposalType=hardDelete`)).status).toBe(204);
    expect(owner.items.has(item!.id)).toBe(false);
  });

  it('delete a folder (204), by its URL or with /$ref, but never a well-known one', async () => {
    const one = sim.tenant.ensureFolderPath(owner, 'Old/One');
    const two = sim.tenant.ensureFolderPath(owner, 'Old Two');
    expect((await call('DELETE', `${mailboxUrl(owner)}/folders/${encodeURIComponent(one.id)}`)).status).toBe(204);
    expect(
      (await call('DELETE', `${mailboxUrl(owner, 'v1.0')}/folders/${encodeURIComponent(two.id)}/$ref`)).status,
    ).toBe(204);
    expect(owner.folder(one.id) ?? owner.folder(two.id)).toBeUndefined();
    expect((await call('DELETE', `${mailboxUrl(owner)}/folders/inbox`)).status).toBe(400);
  });
});
