import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/bicep/build.js';
import { SETTINGS } from '../../shared/config.js';
import { deployMain, of, one, type Deployment } from '../support/arm.js';

/**
 * The README's Deploy section (and the roles in docs/deployment.md) tell the truth: each table is compared with
 * what the compiled templates deploy.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const deploySection = readme.slice(
  readme.indexOf('## Deploy to Azure'),
  readme.indexOf('\n## ', readme.indexOf('## Deploy to Azure') + 5),
);

/** The rows of the Markdown table under a heading (or after a line), as arrays of cells. */
function table(text: string, after: string): string[][] {
  const start = text.indexOf(after);
  expect(start, `no "${after}"`).toBeGreaterThanOrEqual(0);
  const lines = text.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}
const code = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

let byDefault: Deployment;
let noNetwork: Deployment;
let hardened: Deployment;
beforeAll(async () => {
  byDefault = await deployMain();
  noNetwork = await deployMain({ vnetEnabled: false });
  hardened = await deployMain({ customerManagedKey: true, alertEmail: 'ops@contoso.example' });
}, 120_000);

describe("README's Deploy section", () => {
  it('lists every deployment option azd maps, with its default', () => {
    const params = (JSON.parse(readFileSync(join(ROOT, 'infra', 'main.parameters.json'), 'utf8')) as Json)
      .parameters as Record<string, { value: string }>;
    const options = Object.values(params)
      .map((p) => /^\$\{(\w+)(?:=(.*))?\}$/.exec(p.value)!)
      .filter(
        ([, name]) =>
          !(name! in SETTINGS) && !['AZURE_ENV_NAME', 'AZURE_LOCATION', 'AZURE_PRINCIPAL_ID'].includes(name!),
      );
    const rows = table(deploySection, 'These are decided at deployment');
    expect(rows.map((r) => code(r[0]!)[0]).sort()).toEqual(options.map(([, name]) => name).sort());
    for (const [, name, fallback] of options) {
      const row = rows.find((r) => code(r[0]!)[0] === name)!;
      expect(row[1], name).toBe(fallback ? `\`${fallback}\`` : '(empty)');
    }
  });

  it("states each resource's public network access as deployed, with and without the virtual network", () => {
    const resources: Record<string, [string, string]> = {
      'Function app': ['Microsoft.Web/sites', 'functionApp'],
      'Host storage': ['Microsoft.Storage/storageAccounts', 'hostStorage'],
      'Vault storage': ['Microsoft.Storage/storageAccounts', 'vault'],
      'Key Vault': ['Microsoft.KeyVault/vaults', 'keyVault'],
      'Application Insights and Log Analytics': ['Microsoft.Insights/components', 'monitoring'],
    };
    const rows = table(deploySection, '### Network');
    expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(resources).sort());
    const access = (d: Deployment, [type, module]: [string, string]) => {
      const p = one(d, type, module).properties;
      return (p.publicNetworkAccess ?? p.publicNetworkAccessForIngestion) as string;
    };
    for (const [label, withNetwork, without] of rows) {
      const resource = resources[label!]!;
      expect(code(withNetwork!)[0], label).toBe(access(byDefault, resource));
      expect(code(without!)[0], label).toBe(access(noNetwork, resource));
    }
    // "default action Deny", as the Key Vault row says.
    expect(code(rows.find((r) => r[0] === 'Key Vault')![1]!)[1]).toBe(
      (one(byDefault, 'Microsoft.KeyVault/vaults', 'keyVault').properties.networkAcls as Json).defaultAction,
    );
  });

  it('lists the Graph permissions the deployment grants', async () => {
    const granted = async (graphPermissions: string, scopeGroupId = '') =>
      (await deployMain({ graphPermissions, scopeGroupId })).modules.get('graphPermissions')!.outputs
        .grantedRoles as string[];
    const [backup, restore] = table(deploySection, '### Graph permissions').map((r) => code(r[1]!));
    const backupOnly = await granted('backupOnly');
    expect(backup!.filter((r) => r !== 'GroupMember.Read.All')).toEqual(backupOnly);
    expect(await granted('backupAndRestore')).toEqual([...backupOnly, ...restore!]);
    expect(await granted('backupOnly', 'a1b2c3d4-0000-0000-0000-000000000000')).toEqual([
      ...backupOnly,
      'GroupMember.Read.All',
    ]);
  });

  it('lists every alert rule with its severity', () => {
    const rows = table(deploySection, '### Alerts');
    const rules = of(hardened, 'Microsoft.Insights/scheduledQueryRules');
    expect(rows.map((r) => `mailbox-vault-${code(r[0]!)[0]}`).sort()).toEqual(rules.map((r) => r.name).sort());
    for (const row of rows)
      expect(Number(row[1]), row[0]).toBe(
        rules.find((r) => r.name === `mailbox-vault-${code(row[0]!)[0]}`)!.properties.severity,
      );
    const missed = rows.find((r) => r[0] === '`backup-run-missed`')![2]!;
    expect(missed).toContain(`(${byDefault.parameters.alertMissedRunHours}) hours`);
  });
});

describe('docs/deployment.md', () => {
  it('lists every role assignment, by principal, role and scope', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
    const roleIds: Record<string, string> = {
      'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
      'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
      'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
      'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6',
      'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
      'Key Vault Certificates Officer': 'a4417e6f-fecd-4de8-b567-7b0420556985',
      'Key Vault Crypto Service Encryption User': 'e147488a-f6f5-4113-8e2d-b22465e65bf6',
    };
    const principal = (id: string) =>
      id === 'deployer-object-id'
        ? 'Deployer'
        : /id-mailbox-vault-/.test(id)
          ? 'App identity'
          : /id-vault-encryption-/.test(id)
            ? 'Vault encryption identity'
            : id;
    const scope = (s: string) =>
      /\/keys\/vault-encryption$/.test(s)
        ? 'The vault key'
        : /containers\/mailbox-vault-audit$/.test(s)
          ? 'The audit container'
          : /storageAccounts\/sthost/.test(s)
            ? 'Host storage'
            : /storageAccounts\/stvault/.test(s)
              ? 'Vault storage'
              : /vaults\/kv-/.test(s)
                ? 'Key Vault'
                : /components\/appi-/.test(s)
                  ? 'Application Insights'
                  : s;
    const deployed = of(hardened, 'Microsoft.Authorization/roleAssignments').map((a) => {
      // The audit trail's custom role is declared in the resource group (infra/app/audit-storage.bicep).
      const custom = /resourceGroups\/.+\/roleDefinitions\//.test(String(a.properties.roleDefinitionId))
        ? 'Mailbox Vault Audit Appender (custom: read, create, append)'
        : undefined;
      const role =
        custom ?? Object.entries(roleIds).find(([, id]) => String(a.properties.roleDefinitionId).endsWith(id))?.[0];
      return `${principal(String(a.properties.principalId))} | ${role ?? a.properties.roleDefinitionId} | ${scope(a.scope!)}`;
    });
    const documented = table(doc, '## Roles').map((r) => r.join(' | '));
    expect(documented.sort()).toEqual(deployed.sort());
  });
});
