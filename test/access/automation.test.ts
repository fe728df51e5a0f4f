import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entraIssuer } from '../../local/entraIssuer.js';
import { MAILBOX_VAULT_API_RESOURCE } from '../../local/simulator/index.js';
import { ROLES } from '../../shared/access/roles.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Automation signs in with @azure/identity (client credentials against the simulator's Entra ID over TLS) and
 * gets the roles assigned to its app registration; the local host validates its tokens from the tenant's
 * published keys, as Easy Auth does. The CLI reads the audit trail.
 */
const UPN = 'adele@contoso.example';
const clients = (['reader', 'operator'] as const).map((role) => ({
  clientId: `mailbox-vault-${role}`,
  clientSecret: `local-${role}-secret`,
  apiRoles: [ROLES[role]],
}));

let stack: Stack;
let caDir: string;
const signIn = { operator: null, issuer: undefined as ReturnType<typeof entraIssuer> | undefined };

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli/main.ts', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn: UPN, items: 4 }] }, { simulator: { https: true, clients }, signIn });
  const https = stack.sim.https!;
  signIn.issuer = entraIssuer({
    authorityHost: https.authorityHost,
    tenantId: stack.sim.tenant.tenantId,
    audience: MAILBOX_VAULT_API_RESOURCE,
    ca: https.caCertificatePem,
  });
  caDir = mkdtempSync(join(tmpdir(), 'mv-ca-'));
  writeFileSync(join(caDir, 'ca.pem'), https.caCertificatePem);
});
afterAll(async () => {
  await stack.close();
  rmSync(caDir, { recursive: true, force: true });
});

describe('automation', () => {
  it('signs in with @azure/identity and gets its app registration roles, no more', async () => {
    const env = (role: string) => ({
      NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
      AZURE_AUTHORITY_HOST: stack.sim.https!.authorityHost,
      AZURE_TENANT_ID: stack.sim.tenant.tenantId,
      AZURE_CLIENT_ID: `mailbox-vault-${role}`,
      AZURE_CLIENT_SECRET: `local-${role}-secret`,
    });
    const scope = `${MAILBOX_VAULT_API_RESOURCE}/.default`;
    const asReader = await cli(['backup', '--url', stack.app.baseUrl, '--scope', scope, '--no-wait'], env('reader'));
    expect(asReader.code, asReader.stderr).toBe(2);
    expect(asReader.stderr).toContain('(rule: role)');
    const asOperator = await cli(['backup', '--url', stack.app.baseUrl, '--scope', scope], env('operator'));
    expect(asOperator.code, asOperator.stderr).toBe(0);

    const audit = await cli(['audit', '--url', stack.app.baseUrl, '--scope', scope, '--json'], env('reader'));
    expect(audit.code, audit.stderr).toBe(0);
    const records = (JSON.parse(audit.stdout) as { records: { outcome: string; who: { name: string } }[] }).records;
    expect(records.map((r) => [r.outcome, r.who.name])).toEqual([
      ['refused', 'mailbox-vault-reader'],
      ['accepted', 'mailbox-vault-operator'],
    ]);
    const text = await cli(['audit', '--url', stack.app.baseUrl, '--scope', scope], env('reader'));
    expect(text.stdout).toMatch(
      /backup backup-\S+ {2}by mailbox-vault-operator \[operator\] from 127\.0\.0\.1: accepted/,
    );
  }, 120_000);
});
