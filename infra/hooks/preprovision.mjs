// azd preprovision hook: stops a provision Azure would reject half-way. Version-level immutability and the
// customer-managed key (with infrastructure encryption) can only be chosen when the vault account is created, and
// a locked immutability policy can only be extended; the same goes for the audit container's retention policy.
// The previous provision's outputs (VAULT_*, AUDIT_*, in the azd environment) say what the existing vault and
// audit container have. Plain Node, no dependencies: it runs before `npm ci` may have.
import { pathToFileURL } from 'node:url';

const days = (value) => Number(value || 0);
const yes = (value) => String(value).toLowerCase() === 'true';

/**
 * The audit container's retention policy: ARM creates it unlocked and updates it only while unlocked, and the
 * postprovision hook locks it when MAILBOX_VAULT_AUDIT_RETENTION_LOCKED is true; with that set, the deployment
 * leaves the policy alone (infra/app/audit-storage.bicep).
 */
export function auditRetentionProblems(env) {
  const problems = [];
  const account = env.AUDIT_ACCOUNT_NAME;
  const wantLocked = yes(env.MAILBOX_VAULT_AUDIT_RETENTION_LOCKED);
  const wantDays = days(env.MAILBOX_VAULT_AUDIT_RETENTION_DAYS || 365);
  const hasDays = days(env.AUDIT_RETENTION_DAYS);
  if (!account) {
    if (wantLocked)
      problems.push(
        "The audit container's retention policy is created unlocked, and locked once it exists. Provision with " +
          'MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=false, then set it to true and run azd provision again (README, Sign-in and roles).',
      );
    return problems;
  }
  if (env.AUDIT_RETENTION_STATE === 'Locked' && !wantLocked)
    problems.push(
      `The retention policy of the audit container in ${account} is locked, for good, and Azure updates only an ` +
        'unlocked one: keep MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=true.',
    );
  if (wantLocked && hasDays > 0 && wantDays !== hasDays)
    problems.push(
      `The retention policy of the audit container in ${account} keeps records ${hasDays} days, and with ` +
        'MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=true the deployment leaves it as it is: set ' +
        `MAILBOX_VAULT_AUDIT_RETENTION_DAYS back to ${hasDays}. ` +
        (env.AUDIT_RETENTION_STATE === 'Locked'
          ? `A locked policy can only be extended: az storage container immutability-policy extend --account-name ${account} ` +
            `--container-name ${env.AUDIT_CONTAINER_NAME || 'mailbox-vault-audit'} --period ${wantDays} --if-match <etag>, ` +
            'then set the days to match.'
          : 'To change it, provision with MAILBOX_VAULT_AUDIT_RETENTION_LOCKED=false first.'),
    );
  return problems;
}

/** The reasons this provision must not run, from the azd environment's values; empty when it may. */
export function provisionProblems(env) {
  const problems = auditRetentionProblems(env);
  const vault = env.VAULT_ACCOUNT_NAME;
  const wantDays = days(env.MAILBOX_VAULT_IMMUTABILITY_DAYS);
  const wantLocked = yes(env.MAILBOX_VAULT_IMMUTABILITY_LOCKED);
  const wantKey = yes(env.MAILBOX_VAULT_CUSTOMER_MANAGED_KEY);
  const fresh = 'create a new environment (azd env new) for a new vault, and move to it';

  if (wantLocked && wantDays === 0)
    problems.push(
      'MAILBOX_VAULT_IMMUTABILITY_LOCKED=true needs immutability on (MAILBOX_VAULT_IMMUTABILITY_DAYS > 0).',
    );
  if (!vault) {
    if (wantLocked)
      problems.push(
        'An immutability policy can only be created unlocked. Provision with MAILBOX_VAULT_IMMUTABILITY_LOCKED=false, ' +
          'check the first backups, then set it to true and run azd provision again (docs/deployment.md#immutability).',
      );
    return problems;
  }

  const hasImmutability = yes(env.VAULT_IMMUTABLE);
  if (wantDays > 0 && !hasImmutability)
    problems.push(
      `The vault ${vault} was created without version-level immutability, and Azure turns it on only when an ` +
        `account is created. Set MAILBOX_VAULT_IMMUTABILITY_DAYS back to 0, or ${fresh}.`,
    );
  if (wantDays === 0 && hasImmutability)
    problems.push(
      `The vault ${vault} was created with version-level immutability, which cannot be turned off. Set ` +
        `MAILBOX_VAULT_IMMUTABILITY_DAYS back to ${days(env.VAULT_IMMUTABILITY_DAYS)} (or more).`,
    );
  if (env.VAULT_IMMUTABILITY_STATE === 'Locked') {
    if (!wantLocked)
      problems.push(
        `The vault ${vault}'s immutability policy is locked, for good: keep MAILBOX_VAULT_IMMUTABILITY_LOCKED=true.`,
      );
    if (wantDays > 0 && wantDays < days(env.VAULT_IMMUTABILITY_DAYS))
      problems.push(
        `The vault ${vault}'s locked policy keeps versions ${days(env.VAULT_IMMUTABILITY_DAYS)} days; a locked ` +
          `policy can only be extended. Set MAILBOX_VAULT_IMMUTABILITY_DAYS to at least that.`,
      );
  }
  const hasKey = yes(env.VAULT_CUSTOMER_MANAGED_KEY);
  if (wantKey !== hasKey)
    problems.push(
      `The vault ${vault} was created ${hasKey ? 'with' : 'without'} a customer-managed key and infrastructure ` +
        `encryption, which Azure decides only when an account is created. Set MAILBOX_VAULT_CUSTOMER_MANAGED_KEY ` +
        `back to ${hasKey}, or ${fresh}.`,
    );
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problems = provisionProblems(process.env);
  if (problems.length > 0) {
    console.error('Not provisioning: Azure would reject this change to the vault or the audit trail, or not make it.');
    for (const problem of problems) console.error(`- ${problem}`);
    process.exit(1);
  }
}
