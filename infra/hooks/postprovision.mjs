// azd postprovision hook: locks the audit container's retention policy when asked (ARM cannot), and says what an
// admin needs next, from the provision's outputs and the environment's settings.
import { execFileSync, execSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const yes = (value) => String(value).toLowerCase() === 'true';

/** Downloads need a staging mailbox the admin makes, and Mail.ReadWrite on it alone (README, Downloads). */
export function stagingSteps(env) {
  const staging = env.MAILBOX_VAULT_STAGING_MAILBOX ?? '';
  const appId = env.MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID ?? '<app id>';
  const principal = env.MAILBOX_VAULT_MANAGED_IDENTITY_PRINCIPAL_ID ?? '<object id>';
  if (!staging)
    return [
      '',
      'Downloads (EML, MBOX, ZIP) are off until a staging mailbox is set. In Exchange Online PowerShell:',
      '  New-Mailbox -Shared -Name "Mailbox Vault staging" -PrimarySmtpAddress staging@contoso.com',
      '  azd env set MAILBOX_VAULT_STAGING_MAILBOX staging@contoso.com && azd provision',
    ];
  return [
    '',
    `Downloads convert items in ${staging}. Grant Mail.ReadWrite on that mailbox alone (Exchange Online PowerShell):`,
    `  infra/scripts/grant-staging-access.ps1 -AppId ${appId} -ObjectId ${principal} -StagingMailbox ${staging}`,
  ];
}

/** Runs the Azure CLI and returns what it printed; throws when it fails or is not there. */
function azureCli(args) {
  const options = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] };
  // On Windows az is a batch file, run through cmd.exe: each argument quoted as az (Python) reads it back.
  if (process.platform === 'win32')
    return execSync(['az', ...args.map((a) => `"${a.replace(/"/g, '\\"')}"`)].join(' '), options);
  return execFileSync('az', args, options);
}

