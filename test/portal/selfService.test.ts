import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import type { Simulator } from '../../local/simulator/index.js';
import { startApp, type RunningApp } from '../support/appProcess.js';
import { startSeededSimulator } from '../support/graph.js';
import { azuriteConnectionString } from '../support/vault.js';
import { CHROMIUM, chromiumAvailable, screenshot, seriousViolations } from './browser.js';

/**
 * Self-service in a real browser, against the app started as `npm start` starts it with MAILBOX_VAULT_SELF_SERVICE
 * on: a user with no role of the app signs in through App Service Authentication (the local host's stand-in for
 * Entra ID), sees their own mailbox and no other (no dashboard, no mailbox list, no other restore target), finds,
 * downloads and restores their own email, and is refused someone else's mailbox with the API's 403 message, whether
 * they navigate there or call the API by hand.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const OWN = 'adele@contoso.example';
const OTHER = 'megan@contoso.example';
const STAGING = 'staging@contoso.example';
const SUBJECT = 'Lighthouse keeper rota for December';
const OTHER_SUBJECT = 'Confidential salary review for Megan';
const enabled = chromiumAvailable();

let sim: Simulator;
let app: RunningApp;
let browser: Browser;
let page: Page;

async function expectAccessible(name: string): Promise<void> {
  await screenshot(page, name);
  expect(await seriousViolations(page), `axe on the ${name} page`).toEqual([]);
}

/** A call of the API from the signed-in page itself, with its session cookie: what a crafted request would get. */
async function callFromPage(path: string, init: { method?: string; body?: unknown } = {}) {
  return page.evaluate(
    async ({ path, method, body }) => {
      const response = await fetch(path, {
        method: method ?? 'GET',
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as { error?: { rule?: string } } };
    },
    { path, method: init.method, body: init.body },
  );
}

describe.skipIf(!enabled)('self-service in the portal, in Chromium', () => {
  beforeAll(async () => {
    await build({ configFile: join(ROOT, 'portal', 'vite.config.ts'), logLevel: 'error' });
    sim = await startSeededSimulator({
      mailboxes: [
        { upn: OWN, items: 12 },
        { upn: OTHER, items: 6 },
        { upn: STAGING, items: 0 },
      ],
    });
    sim.tenant.addItem(sim.tenant.mailbox(OWN), 'inbox', { subject: SUBJECT, senderEmail: 'harbour@contoso.example' });
    sim.tenant.addItem(sim.tenant.mailbox(OTHER), 'inbox', {
      subject: OTHER_SUBJECT,
      senderEmail: 'hr@contoso.example',
    });
    app = await startApp({
      MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
      MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.demoToken,
      MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
      MAILBOX_VAULT_CONTAINER: `selfservice-${randomBytes(6).toString('hex')}`,
      MAILBOX_VAULT_SCOPE_USERS: `${OWN},${OTHER}`,
      MAILBOX_VAULT_STAGING_MAILBOX: STAGING,
      MAILBOX_VAULT_SELF_SERVICE: 'true',
      MAILBOX_VAULT_GRAPH_LOG: 'warnings',
    });
    // The user deletes their email after the night's backup: what they bring back themselves.
    const mailbox = sim.tenant.mailbox(OWN);
    sim.tenant.deleteItem(mailbox, [...mailbox.items.values()].find((i) => i.spec.subject === SUBJECT)!.id);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await sim?.close();
  });

  it('signs in as a user without a role and lands on their own mailbox, with no dashboard', async () => {
    await page.goto(`${app.baseUrl}/api/portal/signed-out`);
    await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
    await page.getByLabel('User principal name').fill(OWN);
    await page.getByRole('button', { name: 'Sign in as this user' }).click();
    await page.getByRole('heading', { name: `Mailbox ${OWN}`, level: 1 }).waitFor();
    expect(await page.getByText(`Signed in as ${OWN} (self-service: your own mailbox)`).isVisible()).toBe(true);
    const nav = page.getByRole('navigation', { name: 'Portal' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['My mailbox', 'Search', 'Compare', 'Restore']);
    await page.getByRole('button', { name: 'Inbox' }).click();
    await page.getByRole('cell', { name: SUBJECT, exact: true }).waitFor();
    await expectAccessible('self-service-mailbox');
  });

  it('downloads one of their own messages as EML', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.getByRole('button', { name: `Download ${SUBJECT} as EML` }).click(),
    ]);
    expect((await readFile((await download.path())!)).toString('utf8')).toContain(`Subject: ${SUBJECT}\r\n`);
  });

  it('searches only their own mailbox and restores into it, offered no other target', async () => {
    await page.getByRole('link', { name: 'Search', exact: true }).click();
    const options = page.locator('#search-mailbox option');
    await options.first().waitFor({ state: 'attached' });
    expect(await options.allTextContents()).toEqual([OWN]);
    await page.getByLabel('Subject words').fill('lighthouse');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('cell', { name: SUBJECT, exact: true }).waitFor();
    await page.getByRole('checkbox', { name: `Select ${SUBJECT}` }).check();
    await page.getByRole('button', { name: 'Restore 1 selected item(s)' }).click();

    await page.getByRole('heading', { name: 'Restore', level: 1 }).waitFor();
    expect(await page.locator('#restore-source option').allTextContents()).toEqual([OWN]);
    expect(await page.locator('#restore-target').count()).toBe(0);
    expect(await page.getByText(`Into the same mailbox (${OWN}).`).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText(/^1 item\(s\), .* into adele@contoso\.example, a new folder\.$/).waitFor();
    await expectAccessible('self-service-restore');
    await page.getByRole('button', { name: 'Start restore' }).click();
    await page.getByTestId('restore-status').getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });
    const mailbox = sim.tenant.mailbox(OWN);
    const arrived = [...mailbox.items.values()].filter((i) => i.spec.subject === SUBJECT);
    expect(arrived).toHaveLength(1);
    expect(mailbox.folderPath(arrived[0]!.folderId)).toMatch(/^Restored /);
  });

  it("is refused another user's mailbox with the API's 403 message when navigating there", async () => {
    await page.goto(`${app.baseUrl}/api/portal/#/mailbox/${encodeURIComponent(OTHER)}`);
    const alert = page.getByRole('alert');
    await alert.getByText('Self-service shows your own mailbox only (403)').waitFor();
    expect(await alert.textContent()).toContain(`mailbox: not the mailbox of ${OWN}`);
    expect(await page.getByText(OTHER_SUBJECT).count()).toBe(0);
    await expectAccessible('self-service-refused');
  });

  it('is refused by the API when calling it by hand for another mailbox, the mailbox list or the dashboard', async () => {
    const search = await callFromPage(`/api/search?mailbox=${OTHER}&q=salary`);
    expect(search).toMatchObject({ status: 403, body: { error: { rule: 'selfServiceOwnMailbox' } } });
    const snapshots = await callFromPage(`/api/snapshots?mailbox=${OTHER}`);
    expect(snapshots).toMatchObject({ status: 403, body: { error: { rule: 'selfServiceOwnMailbox' } } });
    const intoOther = await callFromPage('/api/restores/preview', {
      method: 'POST',
      body: { sourceMailbox: OWN, targetMailbox: OTHER },
    });
    expect(intoOther).toMatchObject({ status: 403, body: { error: { rule: 'restoreIntoOtherMailbox' } } });
    for (const path of ['/api/mailboxes', '/api/dashboard'])
      expect(await callFromPage(path), path).toMatchObject({ status: 403, body: { error: { rule: 'role' } } });
  });
});
