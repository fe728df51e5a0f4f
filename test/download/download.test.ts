import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SimItem, SimMailbox } from '../../local/simulator/index.js';
import { renderMime } from '../../local/simulator/mime.js';
import { parseStagingFolderName, stagingFolderName } from '../../shared/download/staging.js';
import type { DownloadReport } from '../../shared/download/types.js';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';
import { readMboxrd, readZip } from '../support/archives.js';
import { readAuditTrail } from '../support/auditTrail.js';

const SOURCE = 'dana@contoso.example';
const STAGING = 'mailbox-vault-staging@contoso.example';
const FOLDER = 'Legal Hold 2026';
/** A smaller folder for the crash cases: three batches of 25 and one of 5. */
const SMALL_FOLDER = 'Interrupted';
/** A calendar item and a contact, each in a folder of its own kind, and messages beside them in a third. */
const EVENTS = 'Calendar/Board 2026';
const PEOPLE = 'Contacts/Counsel';
const CASE = 'Inbox/Case 12';
let stack: Stack;
let oldSnapshot: string;
let deletedItem: SimItem;
let event: SimItem;
let contact: SimItem;
let caseMessages: SimItem[];

interface DownloadStatus {
  report: DownloadReport;
  download: { url: string } | null;
}

const mime = (item: SimItem) => Buffer.concat([...renderMime(item.spec)]);
const messageIdOf = (eml: Buffer) => /^Message-ID: (<[^>]+>)/m.exec(eml.toString('latin1'))?.[1];

function staging(): SimMailbox {
  return stack.sim.tenant.mailbox(STAGING);
}

/** What is left in the staging mailbox: items, and folders that are not Exchange's own. */
function stagingLeftovers() {
  const mailbox = staging();
  return {
    items: mailbox.items.size,
    folders: [...mailbox.folders.values()]
      .filter((f) => parseStagingFolderName(f.displayName))
      .map((f) => f.displayName),
  };
}

async function fetchBytes(path: string): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const response = await fetch(`${stack.app.baseUrl}${path}`);
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

async function runDownload(body: unknown): Promise<{ id: string; status: DownloadStatus }> {
  const started = await stack.api('POST', '/api/downloads', body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  await stack.app.host.waitForCompletion(started.body.id);
  return { id: started.body.id, status: (await stack.api('GET', `/api/downloads/${started.body.id}`)).body };
}

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 30, sizes: [2_000, 20_000] },
        { upn: STAGING, kind: 'shared', items: 0 },
      ],
    },
    { settings: { MAILBOX_VAULT_STAGING_MAILBOX: STAGING, MAILBOX_VAULT_SCOPE_USERS: SOURCE } },
  );
  const source = stack.sim.tenant.mailbox(SOURCE);
  const folder = stack.sim.tenant.ensureFolderPath(source, `Inbox/${FOLDER}`);
  for (let i = 0; i < 200; i++)
    stack.sim.tenant.addItem(source, folder.id, { size: 3_000 + (i % 5) * 500, type: 'IPM.Note' });
  const small = stack.sim.tenant.ensureFolderPath(source, `Inbox/${SMALL_FOLDER}`);
  for (let i = 0; i < 80; i++) stack.sim.tenant.addItem(source, small.id, { size: 2_500, type: 'IPM.Note' });
  const events = stack.sim.tenant.ensureFolderPath(source, EVENTS, 'IPF.Appointment');
  event = stack.sim.tenant.addItem(source, events.id, {
    size: 3_000,
    type: 'IPM.Appointment',
    subject: 'Board meeting',
  });
  const people = stack.sim.tenant.ensureFolderPath(source, PEOPLE, 'IPF.Contact');
  contact = stack.sim.tenant.addItem(source, people.id, {
    size: 2_000,
    type: 'IPM.Contact',
    subject: 'Outside counsel',
  });
  const caseFolder = stack.sim.tenant.ensureFolderPath(source, CASE);
  caseMessages = Array.from({ length: 3 }, () =>
    stack.sim.tenant.addItem(source, caseFolder.id, { size: 2_500, type: 'IPM.Note' }),
  );
  const first = await runBackup(stack);
  oldSnapshot = (first.status.report as RunReport).mailboxes.find((m) => m.upn === SOURCE)!.snapshotId!;
  // An item is deleted from the live mailbox, and the next night's snapshot no longer has it.
  deletedItem = [...source.items.values()].find(
    (i) => i.type === 'IPM.Note' && !source.folderPath(i.folderId).includes(FOLDER),
  )!;
  stack.sim.tenant.deleteItem(source, deletedItem.id);
  await runBackup(stack);
}, 120_000);
afterAll(() => stack.close());

