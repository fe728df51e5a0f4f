import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn: 'robin@contoso.example', items: 1 }] }, RAW_HTTP);
});
afterAll(() => sim.close());

describe('a request URL with a malformed escape', () => {
  it('is answered 400 in the Graph envelope, and the simulator keeps serving', async () => {
    const refused = await fetch(`${sim.baseUrl}/v1.0/admin/exchange/mailboxes/%E0%A4%A/folders`, {
      headers: { Authorization: `Bearer ${sim.demoToken}` },
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('BadRequest');
    const mailboxId = sim.tenant.mailbox('robin@contoso.example').id;
    const after = await fetch(`${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailboxId)}/folders`, {
      headers: { Authorization: `Bearer ${sim.demoToken}` },
    });
    expect(after.status).toBe(200);
  });
});
