import { describe, expect, it } from 'vitest';
import { refuseCrossSiteChange } from '../../shared/access/crossSite.js';
import { AccessRefusal } from '../../shared/access/refusal.js';

/** The portal's session cookie is sent with every request to the app: another site's page must not change anything. */
const APP = 'https://mailbox-vault.azurewebsites.net/api/restores';
const headers = (values: Record<string, string>) => new Headers(values);

function refusal(method: string, values: Record<string, string>): string | undefined {
  try {
    refuseCrossSiteChange(method, headers(values), APP);
    return undefined;
  } catch (error) {
    if (error instanceof AccessRefusal) return error.rule;
    throw error;
  }
}

describe('changes asked for by another site', () => {
  it('are refused when the browser says so, by Sec-Fetch-Site or by Origin', () => {
    expect(refusal('POST', { 'sec-fetch-site': 'cross-site' })).toBe('crossSite');
    expect(refusal('POST', { 'sec-fetch-site': 'same-site', origin: 'https://other.azurewebsites.net' })).toBe(
      'crossSite',
    );
    expect(refusal('DELETE', { origin: 'https://evil.example' })).toBe('crossSite');
    expect(refusal('POST', { origin: 'null' })).toBe('crossSite');
  });

  it("are let through from the app's own pages and from clients that are not browsers", () => {
    expect(
      refusal('POST', { 'sec-fetch-site': 'same-origin', origin: 'https://mailbox-vault.azurewebsites.net' }),
    ).toBe(undefined);
    expect(refusal('POST', {})).toBe(undefined);
    expect(refusal('POST', { 'sec-fetch-site': 'none' })).toBe(undefined);
  });

  it('never concern reads', () => {
    expect(refusal('GET', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })).toBe(undefined);
  });
});
