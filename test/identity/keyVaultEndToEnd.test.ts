import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { createClientCertificate } from '../../local/simulator/localCa.js';
import type { Simulator } from '../../local/simulator/index.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { layout } from '../../shared/vault/layout.js';
import { VaultStore } from '../../shared/vault/vaultStore.js';
import { runFirstBackup, type AppRun } from '../support/appProcess.js';
import { startSeededSimulator } from '../support/graph.js';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * The Key Vault credential paths end to end, with nothing standing in for the app: `npm start` in a process of
 * its own, configured only by settings, reads the app registration's secret or certificate from Key Vault with
 * its managed identity (the real ManagedIdentityCredential, through the managed identity endpoint App Service
 * gives an app), gets a Graph token with the real ClientSecretCredential or ClientCertificateCredential from the
 * simulator's Entra ID over TLS (trusted as a platform CA, NODE_EXTRA_CA_CERTS), and backs up a mailbox with it.
 */

const upn = 'adele@contoso.example';
const clientId = '6f1b2c3d-0000-4000-8000-00000000a11e';
const clientSecret = `Q8~${randomBytes(24).toString('base64url')}`;
const certificate = createClientCertificate('mailbox-vault backup');
const certificateSecret = `${certificate.privateKeyPem}${certificate.certificatePem}`;
/** The base64 body of the private key: what would show in a leak, whatever the line breaks. */
const privateKeyBody = certificate.privateKeyPem.split(/\r?\n/)[1]!;

let sim: Simulator;
let caDir: string;

beforeAll(async () => {
  sim = await startSeededSimulator(
    { mailboxes: [{ upn, items: 12 }] },
    {
      https: true,
      clients: [{ clientId, clientSecret, certificates: [certificate.certificatePem] }],
      secrets: {
        'graph-client-secret': clientSecret,
        'graph-client-cert': { value: certificateSecret, contentType: 'application/x-pem-file' },
      },
    },
  );
  caDir = mkdtempSync(join(tmpdir(), 'mv-ca-'));
  writeFileSync(join(caDir, 'ca.pem'), sim.https!.caCertificatePem);
});
afterAll(async () => {
  await sim.close();
  rmSync(caDir, { recursive: true, force: true });
});

/** The settings an admin gives the app for a client secret or certificate in Key Vault, pointed at the simulator. */
function settings(kind: 'clientSecret' | 'clientCertificate', container: string): Record<string, string> {
  return {
    NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
    ...sim.managedIdentityEnvironment,
    MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
    MAILBOX_VAULT_GRAPH_CREDENTIAL: kind,
    MAILBOX_VAULT_TENANT_ID: sim.tenant.tenantId,
    MAILBOX_VAULT_CLIENT_ID: clientId,
    MAILBOX_VAULT_AUTHORITY_HOST: sim.https!.authorityHost,
    MAILBOX_VAULT_KEY_VAULT_URL: sim.https!.keyVaultUrl,
    MAILBOX_VAULT_GRAPH_SECRET_NAME: kind === 'clientSecret' ? 'graph-client-secret' : 'graph-client-cert',
    MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
    MAILBOX_VAULT_CONTAINER: container,
    MAILBOX_VAULT_SCOPE_USERS: upn,
    MAILBOX_VAULT_GRAPH_LOG: 'warnings',
    // The Azure SDK's own logging on as well: a secret must not show there either.
    AZURE_LOG_LEVEL: 'info',
    // A guard: were the app to reach past loopback (an authority left at login.microsoftonline.com, say), the
    // Azure SDK's request would go to this closed local proxy and fail here, never leaving the machine.
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost,.localhost',
  };
}

/** Every item of the mailbox is in the snapshot, byte for byte by the simulator's digests. */
async function expectWholeMailboxStored(container: string, report: RunReport): Promise<void> {
  const vault = new VaultStore(BlobServiceClient.fromConnectionString(azuriteConnectionString()), container);
  const [mailbox] = report.mailboxes;
  const record = await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailbox!.mailboxId, mailbox!.snapshotId!));
  const items: ManifestItem[] = [];
  for await (const entry of vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob))
    if (entry.kind === 'item') items.push(entry);
  const simMailbox = sim.tenant.mailbox(upn);
  expect(items.map((i) => i.id).sort()).toEqual([...simMailbox.items.keys()].sort());
  for (const item of items) expect(item.sha256).toBe(sim.tenant.digest(simMailbox.items.get(item.id)!));
}

/** Everything an operator or an attacker with read access could see: the app's output, the API, the run report blob. */
async function visibleText(run: AppRun, container: string): Promise<string> {
  const vault = new VaultStore(BlobServiceClient.fromConnectionString(azuriteConnectionString()), container);
  const reportBlob = await vault.readJson<unknown>(run.status.reportBlob as string);
  return [run.output, JSON.stringify(run.status), JSON.stringify(reportBlob)].join('\n');
}

function expectNoSecretIn(text: string): void {
  expect(text).not.toContain(clientSecret);
  expect(text).not.toContain(privateKeyBody);
  // No bearer token of any kind: every token the simulator issues is a JWT.
  expect(text).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
}

describe.each([
  ['clientSecret', 'secret', 'graph-client-secret'],
  ['clientCertificate', 'certificate', 'graph-client-cert'],
] as const)('the %s path', (kind, method, secretName) => {
  it('reads Key Vault with the managed identity, signs in as the app over TLS, and backs up the mailbox', async () => {
    const container = `e2e-${kind.toLowerCase()}-${randomBytes(4).toString('hex')}`;
    const logFrom = sim.identityLog.length;
    const graphCallsBefore = sim.graphRequestsByClient.get(clientId) ?? 0;

    const run = await runFirstBackup(settings(kind, container));

    const report = run.status.report as RunReport | undefined;
    expect(report?.status, run.output).toBe('Completed');
    expect(report!.mailboxes).toMatchObject([{ upn, status: 'Completed', items: { exported: 12, failed: 0 } }]);
    await expectWholeMailboxStored(container, report!);
    // In order: the managed identity's Key Vault token, the secret, then the app's Graph token by this method.
    expect(sim.identityLog.slice(logFrom)).toEqual([
      { kind: 'managedIdentityToken', resource: 'https://vault.localhost' },
      { kind: 'secretRead', name: secretName },
      { kind: 'token', clientId, method, resource: 'https://graph.microsoft.com' },
    ]);
    // Every Graph call of the backup carried the app's token (the demo token was never given to the app).
    expect((sim.graphRequestsByClient.get(clientId) ?? 0) - graphCallsBefore).toBeGreaterThan(3);
    expect(sim.graphRequestsByClient.get('demo')).toBeUndefined();
    expectNoSecretIn(await visibleText(run, container));
  }, 90_000);
});