/** Sets a value in the azd environment (the next preprovision reads it before any output is refreshed). */
function azdEnvSet(name, value) {
  execFileSync('azd', ['env', 'set', name, value], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * With MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=true, locks the audit container's time-based retention policy unless
 * this provision found it locked already. ARM creates and updates the policy only unlocked; locking is an action
 * of its own, which needs the policy's etag: the Azure CLI, signed in as the deployer, takes it. Irreversible:
 * from then on no one, an admin included, can shorten or remove the policy, only extend it.
 */
export function lockAuditRetention(env, az = azureCli, setEnv = azdEnvSet) {
  const account = env.AUDIT_ACCOUNT_NAME ?? '';
  const container = env.AUDIT_CONTAINER_NAME || 'mailbox-vault-audit';
  const policy = [
    '--account-name',
    account,
    '--container-name',
    container,
    '--resource-group',
    env.AZURE_RESOURCE_GROUP ?? '',
  ];
  const period = `${env.AUDIT_RETENTION_DAYS} days`;
  // A provision from before the audit trail's outputs: nothing recorded to go by (preprovision refused a lock).
  if (!account) return { ok: true, lines: [] };
  if (!yes(env.MAILBOX_VAULT_AUDIT_RETENTION_LOCKED))
    return {
      ok: true,
      lines: [
        `The audit trail's retention policy (${period}) is unlocked: an admin can still shorten or remove it. ` +
          'Lock it (irreversible):',
        '  azd env set MAILBOX_VAULT_AUDIT_RETENTION_LOCKED true && azd provision',
      ],
    };
  if (env.AUDIT_RETENTION_STATE === 'Locked')
    return { ok: true, lines: [`The audit trail's retention policy (${period}) is locked.`] };
  const show = ['storage', 'container', 'immutability-policy', 'show', ...policy, '--query', 'etag', '-o', 'tsv'];
  try {
    const etag = az(show).trim();
    az(['storage', 'container', 'immutability-policy', 'lock', ...policy, '--if-match', etag]);
  } catch (error) {
    return {
      ok: false,
      lines: [
        `Could not lock the audit trail's retention policy with the Azure CLI: ${String(error.message ?? error).trim()}`,
        'Signed in with az login (as someone who may manage the audit storage account), lock it with:',
        `  etag=$(az ${show.join(' ')})`,
        `  az storage container immutability-policy lock ${policy.join(' ')} --if-match "$etag"`,
      ],
    };
  }
  const lines = [`The audit trail's retention policy (${period}) is now locked, for good.`];
  // This provision's outputs said Unlocked: without this, the next preprovision could not refuse an unlock.
  try {
    setEnv('AUDIT_RETENTION_STATE', 'Locked');
  } catch {
    lines.push('Record it for the next provision: azd env set AUDIT_RETENTION_STATE Locked');
  }
  return { ok: true, lines };
}

/** `audit`: what lockAuditRetention said, told beside the vault's immutability. */
export function nextSteps(env, audit = []) {
  const uri = env.SERVICE_API_URI ?? '';
  const app = env.AZURE_FUNCTION_APP_NAME ?? '';
  const rg = env.AZURE_RESOURCE_GROUP ?? '';
  const principal = env.MAILBOX_VAULT_MANAGED_IDENTITY_PRINCIPAL_ID ?? '';
  const credential = env.MAILBOX_VAULT_GRAPH_CREDENTIAL || 'managedIdentity';
  const permissions = env.MAILBOX_VAULT_GRAPH_PERMISSIONS || 'backupAndRestore';
  const group = env.MAILBOX_VAULT_SCOPE_GROUP_ID ? ' --group' : '';
  const lines = ['', 'mailbox-vault is provisioned.', '', `  App:       ${uri}`];
  lines.push(`  Identity:  ${principal} (client id ${env.MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID ?? ''})`);
  lines.push(`  Vault:     ${env.MAILBOX_VAULT_STORAGE_ACCOUNT_URL ?? ''}`);
  lines.push(`  Key Vault: ${env.MAILBOX_VAULT_KEY_VAULT_URL ?? ''}`, '');

  if (credential !== 'managedIdentity')
    lines.push(
      `Graph: the app signs in as app registration ${env.MAILBOX_VAULT_CLIENT_ID ?? ''} of tenant ${env.MAILBOX_VAULT_TENANT_ID ?? ''};`,
      `  store its ${credential === 'clientSecret' ? 'client secret' : 'certificate'} in Key Vault as ` +
        `'${env.MAILBOX_VAULT_GRAPH_SECRET_NAME || 'graph-client-credential'}' (docs/deployment.md#another-tenant-with-a-certificate-in-key-vault).`,
    );
  else if (!yes(env.MAILBOX_VAULT_GRANT_GRAPH_PERMISSIONS ?? 'true'))
    lines.push(
      'Graph permissions were NOT granted by this deployment. An admin grants them to the identity with:',
      `  infra/scripts/grant-graph-permissions.sh ${principal} ${permissions}${group}`,
    );
  else lines.push(`Graph permissions (${permissions}) were granted to the identity by this deployment.`);

  if (!env.MAILBOX_VAULT_SCOPE_USERS && !env.MAILBOX_VAULT_SCOPE_GROUP_ID)
    lines.push(
      '',
      'No mailboxes are in scope yet:',
      '  azd env set MAILBOX_VAULT_SCOPE_USERS "adele@contoso.com,support@contoso.com" && azd provision',
    );
  lines.push(...stagingSteps(env));
  lines.push('');
  if (env.MAILBOX_VAULT_ALERT_EMAIL) lines.push(`Alerts are emailed to ${env.MAILBOX_VAULT_ALERT_EMAIL}.`);
  else
    lines.push(
      'Alerts are set up but email no one:',
      '  azd env set MAILBOX_VAULT_ALERT_EMAIL you@contoso.com && azd provision',
    );
  if (yes(env.VAULT_IMMUTABLE))
    lines.push(
      env.VAULT_IMMUTABILITY_STATE === 'Locked'
        ? `The vault's immutability policy (${env.VAULT_IMMUTABILITY_DAYS} days) is locked.`
        : `The vault's immutability policy (${env.VAULT_IMMUTABILITY_DAYS} days) is unlocked: an admin can still ` +
            'shorten or remove it. Once the first backups look right, lock it (irreversible):\n' +
            '  azd env set MAILBOX_VAULT_IMMUTABILITY_LOCKED true && azd provision',
    );
  lines.push(...audit);
  lines.push(
    '',
    'First backup, once the code is deployed (azd up does it next; otherwise azd deploy):',
    `  key=$(az functionapp keys list -g ${rg} -n ${app} --query functionKeys.default -o tsv)`,
    `  npx mailbox-vault backup --url ${uri} --key "$key"`,
    '',
  );
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const audit = lockAuditRetention(process.env);
  console.log(nextSteps(process.env, audit.ok ? audit.lines : []));
  if (!audit.ok) {
    console.error(audit.lines.join('\n'));
    process.exit(1);
  }
}
