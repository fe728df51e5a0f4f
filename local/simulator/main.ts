/** `npm run simulator`: the Exchange Online simulator on its own, configured by SIM_* environment variables. */
import { simulatorOptionsFromEnv } from './env.js';
import { startSimulator } from './server.js';

async function main(): Promise<void> {
  let options;
  try {
    options = simulatorOptionsFromEnv();
  } catch (error) {
    console.error(`simulator: ${(error as Error).message}`);
    process.exit(2);
  }
  const sim = await startSimulator(options);
  const client = options.clients?.[0];
  console.log(`Exchange Online simulator listening on ${sim.baseUrl}`);
  console.log(`  Graph base URL : ${sim.baseUrl}/v1.0 (and /beta)`);
  console.log(
    `  Token endpoint : ${sim.baseUrl}/${sim.tenant.tenantId}/oauth2/v2.0/token (client ${client?.clientId})`,
  );
  console.log(`  Demo token     : ${sim.demoToken}`);
  console.log(`  Control API    : ${sim.baseUrl}/_sim/mailboxes`);
  for (const mailbox of sim.tenant.mailboxes.values()) {
    console.log(
      `  ${mailbox.kind === 'shared' ? 'shared' : 'user  '} ${mailbox.upn.padEnd(34)} ${String(mailbox.items.size).padStart(5)} items  ${mailbox.id}`,
    );
  }
  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main();
