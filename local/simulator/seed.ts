import { seedArchive, type ArchiveSeed } from './archiveSeed.js';
import type { SimMailbox, SimTenant } from './tenant.js';

/** Folder paths (under the mailbox root) that exercise names real users create: unicode, punctuation, look-alikes. */
export const AWKWARD_FOLDERS: Array<{ path: string | string[]; type?: string }> = [
  { path: 'Inbox/Projects' },
  { path: 'Inbox/Projects/2024 – Q3 (draft)' },
  { path: 'Inbox/Projekte Über/Größe' },
  { path: 'Inbox/Отчёты' },
  { path: 'Inbox/会議メモ' },
  { path: ['Inbox', 'a/b slash? no: colon'] },
  { path: 'Inbox/100% done & dusted' },
  { path: 'Inbox/trailing dot.' },
  { path: 'Inbox/emoji 📁 folder' },
  { path: 'Archive/2023' },
  { path: 'Team Calendar', type: 'IPF.Appointment' },
  { path: 'Suppliers', type: 'IPF.Contact' },
];

export interface MailboxSeed {
  upn: string;
  kind?: 'user' | 'shared';
  items: number;
  /** Exact exported lengths of extra large items placed in Inbox. */
  largeItems?: number[];
  /** Reported size range of the ordinary items, in bytes; default mostly mail-sized with some attachments. */
  sizes?: [number, number];
  /** An in-place archive (with auxiliary archives) for this user; Graph names it on beta only. */
  archive?: ArchiveSeed;
}

export interface TenantSeed {
  mailboxes: MailboxSeed[];
  /** Users in the directory without an Exchange mailbox. */
  usersWithoutMailbox?: string[];
}

/** Spreads `count` items over the mailbox's folders: most in Inbox, some everywhere else. */
export function fillMailbox(tenant: SimTenant, mailbox: SimMailbox, seed: MailboxSeed): void {
  for (const folder of AWKWARD_FOLDERS) tenant.ensureFolderPath(mailbox, folder.path, folder.type);
  const folders = [...mailbox.folders.values()].filter((f) => f.id !== mailbox.rootFolderId);
  const inbox = mailbox.folderByIdOrName('inbox')!;
  for (let i = 0; i < seed.items; i++) {
    const folder = tenant.random.next() < 0.4 ? inbox : tenant.random.pick(folders);
    tenant.addItem(mailbox, folder.id, seed.sizes ? { size: tenant.random.int(seed.sizes[0], seed.sizes[1]) } : {});
  }
  for (const length of seed.largeItems ?? []) {
    tenant.addItem(mailbox, inbox.id, {
      exportedLength: length,
      size: Math.round(length / 1.25),
      subject: `Large attachment ${Math.round(length / 1e6)} MB`,
    });
  }
}

export function seedTenant(tenant: SimTenant, seed: TenantSeed): SimTenant {
  for (const mailboxSeed of seed.mailboxes) {
    const mailbox = tenant.addMailbox(mailboxSeed.upn, { kind: mailboxSeed.kind ?? 'user' });
    fillMailbox(tenant, mailbox, mailboxSeed);
    if (mailboxSeed.archive) seedArchive(tenant, mailbox, mailboxSeed.archive);
  }
  for (const upn of seed.usersWithoutMailbox ?? []) tenant.addUserWithoutMailbox(upn);
  return tenant;
}

/** The tenant `npm start` backs up when no real tenant is configured. */
export const DEMO_TENANT: TenantSeed = {
  mailboxes: [
    { upn: 'adele.vance@contoso.example', items: 300, largeItems: [24_000_000] },
    { upn: 'lee.gu@contoso.example', items: 200 },
    { upn: 'megan.bowen@contoso.example', items: 150 },
    { upn: 'support@contoso.example', kind: 'shared', items: 120 },
  ],
  usersWithoutMailbox: ['room-booking-bot@contoso.example'],
};
