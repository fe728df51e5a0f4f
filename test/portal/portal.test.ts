import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import type { Simulator } from '../../local/simulator/index.js';
import { startApp, type RunningApp } from '../support/appProcess.js';
import { startSeededSimulator } from '../support/graph.js';
import { azuriteConnectionString } from '../support/vault.js';
import { CHROMIUM, chromiumAvailable, screenshot, seriousViolations } from './browser.js';

/**
 * The portal in a real browser (Debian's Chromium, headless, driven by playwright-core) against the app started
 * as `npm start` starts it: an admin signs in as the local operator, finds an email by a word of its subject,
 * restores it into a new folder, watches the restore complete, and the simulator has the item. Each page passes
 * axe-core's WCAG A/AA checks with no serious or critical violation, and is photographed.
 */

const ROOT = join(import.meta.dirname, '..', '..');
/** The mailbox downloads convert through. */
const STAGING = 'staging@contoso.example';
const UPN = 'adele@contoso.example';
const SUBJECT = 'Zeppelin hangar lease renewal';
const enabled = chromiumAvailable();

let sim: Simulator;
let app: RunningApp;
let browser: Browser;
let page: Page;

async function expectAccessible(name: string): Promise<void> {
  await screenshot(page, name);
  expect(await seriousViolations(page), `axe on the ${name} page`).toEqual([]);
}

