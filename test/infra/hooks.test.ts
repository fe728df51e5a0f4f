import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/bicep/build.js';
import { deployMain, of } from '../support/arm.js';

/**
 * The azd hooks and the grant script, run as azd and an admin run them: as processes, with the azd environment
 * in their environment, and fake `azd` / `az` commands on PATH that record what they were asked.
 */

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'hooks-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function hook(name: string, env: Record<string, string>, path = process.env.PATH) {
  try {
    const { stdout, stderr } = await run('node', [join(ROOT, 'infra', 'hooks', `${name}.mjs`)], {
      env: { PATH: path ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A command on PATH that appends its arguments to a log (and, for az, answers as Graph would). */
function fakeCommand(name: string, script: string): { path: string; log: string } {
  const dir = mkdtempSync(join(scratch, `${name}-`));
  const log = join(dir, 'calls.log');
  writeFileSync(join(dir, name), `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> '${log}'\n${script}\n`);
  chmodSync(join(dir, name), 0o755);
  return { path: `${dir}:${process.env.PATH}`, log };
}
const calls = (log: string) => readFileSync(log, 'utf8').trim().split('\n');

/** A vault as the previous provision left it (its outputs, in the azd environment). */
const existingVault = {
  VAULT_ACCOUNT_NAME: 'stvaultabc',
  VAULT_IMMUTABLE: 'false',
  VAULT_IMMUTABILITY_STATE: 'None',
  VAULT_IMMUTABILITY_DAYS: '0',
  VAULT_CUSTOMER_MANAGED_KEY: 'false',
};

describe('preprovision', () => {
  it('lets a first provision choose immutability and a customer-managed key', async () => {
    const result = await hook('preprovision', {
      MAILBOX_VAULT_IMMUTABILITY_DAYS: '35',
      MAILBOX_VAULT_CUSTOMER_MANAGED_KEY: 'true',
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses to turn immutability or the customer-managed key on for a vault created without them, naming the way out', async () => {
    const wormLater = await hook('preprovision', { ...existingVault, MAILBOX_VAULT_IMMUTABILITY_DAYS: '35' });
    expect(wormLater.code).toBe(1);
    expect(wormLater.stderr).toMatch(/stvaultabc was created without version-level immutability[\s\S]*azd env new/);
    const keyLater = await hook('preprovision', { ...existingVault, MAILBOX_VAULT_CUSTOMER_MANAGED_KEY: 'true' });
    expect(keyLater.code).toBe(1);
    expect(keyLater.stderr).toMatch(/created without a customer-managed key/);
    expect(await hook('preprovision', { ...existingVault })).toMatchObject({ code: 0 });
  });

  it('refuses to turn immutability off, to unlock a locked policy, or to shorten it', async () => {
    const locked = {
      ...existingVault,
      VAULT_IMMUTABLE: 'true',
      VAULT_IMMUTABILITY_STATE: 'Locked',
      VAULT_IMMUTABILITY_DAYS: '35',
    };
    expect(
      (
        await hook('preprovision', {
          ...locked,
          MAILBOX_VAULT_IMMUTABILITY_DAYS: '0',
          MAILBOX_VAULT_IMMUTABILITY_LOCKED: 'true',
        })
      ).stderr,
    ).toMatch(/cannot be turned off/);
    expect((await hook('preprovision', { ...locked, MAILBOX_VAULT_IMMUTABILITY_DAYS: '35' })).stderr).toMatch(
      /locked, for good/,
    );
    expect(
      (
        await hook('preprovision', {
          ...locked,
          MAILBOX_VAULT_IMMUTABILITY_DAYS: '10',
          MAILBOX_VAULT_IMMUTABILITY_LOCKED: 'true',
        })
      ).stderr,
    ).toMatch(/can only be extended/);
    expect(
      await hook('preprovision', {
        ...locked,
        MAILBOX_VAULT_IMMUTABILITY_DAYS: '60',
        MAILBOX_VAULT_IMMUTABILITY_LOCKED: 'true',
      }),
    ).toMatchObject({
      code: 0,
    });
  });

  it('locks only a policy that exists: the documented step is a second provision', async () => {
    const first = await hook('preprovision', {
      MAILBOX_VAULT_IMMUTABILITY_DAYS: '35',
      MAILBOX_VAULT_IMMUTABILITY_LOCKED: 'true',
    });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/can only be created unlocked/);
    const unlocked = {
      ...existingVault,
      VAULT_IMMUTABLE: 'true',
      VAULT_IMMUTABILITY_STATE: 'Unlocked',
      VAULT_IMMUTABILITY_DAYS: '35',
    };
    expect(
      await hook('preprovision', {
        ...unlocked,
        MAILBOX_VAULT_IMMUTABILITY_DAYS: '35',
        MAILBOX_VAULT_IMMUTABILITY_LOCKED: 'true',
      }),
    ).toMatchObject({
      code: 0,
    });
  });
});

/** An audit container as the previous provision left it. */
const existingAudit = {
  AUDIT_ACCOUNT_NAME: 'stauditabc',
  AUDIT_CONTAINER_NAME: 'mailbox-vault-audit',
  AUDIT_RETENTION_STATE: 'Unlocked',
  AUDIT_RETENTION_DAYS: '365',
};

describe("preprovision, the audit container's retention policy", () => {
  it('locks only a policy that exists: the documented step is a second provision', async () => {
    const first = await hook('preprovision', { MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true' });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/created unlocked, and locked once it exists[\s\S]*azd provision again/);
    expect(
      await hook('preprovision', { ...existingVault, ...existingAudit, MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true' }),
    ).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses to unlock a locked policy, and a change of its days the deployment would not make', async () => {
    const locked = { ...existingVault, ...existingAudit, AUDIT_RETENTION_STATE: 'Locked' };
    const unlocking = await hook('preprovision', { ...locked, MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'false' });
    expect(unlocking.code).toBe(1);
    expect(unlocking.stderr).toMatch(
      /stauditabc is locked, for good[\s\S]*keep MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=true/,
    );
    const longer = await hook('preprovision', {
      ...locked,
      MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true',
      MAILBOX_VAULT_AUDIT_RETENTION_DAYS: '730',
    });
    expect(longer.code).toBe(1);
    expect(longer.stderr).toMatch(
      /keeps records 365 days[\s\S]*immutability-policy extend --account-name stauditabc --container-name mailbox-vault-audit --period 730/,
    );
    const whileUnlocked = await hook('preprovision', {
      ...existingVault,
      ...existingAudit,
      MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true',
      MAILBOX_VAULT_AUDIT_RETENTION_DAYS: '30',
    });
    expect(whileUnlocked.stderr).toMatch(/provision with MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=false first/);
    // Unlocked, the days are the deployment's to change.
    expect(
      await hook('preprovision', { ...existingVault, ...existingAudit, MAILBOX_VAULT_AUDIT_RETENTION_DAYS: '30' }),
    ).toMatchObject({ code: 0 });
    expect(await hook('preprovision', { ...locked, MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true' })).toMatchObject({
      code: 0,
      stderr: '',
    });
  });
});

describe("postprovision, the audit container's retention policy", () => {
  const provisioned = { ...existingVault, ...existingAudit, AZURE_RESOURCE_GROUP: 'rg-prod' };

  it('locks it with the Azure CLI when asked, by the etag the CLI reads first', async () => {
    const az = fakeCommand('az', `case "$*" in *' show '*) echo '"0x8DD1A2B3C4D5E6F"';; esac`);
    const azd = fakeCommand('azd', '');
    const { code, stdout } = await hook(
      'postprovision',
      { ...provisioned, MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true' },
      `${dirname(az.log)}:${azd.path}`,
    );
    expect(code).toBe(0);
    const policy = '--account-name stauditabc --container-name mailbox-vault-audit --resource-group rg-prod';
    expect(calls(az.log)).toEqual([
      `storage container immutability-policy show ${policy} --query etag -o tsv`,
      `storage container immutability-policy lock ${policy} --if-match "0x8DD1A2B3C4D5E6F"`,
    ]);
    expect(stdout).toContain("The audit trail's retention policy (365 days) is now locked, for good.");
    // Recorded at once: this provision's outputs still say Unlocked, and the next preprovision must refuse an unlock.
    expect(calls(azd.log)).toEqual(['env set AUDIT_RETENTION_STATE Locked']);
  });

  it('fails the provision, with the commands to lock it by hand, when the Azure CLI cannot', async () => {
    const az = fakeCommand('az', `echo 'ERROR: Please run az login' >&2; exit 1`);
    const result = await hook(
      'postprovision',
      { ...provisioned, MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true' },
      az.path,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Could not lock[\s\S]*az login[\s\S]*immutability-policy lock --account-name stauditabc/,
    );
  });

  it('touches nothing when it is locked already, or not asked to be: then it says how', async () => {
    const az = fakeCommand('az', '');
    const locked = await hook(
      'postprovision',
      { ...provisioned, AUDIT_RETENTION_STATE: 'Locked', MAILBOX_VAULT_AUDIT_RETENTION_LOCKED: 'true' },
      az.path,
    );
    expect(locked.stdout).toContain("The audit trail's retention policy (365 days) is locked.");
    const unlocked = await hook('postprovision', provisioned, az.path);
    expect(unlocked.stdout).toMatch(
      /retention policy \(365 days\) is unlocked: an admin can still shorten or remove it[\s\S]*azd env set MAILBOX_VAULT_AUDIT_RETENTION_LOCKED true && azd provision/,
    );
    expect(() => calls(az.log)).toThrow(); // never called: no log written
  });
});

describe('postprovision', () => {
  const outputs = {
    SERVICE_API_URI: 'https://func-mailbox-vault-abc.azurewebsites.net',
    AZURE_FUNCTION_APP_NAME: 'func-mailbox-vault-abc',
    AZURE_RESOURCE_GROUP: 'rg-prod',
    MAILBOX_VAULT_MANAGED_IDENTITY_PRINCIPAL_ID: '11111111-2222-3333-4444-555555555555',
    MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID: 'client-id',
    MAILBOX_VAULT_SCOPE_GROUP_ID: '99999999-2222-3333-4444-555555555555',
    ...existingVault,
    VAULT_IMMUTABLE: 'true',
    VAULT_IMMUTABILITY_STATE: 'Unlocked',
    VAULT_IMMUTABILITY_DAYS: '35',
  };

  it('prints the URL, the identity and the grant command when the deployment did not grant, the alert and lock steps, the first backup', async () => {
    const { code, stdout } = await hook('postprovision', {
      ...outputs,
      MAILBOX_VAULT_GRANT_GRAPH_PERMISSIONS: 'false',
    });
    expect(code).toBe(0);
    expect(stdout).toContain('App:       https://func-mailbox-vault-abc.azurewebsites.net');
    expect(stdout).toContain(
      'infra/scripts/grant-graph-permissions.sh 11111111-2222-3333-4444-555555555555 backupAndRestore --group',
    );
    expect(stdout).toContain('azd env set MAILBOX_VAULT_ALERT_EMAIL');
    expect(stdout).toContain('azd env set MAILBOX_VAULT_IMMUTABILITY_LOCKED true && azd provision');
    expect(stdout).toContain('az functionapp keys list -g rg-prod -n func-mailbox-vault-abc');
    expect(stdout).toContain(
      'npx mailbox-vault backup --url https://func-mailbox-vault-abc.azurewebsites.net --key "$key"',
    );
  });

  it('says what was done when the deployment granted the roles and alerts have an address', async () => {
    const { stdout } = await hook('postprovision', {
      ...outputs,
      MAILBOX_VAULT_ALERT_EMAIL: 'ops@contoso.example',
      VAULT_IMMUTABILITY_STATE: 'Locked',
    });
    expect(stdout).toContain('Graph permissions (backupAndRestore) were granted');
    expect(stdout).not.toContain('grant-graph-permissions.sh');
    expect(stdout).toContain('Alerts are emailed to ops@contoso.example.');
    expect(stdout).toContain("The vault's immutability policy (35 days) is locked.");
  });
});

describe('azd down', () => {
  it('stops before deleting anything when the vault is immutable, and says why and how to go ahead', async () => {
    const immutable = {
      ...existingVault,
      VAULT_IMMUTABLE: 'true',
      VAULT_IMMUTABILITY_STATE: 'Unlocked',
      VAULT_IMMUTABILITY_DAYS: '35',
    };
    const refused = await hook('predown', immutable);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /Azure will not delete it[\s\S]*Nothing was deleted[\s\S]*MAILBOX_VAULT_DOWN_CONFIRMED true/,
    );
    expect(await hook('predown', { ...immutable, MAILBOX_VAULT_DOWN_CONFIRMED: 'true' })).toMatchObject({ code: 0 });
    expect(await hook('predown', existingVault)).toMatchObject({ code: 0, stderr: '' });
  });

  it("afterwards, gives the next Key Vault a new name and frees the next vault's choices", async () => {
    const azd = fakeCommand('azd', '');
    const result = await hook('postdown', { ...existingVault, MAILBOX_VAULT_KEY_VAULT_GENERATION: '2' }, azd.path);
    expect(result.code).toBe(0);
    expect(calls(azd.log)).toEqual(
      expect.arrayContaining([
        'env set MAILBOX_VAULT_KEY_VAULT_GENERATION 3',
        'env set VAULT_ACCOUNT_NAME ',
        'env set VAULT_IMMUTABLE false',
      ]),
    );
    // And that generation is a parameter main.bicep turns into a new Key Vault name.
    const names = await Promise.all(
      [2, 3].map(async (g) => of(await deployMain({ keyVaultGeneration: g }), 'Microsoft.KeyVault/vaults')[0]!.name),
    );
    expect(names[0]).not.toBe(names[1]);
  });
});

describe('grant-graph-permissions.sh', () => {
  /** az answering for Graph: its service principal, each role's id, and the roles already granted. */
  const az = (granted: string[] = []) =>
    fakeCommand(
      'az',
      String.raw`case "$*" in
  *"--query id -o tsv"*) echo graph-sp ;;
  *"appRoles[?value=="*) echo "role-$(printf '%s' "$*" | sed -E "s/.*value=='([^']+)'.*/\1/")" ;;
  *"--method GET"*) printf '%s\n' ${granted.map((r) => `role-${r}`).join(' ')} ;;
esac`,
    );
  const grant = async (args: string[], path: string) =>
    run(join(ROOT, 'infra', 'scripts', 'grant-graph-permissions.sh'), args, { env: { PATH: path } });
  const posted = (log: string) =>
    calls(log)
      .filter((c) => c.includes('--method POST'))
      .map((c) => /"appRoleId":"role-([\w.]+)"/.exec(c)![1]!);
  /** The roles infra/app/graph-permissions.bicep grants for the same choice (its output, as deployed). */
  const bicepRoles = async (permissions: string, group: boolean) => {
    const scopeGroupId = group ? 'a1b2c3d4-0000-0000-0000-000000000000' : '';
    const d = await deployMain({ graphPermissions: permissions, scopeGroupId });
    return d.modules.get('graphPermissions')!.outputs.grantedRoles as string[];
  };

  it('grants the same roles as the deployment would, for each choice, to the identity given', async () => {
    for (const [permissions, group] of [
      ['backupOnly', false],
      ['backupAndRestore', false],
      ['backupAndRestore', true],
    ] as const) {
      const fake = az();
      const { stdout } = await grant(['principal-1', permissions, ...(group ? ['--group'] : [])], fake.path);
      const roles = posted(fake.log);
      expect(roles, `${permissions}${group ? ' --group' : ''}`).toEqual(await bicepRoles(permissions, group));
      expect(roles).toEqual(expect.arrayContaining(['User.Read.All', 'MailboxItem.Export.All']));
      expect(roles.includes('MailboxItem.ImportExport.All')).toBe(permissions === 'backupAndRestore');
      expect(roles.includes('GroupMember.Read.All')).toBe(group);
      for (const c of calls(fake.log).filter((l) => l.includes('--method POST')))
        expect(c).toContain('"principalId":"principal-1","resourceId":"graph-sp"');
      expect(stdout).toMatch(/User\.Read\.All: granted/);
    }
  });

  it('leaves roles already granted alone, so it can run again', async () => {
    const fake = az(['User.Read.All', 'MailboxFolder.Read.All']);
    const { stdout } = await grant(['principal-1', 'backupOnly'], fake.path);
    expect(posted(fake.log).sort()).toEqual(['MailboxItem.Export.All', 'MailboxItem.Read.All']);
    expect(stdout).toContain('User.Read.All: already granted');
  });
});
