import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

/**
 * A delta round's change list (and a folder listing) is kept between its pages while the mailbox's change sequence stands still (so a
 * million-item folder is not listed anew for every page); a change in the middle of a round must still show in
 * the pages that follow exactly as if every page had listed the folder afresh. And the control API's churn: a
 * night's changes to a share of a mailbox without naming each item.
 */
const upn = 'delta@contoso.example';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function get(sim: Simulator, url: string): Promise<any> {
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${sim.demoToken}`, Prefer: 'odata.maxpagesize=3' },
  });
  expect(response.status).toBe(200);
  return response.json();
}

describe('delta rounds over a changing mailbox', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSeededSimulator({ mailboxes: [{ upn, items: 40 }] }, RAW_HTTP);
  });
  afterAll(() => sim.close());

  it('pages after a mid-round change are those of the folder as it is now', async () => {
    const mailbox = sim.tenant.mailbox(upn);
    const inbox = mailbox.folderByIdOrName('inbox')!;
    const roundEnd = mailbox.seq;
    const url = `${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/folders/${encodeURIComponent(inbox.id)}/items/delta`;
    const first = await get(sim, url);
    const firstIds = first.value.map((i: { id: string }) => i.id);
    // Read the second page once, so the round's list is in whatever cache there is, then edit an item of it.
    await get(sim, first['@odata.nextLink']);
    const edited = sim.tenant.changeItem(mailbox, firstIds[0]);
    expect(edited.seq).toBeGreaterThan(roundEnd);
    const rest: string[] = [];
    for (let next = first['@odata.nextLink']; next;) {
      const page = await get(sim, next);
      rest.push(...page.value.map((i: { id: string }) => i.id));
      next = page['@odata.nextLink'];
    }
    // The round lists what changed up to its start; the edited item's change is after it, so it drops out and the
    // rest move up by one.
    const asNow = mailbox
      .itemsIn(inbox.id)
      .filter((i) => i.seq <= roundEnd)
      .sort((a, b) => a.seq - b.seq)
      .map((i) => i.id);
    expect(rest).toEqual(asNow.slice(3));
    expect(rest).not.toContain(edited.id);
  });

  it('a listing paged across a change pages the folder as it is now', async () => {
    const mailbox = sim.tenant.mailbox(upn);
    const inbox = mailbox.folderByIdOrName('inbox')!;
    const url = `${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/folders/${encodeURIComponent(inbox.id)}/items?$top=3`;
    const first = await get(sim, url);
    // The newest item arrives between the pages: newest first, it pushes every item down by one.
    sim.tenant.addItem(mailbox, inbox.id, { createdDateTime: '2030-01-01T00:00:00Z' });
    const second = await get(sim, first['@odata.nextLink']);
    const asNow = mailbox
      .itemsIn(inbox.id)
      .sort((a, b) => b.createdDateTime.localeCompare(a.createdDateTime) || a.id.localeCompare(b.id))
      .map((i) => i.id);
    expect(second.value.map((i: { id: string }) => i.id)).toEqual(asNow.slice(3, 6));
  });

  it("churns a share of a mailbox's items through the control API", async () => {
    const control = (fraction: number) =>
      fetch(`${sim.baseUrl}/_sim/mailboxes/${upn}/churn`, {
        method: 'POST',
        body: JSON.stringify({ fraction }),
      });
    const mailbox = sim.tenant.mailbox(upn);
    const before = mailbox.items.size;
    const response = await control(0.25);
    expect(response.status).toBe(200);
    const result = (await response.json()) as { changedFolderIds: string[] };
    expect(result).toMatchObject({ added: 4, edited: 4, moved: 1, deleted: 1 });
    expect(result.changedFolderIds).toContain(mailbox.folderByIdOrName('archive')!.id);
    expect(mailbox.items.size).toBe(before + 4 - 1);
    expect((await control(0)).status).toBe(400);
  });
});