describe('one item as EML', () => {
  it('comes from an old snapshot although deleted from the live mailbox since, headers and body as the item', async () => {
    const path = `/api/snapshots/${oldSnapshot}/items/${encodeURIComponent(deletedItem.id)}/content?mailbox=${SOURCE}`;
    const { status, headers, bytes } = await fetchBytes(path);
    expect(status, bytes.toString('utf8').slice(0, 300)).toBe(200);
    expect(headers.get('content-type')).toBe('message/rfc822');
    expect(headers.get('content-disposition')).toMatch(/^attachment; filename=".*\.eml"; filename\*=UTF-8''/);
    expect(headers.get('x-staged-id-path')).toBe('importId');
    const text = bytes.toString('utf8');
    const { spec } = deletedItem;
    expect(text).toContain(`From: ${spec.senderEmail}\r\n`);
    expect(text).toContain(`Message-ID: <${spec.searchKey.toString('hex')}@simulator.contoso.example>\r\n`);
    expect(text).toContain(`Date: ${new Date(spec.receivedDateTime).toUTCString().replace(/GMT$/, '+0000')}\r\n`);
    expect(text).toContain(`Subject of this message: ${spec.subject}`);
    // The whole message, attachment included, is the item's.
    expect(bytes.equals(mime(deletedItem))).toBe(true);
    // The staged copy goes once the stream has ended: after the last byte, not before it.
    await vi.waitFor(() => expect(stagingLeftovers()).toEqual({ items: 0, folders: [] }), { timeout: 15_000 });
    // Audited once, in the append-only trail, with the verified identity (npm start's local operator here).
    const downloadId = headers.get('x-download-id');
    const records = await readAuditTrail(stack.audit);
    const mine = records.filter((r) => r.action === 'download' && r.subject === downloadId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ outcome: 'accepted', who: { name: expect.any(String) } });
  });

  it('refuses a calendar item and a contact, saying to restore them instead', async () => {
    for (const [item, kind] of [
      [event, 'a calendar item'],
      [contact, 'a contact'],
    ] as const) {
      // The snapshot holds it, as what it is.
      const listed = await stack.api(
        'GET',
        `/api/snapshots/${oldSnapshot}/items?mailbox=${SOURCE}&folder=${encodeURIComponent(item === event ? EVENTS : PEOPLE)}`,
      );
      expect(listed.body.items.map((i: { id: string }) => i.id)).toEqual([item.id]);
      const { status, bytes } = await fetchBytes(
        `/api/snapshots/${oldSnapshot}/items/${encodeURIComponent(item.id)}/content?mailbox=${SOURCE}`,
      );
      expect(status, bytes.toString('utf8').slice(0, 300)).toBe(422);
      const text = bytes.toString('utf8');
      expect(text).toContain(`This is ${kind}`);
      expect(text).toContain('restore it instead');
    }
    // Nothing was staged for them.
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [] });
  });

  it('falls back to listing the staging folder when the mail API refuses the id import returned', async () => {
    stack.sim.options.messageIds = 'listingOnly';
    try {
      const path = `/api/snapshots/${oldSnapshot}/items/${encodeURIComponent(deletedItem.id)}/content?mailbox=${SOURCE}`;
      const { status, headers, bytes } = await fetchBytes(path);
      expect(status).toBe(200);
      expect(headers.get('x-staged-id-path')).toBe('folderListing');
      expect(bytes.equals(mime(deletedItem))).toBe(true);
      // The staged copy goes once the stream has ended: after the last byte, not before it.
      await vi.waitFor(() => expect(stagingLeftovers()).toEqual({ items: 0, folders: [] }), { timeout: 15_000 });
    } finally {
      stack.sim.options.messageIds = 'importIds';
    }
  });
});

