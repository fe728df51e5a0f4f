import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium); another with MAILBOX_VAULT_CHROMIUM. Never a downloaded browser. */
export const CHROMIUM = process.env.MAILBOX_VAULT_CHROMIUM ?? '/usr/bin/chromium';

/** Set by .ci/run: CI fails rather than skip the browser tests. */
const REQUIRED = process.env.MAILBOX_VAULT_BROWSER_TESTS === 'required';

export const SKIP_MESSAGE =
  `Browser tests of the portal skipped: no Chromium at ${CHROMIUM}. Install it with ` +
  '`sudo apt-get install -y chromium` (Debian/Ubuntu), or point MAILBOX_VAULT_CHROMIUM at a Chromium binary.';

/** Whether the browser tests can run here; says clearly when they are skipped, and refuses to skip in CI. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (REQUIRED) throw new Error(`${SKIP_MESSAGE} CI requires them (MAILBOX_VAULT_BROWSER_TESTS=required).`);
  console.warn(SKIP_MESSAGE);
  return false;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * axe-core's WCAG 2.x A and AA rules on the page as it is. Injected through the DevTools protocol, which the
 * page's Content-Security-Policy (no inline scripts) rightly does not let a script tag do.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Screenshots of each page, for the README and for a person looking at a failed run. */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'portal');

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
