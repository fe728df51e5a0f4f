import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { generatePayload } from '../../local/simulator/payload.js';
import { seedArchive, type SimMailbox, type Simulator } from '../../local/simulator/index.js';
import { ImportRedirectedError, RedirectRefusedError } from '../../shared/graph/index.js';
import { clientFor, collect, startSeededSimulator } from '../support/graph.js';

/**
 * The client follows an auto-expanding archive's redirects (graph-mailbox-api.md §5.3) on every folder and item
 * read, against the simulator's archive with a two-level auxiliary chain, and follows only redirects that stay
 * on Graph's mailbox paths, at most five hops. An import into an auxiliary archive's folder says which mailbox.
 */

const upn = 'ines@contoso.example';
let sim: Simulator;
let archive: SimMailbox;
let auxiliaries: SimMailbox[];

/** The archive folder whose items are `levels` redirects away. */
function folderAt(levels: number): string {
  const hopsTo = (id: string) => {
    let hops = 0;
    for (let m: SimMailbox | undefined = archive; m?.expandedFolders.has(id); m = m.expandedFolders.get(id)) hops++;
    return hops;
  };
  return [...archive.expandedFolders.keys()].find((id) => hopsTo(id) === levels)!;
}

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 3, sizes: [2_000, 6_000] }] });
  // Six links: the folder at the end is one redirect more than a client follows.
  ({ archive, auxiliaries } = seedArchive(sim.tenant, sim.tenant.mailbox(upn), {
    items: 2,
    auxiliaryChain: [2, 3, 1, 1, 1, 1],
    sizes: [2_000, 6_000],
  }));
});
afterAll(() => sim.close());

describe('archive redirects (308)', () => {
  it('are followed down a two-level chain on folder and item reads, delta included', async () => {
    const { client } = clientFor(sim, { apiVersion: 'beta' });
    const folderId = folderAt(2);
    const holder = auxiliaries[1]!;
    const expected = holder
      .itemsIn(folderId)
      .map((i) => i.id)
      .sort();
    const listed = await collect(client.listItems(archive.id, folderId));
    expect(listed.map((i) => i.id).sort()).toEqual(expected);
    const pages = await collect(client.listItemChanges(archive.id, folderId));
    expect(pages.flatMap((p) => p.changed.map((i) => i.id)).sort()).toEqual(expected);
    // The next round goes straight to the mailbox holding the items.
    expect(pages.at(-1)!.deltaLink!.toLowerCase()).toContain(encodeURIComponent(holder.id).toLowerCase());
    expect((await client.getFolder(archive.id, folderId)).id).toBe(folderId);
    expect((await client.getItem(archive.id, folderId, expected[0]!)).id).toBe(expected[0]);
    expect(archive.redirectsAnswered.reads).toBeGreaterThanOrEqual(4);
    expect(auxiliaries[0]!.redirectsAnswered.reads).toBeGreaterThanOrEqual(4);
  });

  it('in a $batch answer are followed too (an item read there for its properties)', async () => {
    const { client } = clientFor(sim, { apiVersion: 'beta' });
    const folderId = folderAt(2);
    const [item] = auxiliaries[1]!.itemsIn(folderId);
    const { items, missing } = await client.getItems(archive.id, [{ id: item!.id, folderId }], {
      extendedProperties: ['String 0x0037'],
    });
    expect(missing).toEqual([]);
    expect(items.get(item!.id)?.singleValueExtendedProperties).toEqual([
      { id: 'String 0x0037', value: item!.spec.subject },
    ]);
  });

  it('stop after five hops, with an error naming the redirect', async () => {
    const { client } = clientFor(sim, { apiVersion: 'beta' });
    expect(await collect(client.listItems(archive.id, folderAt(5)))).toHaveLength(1);
    await expect(collect(client.listItems(archive.id, folderAt(6)))).rejects.toBeInstanceOf(RedirectRefusedError);
  });

  it('are not followed off Graph or out of /admin/exchange/mailboxes, and no token goes there', async () => {
    const seenElsewhere: string[] = [];
    const elsewhere = await listen((req, res) => {
      seenElsewhere.push(req.headers.authorization ?? '(no token)');
      res.end('{}');
    });
    const locations = [
      `${origin(elsewhere)}/beta/admin/exchange/mailboxes/MBX:a@b/folders/x/items`,
      '/beta/users/ines@contoso.example/messages',
      'not a url ::',
    ];
    for (const location of locations) {
      const redirecting = await listen((_req, res) => res.writeHead(308, { Location: location }).end());
      const { client } = clientFor(sim, { apiVersion: 'beta', baseUrl: origin(redirecting) });
      await expect(collect(client.listItems('MBX:a@b', 'x'))).rejects.toBeInstanceOf(RedirectRefusedError);
      redirecting.close();
    }
    expect(seenElsewhere).toEqual([]);
    elsewhere.close();
  });
});

describe('archive redirects of exports and imports', () => {
  it("name the exportItems URL of the mailbox holding an item; one elsewhere than Graph's is refused", () => {
    const { client } = clientFor(sim, { apiVersion: 'beta' });
    const aux = auxiliaries[0]!;
    expect(client.exportRedirectMailbox(`${sim.baseUrl}/beta/admin/exchange/mailboxes/${aux.id}/exportItems`)).toBe(
      aux.id,
    );
    expect(() =>
      client.exportRedirectMailbox(`https://attacker.example/beta/admin/exchange/mailboxes/${aux.id}/exportItems`),
    ).toThrow(RedirectRefusedError);
  });

  it('an import into an auxiliary archive’s folder is refused (409) with the mailbox whose session it needs', async () => {
    const { client } = clientFor(sim, { apiVersion: 'beta' });
    const folderId = folderAt(1);
    const item = auxiliaries[0]!.itemsIn(folderId)[0]!;
    const data = Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
    const session = await client.createImportSession(archive.id);
    const attempt = client.importItem(session, {
      folderId,
      openData: () => Readable.from([data]),
      length: data.length,
    });
    await expect(attempt).rejects.toEqual(expect.objectContaining({ mailboxId: auxiliaries[0]!.id }));
    await expect(attempt).rejects.toBeInstanceOf(ImportRedirectedError);
    const there = await client.createImportSession(auxiliaries[0]!.id);
    const imported = await client.importItem(there, {
      folderId,
      openData: () => Readable.from([data]),
      length: data.length,
    });
    expect(auxiliaries[0]!.items.get(imported.itemId)?.importedDigest).toBe(sim.tenant.digest(item));
  });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function origin(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