describe('a folder of 200 items', () => {
  const folderItems = () => {
    const source = stack.sim.tenant.mailbox(SOURCE);
    return [...source.items.values()].filter((i) => source.folderPath(i.folderId) === `Inbox/${FOLDER}`);
  };

  it('as one MBOX: every item exactly once, byte for byte, and the staging mailbox empty after', async () => {
    const { id, status } = await runDownload({ sourceMailbox: SOURCE, folders: [`Inbox/${FOLDER}`], format: 'mbox' });
    const report = status.report as DownloadReport;
    expect(report.status).toBe('Completed');
    expect(report.counts).toMatchObject({ selected: 200, converted: 200, failed: 0 });
    expect(report.idPaths).toEqual({ importId: 200, folderListing: 0 });
    expect(status.download?.url).toMatch(new RegExp(`/api/downloads/${id}/file$`));
    const file = await fetchBytes(`/api/downloads/${id}/file`);
    expect(file.headers.get('content-type')).toBe('application/mbox');
    const messages = readMboxrd(file.bytes);
    expect(messages).toHaveLength(200);
    const expected = new Map(folderItems().map((i) => [messageIdOf(mime(i))!, mime(i)]));
    const seen = new Set<string>();
    for (const message of messages) {
      const messageId = messageIdOf(message)!;
      expect(seen.has(messageId)).toBe(false);
      seen.add(messageId);
      expect(message.equals(expected.get(messageId)!)).toBe(true);
    }
    expect(seen.size).toBe(200);
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [] });
  }, 120_000);

  it('as a ZIP of EML files: every item exactly once, byte for byte', async () => {
    const { id, status } = await runDownload({ sourceMailbox: SOURCE, folders: [`Inbox/${FOLDER}`], format: 'zip' });
    expect((status.report as DownloadReport).counts.converted).toBe(200);
    const file = await fetchBytes(`/api/downloads/${id}/file`);
    const entries = await readZip(file.bytes);
    expect(entries.size).toBe(200);
    const expected = new Map(folderItems().map((i) => [messageIdOf(mime(i))!, mime(i)]));
    const seen = new Set<string>();
    for (const [name, eml] of entries) {
      expect(name).toMatch(/^\d{5} .*\.eml$/);
      const messageId = messageIdOf(eml)!;
      expect(seen.has(messageId)).toBe(false);
      seen.add(messageId);
      expect(eml.equals(expected.get(messageId)!)).toBe(true);
    }
    expect(seen.size).toBe(200);
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [] });

    // A folder gone (maintenance deletes it past the policy): a young download's routes say 404, not "Running";
    // one older than a week's work, 410 (deleted with the policy, if it existed).
    for await (const name of stack.vault.listNames(`downloads/${id}/`)) await stack.vault.deleteBlob(name);
    expect((await stack.api('GET', `/api/downloads/${id}`)).status).toBe(404);
    expect((await fetchBytes(`/api/downloads/${id}/file`)).status).toBe(404);
    const old = 'download-20250101T040000Z-0a0b0c0d';
    expect((await stack.api('GET', `/api/downloads/${old}`)).status).toBe(410);
    expect((await fetchBytes(`/api/downloads/${old}/file`)).status).toBe(410);
  }, 120_000);
});

