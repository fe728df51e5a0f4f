/**
 * The simulator for `npm run bench -- --tenant`, in a process of its own: a tenant of TENANT_MAILBOXES mailboxes
 * of TENANT_ITEMS small items each (in their Inbox), seeded here because a spec of 10,000 mailboxes is too long
 * for an environment variable. Prints its URL and token, then serves until stopped.
 */
import { SimTenant, startSimulator } from '../../local/simulator/index.js';
import { tenantUpn } from './tenantScale.js';

async function main(): Promise<void> {
  const mailboxes = Number(process.env.TENANT_MAILBOXES ?? '10000');
  const items = Number(process.env.TENANT_ITEMS ?? '3');
  const tenant = new SimTenant({ seed: 16 });
  for (let i = 0; i < mailboxes; i++) {
    const mailbox = tenant.addMailbox(tenantUpn(i));
    for (let n = 0; n < items; n++) tenant.addItem(mailbox, 'inbox', { size: 1_000 + 500 * n });
  }
  const sim = await startSimulator({ tenant, latencyMs: Number(process.env.TENANT_LATENCY_MS ?? '0') });
  console.log(`listening on ${sim.baseUrl}`);
  console.log(`token ${sim.demoToken}`);
}

void main();
