/** `npm run simulator`: the Exchange Online simulator on its own, configured by SIM_* environment variables. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { caFilePath, simulatorOptionsFromEnv } from './env.js';
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
  if (sim.https) {
    // Only the certificate: the CA's key stays in this process.
    const caFile = resolve(caFilePath());
    mkdirSync(dirname(caFile), { recursive: true });
    writeFileSync(caFile, sim.https.caCertificatePem);
    const identity = sim.managedIdentityEnvironment;
    console.log(`  HTTPS (TLS)    : ${sim.https.baseUrl}  trust NODE_EXTRA_CA_CERTS=${caFile}`);
    console.log(`  Authority host : ${sim.https.authorityHost}  (MAILBOX_VAULT_AUTHORITY_HOST)`);
    console.log(`  Key Vault      : ${sim.https.keyVaultUrl}  (needs *.localhost to resolve to 127.0.0.1)`);
    console.log(
      `  Managed id     : IDENTITY_ENDPOINT=${identity.IDENTITY_ENDPOINT} IDENTITY_HEADER=${identity.IDENTITY_HEADER}`,
    );
  }
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