describe('a selection with a calendar item and a contact', () => {
  it('converts the messages and names the others in the report, with why and what to do instead', async () => {
    const { id, status } = await runDownload({
      sourceMailbox: SOURCE,
      folders: [EVENTS, PEOPLE, CASE],
      format: 'mbox',
    });
    const report = status.report as DownloadReport;
    expect(report.status).toBe('Completed');
    expect(report.counts).toEqual({ selected: 5, converted: 3, notDownloadable: 2, failed: 0 });
    const reasonOf = (kind: string) =>
      `This is ${kind}: Microsoft Graph renders only messages as files (no .ics or .vcf), so restore it instead (POST /api/restores with its itemIds)`;
    expect([...report.notDownloadable].sort((a, b) => a.type.localeCompare(b.type))).toEqual([
      {
        sourceItemId: event.id,
        type: 'IPM.Appointment',
        folderPath: EVENTS,
        subject: 'Board meeting',
        reason: reasonOf('a calendar item'),
      },
      {
        sourceItemId: contact.id,
        type: 'IPM.Contact',
        folderPath: PEOPLE,
        subject: 'Outside counsel',
        reason: reasonOf('a contact'),
      },
    ]);
    // The file holds the messages, and only them.
    const messages = readMboxrd((await fetchBytes(`/api/downloads/${id}/file`)).bytes);
    expect(messages.map((m) => messageIdOf(m)).sort()).toEqual(caseMessages.map((i) => messageIdOf(mime(i))).sort());
    for (const item of caseMessages) expect(messages.some((m) => m.equals(mime(item)))).toBe(true);
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [] });
  }, 120_000);
});

describe('after a crash', () => {
  it('a batch whose result was lost is run again without converting anything twice', async () => {
    stack.app.host.injectActivityFault({ activity: 'convertDownloadBatch', when: 'after', times: 1 });
    const { id, status } = await runDownload({
      sourceMailbox: SOURCE,
      folders: [`Inbox/${SMALL_FOLDER}`],
      format: 'mbox',
    });
    expect((status.report as DownloadReport).counts).toMatchObject({ converted: 80, failed: 0 });
    const messages = readMboxrd((await fetchBytes(`/api/downloads/${id}/file`)).bytes);
    expect(new Set(messages.map((m) => messageIdOf(m))).size).toBe(80);
    expect(messages).toHaveLength(80);
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [] });
  }, 120_000);

  it('an export that dies mid-way still leaves the staging mailbox empty', async () => {
    stack.app.host.injectActivityFault({
      activity: 'convertDownloadBatch',
      when: 'before',
      times: 10,
      match: (input) => (input as { batch: number }).batch === 3,
    });
    const { status } = await runDownload({ sourceMailbox: SOURCE, folders: [`Inbox/${SMALL_FOLDER}`], format: 'zip' });
    const report = status.report as DownloadReport;
    expect(report.status).toBe('Failed');
    expect(report.counts.converted).toBe(75);
    expect(report.failures).toHaveLength(5);
    expect(report.stagingCleaned).toBe(true);
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [] });
  }, 120_000);

  it('the sweep removes what a killed worker left, and leaves a young folder alone', async () => {
    const mailbox = staging();
    const old = stack.sim.tenant.addFolder(
      mailbox,
      mailbox.rootFolderId,
      stagingFolderName('item-20200101T000000Z-deadbeef', new Date('2020-01-01T00:00:00Z')),
    );
    stack.sim.tenant.addItem(mailbox, old.id, { size: 2_000 });
    const young = stack.sim.tenant.addFolder(mailbox, mailbox.rootFolderId, stagingFolderName('item-x', new Date()));
    await stack.app.host.invokeTimer('sweepDownloads');
    expect(stagingLeftovers()).toEqual({ items: 0, folders: [young.displayName] });
    stack.sim.tenant.deleteFolder(mailbox, young.id);
  });
});