/** A backup through the API, waited for: the second snapshot the compare page needs. */
async function backUpAgain(): Promise<void> {
  const started = (await (await fetch(`${app.baseUrl}/api/backups`, { method: 'POST' })).json()) as { id: string };
  for (;;) {
    const status = (await (await fetch(`${app.baseUrl}/api/backups/${started.id}`)).json()) as { report?: unknown };
    if (status.report) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.skipIf(!enabled)('the portal in Chromium', () => {
  beforeAll(async () => {
    // `npm run build` builds the portal so; the app started from source serves dist/portal all the same.
    await build({ configFile: join(ROOT, 'portal', 'vite.config.ts'), logLevel: 'error' });
    sim = await startSeededSimulator({
      mailboxes: [
        { upn: UPN, items: 20 },
        { upn: 'megan@contoso.example', items: 5 },
        { upn: STAGING, items: 0 },
      ],
    });
    const mailbox = sim.tenant.mailbox(UPN);
    sim.tenant.addItem(mailbox, 'inbox', { subject: SUBJECT, senderEmail: 'facilities@contoso.example' });
    app = await startApp({
      MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
      MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.demoToken,
      MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
      MAILBOX_VAULT_CONTAINER: `portal-${randomBytes(6).toString('hex')}`,
      MAILBOX_VAULT_SCOPE_USERS: `${UPN},megan@contoso.example`,
      MAILBOX_VAULT_STAGING_MAILBOX: STAGING,
      MAILBOX_VAULT_GRAPH_LOG: 'warnings',
    });
    // The user deletes the email after the night's backup: what the admin is asked to bring back.
    const deleted = [...mailbox.items.values()].find((i) => i.spec.subject === SUBJECT)!;
    sim.tenant.deleteItem(mailbox, deleted.id);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await sim?.close();
  });

  it('signs in through App Service Authentication as the local operator with the keyboard, and shows the dashboard', async () => {
    // Where signing out leaves a browser: the sign-in page, whose button goes to /.auth/login/aad and back.
    await page.goto(`${app.baseUrl}/api/portal/signed-out`);
    await page.getByRole('link', { name: 'Sign in with Microsoft' }).waitFor();
    await expectAccessible('sign-in');
    await page.getByRole('link', { name: 'Sign in with Microsoft' }).focus();
    await page.keyboard.press('Enter');
    // The local host's stand-in for Entra ID's page (local/host/easyAuthLogin.ts).
    const operator = page.getByRole('button', { name: /^Sign in as the local operator/ });
    await operator.waitFor();
    await operator.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { name: 'Dashboard', level: 1 }).isVisible()).toBe(true);
    expect(new URL(page.url()).pathname).toBe('/api/portal/');
    expect((await page.context().cookies()).map((c) => c.name)).toContain('AppServiceAuthSession');
    await expect
      .poll(() => page.getByText('Signed in as local-operator@mailbox-vault.localhost').isVisible())
      .toBe(true);
    await page.getByRole('heading', { name: 'Recent runs' }).waitFor();
    const runs = page.locator('section', { has: page.getByRole('heading', { name: 'Recent runs' }) });
    expect(await runs.getByText(app.backupId).isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: UPN }).isVisible()).toBe(true);
    await expectAccessible('dashboard');
  });

  it('browses a mailbox: its snapshots, folders with counts, and a page of items', async () => {
    await page.getByRole('link', { name: UPN }).click();
    await page.getByRole('heading', { name: `Mailbox ${UPN}` }).waitFor();
    await page.getByRole('button', { name: 'Inbox' }).click();
    await page.getByRole('heading', { name: 'Folder Inbox' }).waitFor();
    await page.getByRole('cell', { name: SUBJECT, exact: true }).waitFor();
    await expectAccessible('mailbox');
  });

  it('downloads a message as EML, and a selection as one MBOX, leaving the staging mailbox empty', async () => {
    const fileOf = async (click: () => Promise<void>) => {
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), click()]);
      return (await readFile((await download.path())!)).toString('utf8');
    };
    const eml = await fileOf(() => page.getByRole('button', { name: `Download ${SUBJECT} as EML` }).click());
    expect(eml).toContain(`Subject: ${SUBJECT}\r\n`);
    await page.getByRole('checkbox', { name: `Select ${SUBJECT}` }).check();
    const mbox = await fileOf(() => page.getByRole('button', { name: 'Download selected as MBOX' }).click());
    expect(mbox.startsWith('From ')).toBe(true);
    const subjectLines = mbox.split('\n').filter((line) => line.replace(/\r$/, '') === `Subject: ${SUBJECT}`);
    expect(subjectLines).toHaveLength(1);
    await page.getByRole('checkbox', { name: `Select ${SUBJECT}` }).uncheck();
    await expect.poll(() => sim.tenant.mailbox(STAGING).items.size, { timeout: 15_000 }).toBe(0);
  });

  it('finds an email by a word of its subject, restores it into a new folder, and it arrives', async () => {
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    await page.locator('#search-mailbox option', { hasText: UPN }).waitFor({ state: 'attached' });
    await page.getByLabel('Mailbox').selectOption(UPN);
    await page.getByLabel('Subject words').fill('zeppelin');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('cell', { name: SUBJECT, exact: true }).waitFor();
    expect(await page.getByRole('row').count()).toBe(2);
    // In one snapshot chosen by its time, as well as in the newest or in all.
    const { snapshots } = (await (await fetch(`${app.baseUrl}/api/snapshots?mailbox=${UPN}`)).json()) as {
      snapshots: { id: string }[];
    };
    await page.getByLabel('Snapshots').selectOption(snapshots.at(-1)!.id);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText(/^1 item\(s\) found in 1 snapshot\(s\)/).waitFor();
    await page.getByRole('cell', { name: SUBJECT, exact: true }).waitFor();
    await expectAccessible('search');
    await page.getByRole('checkbox', { name: `Select ${SUBJECT}` }).check();
    await page.getByRole('button', { name: 'Restore 1 selected item(s)' }).click();

    await page.getByRole('heading', { name: 'Restore', level: 1 }).waitFor();
    expect(await page.getByRole('radio', { name: /1 item\(s\) selected in search/ }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: /A new folder/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText(/^1 item\(s\), .* into adele@contoso\.example, a new folder\.$/).waitFor();
    await expectAccessible('restore-wizard');
    await page.getByRole('button', { name: 'Start restore' }).click();

    await page.getByRole('heading', { name: /^Restore restore-/ }).waitFor();
    await page.getByTestId('restore-status').getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByRole('heading', { name: 'Report' }).waitFor();
    await expectAccessible('restore-progress');
    const restoreId = new URL(page.url()).hash.replace('#/restores/', '');
    const status = (await (await fetch(`${app.baseUrl}/api/restores/${restoreId}`)).json()) as {
      report: { counts: { imported: number }; destination: { root: string } };
    };
    expect(status.report.counts.imported).toBe(1);
    const mailbox = sim.tenant.mailbox(UPN);
    const arrived = [...mailbox.items.values()].filter(
      (i) => i.spec.subject === SUBJECT && mailbox.folderPath(i.folderId).startsWith(status.report.destination.root),
    );
    expect(arrived).toHaveLength(1);
  });

  it('shows a 4xx answer as the API said it, not a blank page', async () => {
    await page.getByRole('link', { name: 'Restore', exact: true }).click();
    await page.locator('#restore-source option', { hasText: UPN }).waitFor({ state: 'attached' });
    await page.getByLabel('Mailbox backed up').selectOption(UPN);
    await page.getByLabel(/^Folder paths/).fill('No such folder');
    await page.getByRole('button', { name: 'Preview' }).click();
    const alert = page.getByRole('alert');
    await alert.getByText('The selection names folders the snapshot does not have (422)').waitFor();
    expect(await alert.textContent()).toContain("folders: 'No such folder' is not in snapshot");
  });

  it('compares two snapshots and offers to restore what the newer one no longer has', async () => {
    await backUpAgain();
    await page.getByRole('link', { name: 'Compare', exact: true }).click();
    await page.locator('#compare-mailbox option', { hasText: UPN }).waitFor({ state: 'attached' });
    await page.getByLabel('Mailbox').selectOption(UPN);
    await page.locator('#compare-from option').nth(1).waitFor({ state: 'attached' });
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.getByRole('heading', { name: 'Changes per folder' }).waitFor();
    // The restored copy is new in the restore's folder; the email deleted from the Inbox is missing.
    await page.getByText(/: 1 added, 0 changed, 1 deleted, 0 moved\./).waitFor();
    await expectAccessible('compare');
    await page.getByRole('button', { name: '1 deleted in Inbox: show them' }).click();
    await page.getByRole('cell', { name: SUBJECT, exact: true }).waitFor();
    await page.getByRole('button', { name: 'Restore what is missing (1 items)' }).click();
    await page.getByRole('radio', { name: /1 item\(s\) .* missing from the snapshot of/ }).waitFor();
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText(/^1 item\(s\), /).waitFor();
  });
});
