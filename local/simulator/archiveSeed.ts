import { addArchive, addAuxiliaryArchive, expandFolder } from './archives.js';
import type { SimMailbox, SimTenant } from './tenant.js';

/** A user's in-place archive, for a seeded tenant. */
export interface ArchiveSeed {
  /** Items in the main archive's own folders. */
  items: number;
  /**
   * Auxiliary archives, each the next link of one chain: level k holds the items of a folder the main archive
   * expands through levels 1…k (so reading it takes k redirects). `[5, 7]`: a two-level chain.
   */
  auxiliaryChain?: number[];
  /** Reported size range of the items, in bytes. */
  sizes?: [number, number];
}

/**
 * The owner's archive: `Archive <year>` folders, the newest with its items in the main archive (and a
 * subfolder), each older one expanded one level further down the auxiliary chain. Returns the archive and its
 * auxiliary mailboxes in chain order.
 */
export function seedArchive(
  tenant: SimTenant,
  owner: SimMailbox,
  seed: ArchiveSeed,
): { archive: SimMailbox; auxiliaries: SimMailbox[] } {
  const archive = addArchive(tenant, owner);
  const addItems = (mailbox: SimMailbox, folderId: string, count: number) => {
    for (let i = 0; i < count; i++)
      tenant.addItem(mailbox, folderId, seed.sizes ? { size: tenant.random.int(seed.sizes[0], seed.sizes[1]) } : {});
  };
  const newest = tenant.ensureFolderPath(archive, 'Archive 2025');
  const invoices = tenant.ensureFolderPath(archive, 'Archive 2025/Invoices');
  addItems(archive, newest.id, Math.ceil(seed.items / 2));
  addItems(archive, invoices.id, Math.floor(seed.items / 2));
  const auxiliaries: SimMailbox[] = [];
  for (const [level, count] of (seed.auxiliaryChain ?? []).entries()) {
    auxiliaries.push(addAuxiliaryArchive(tenant, archive));
    const folder = tenant.ensureFolderPath(archive, `Archive ${2024 - level}`);
    addItems(archive, folder.id, count);
    // Down the chain one link at a time, so the items end in the last mailbox and each link redirects.
    let from = archive;
    for (const aux of auxiliaries) {
      expandFolder(from, folder.id, aux);
      from = aux;
    }
  }
  return { archive, auxiliaries };
}
