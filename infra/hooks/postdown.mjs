// azd postdown hook: after azd down the environment may be provisioned again. A deleted Key Vault stays
// soft-deleted for 90 days and keeps its name (with purge protection it cannot be purged either), so the next
// provision takes a fresh name; and the vault it creates is a new one, free to choose immutability and encryption.
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** The `azd env set` calls that prepare the environment for its next provision. */
export function afterDown(env) {
  const generation = Number(env.MAILBOX_VAULT_KEY_VAULT_GENERATION || 0) + 1;
  return [
    ['MAILBOX_VAULT_KEY_VAULT_GENERATION', String(generation)],
    // What the deleted vault was created with no longer binds the next one (preprovision.mjs).
    ['VAULT_ACCOUNT_NAME', ''],
    ['VAULT_IMMUTABLE', 'false'],
    ['VAULT_IMMUTABILITY_STATE', 'None'],
    ['VAULT_IMMUTABILITY_DAYS', '0'],
    ['VAULT_CUSTOMER_MANAGED_KEY', 'false'],
    ['MAILBOX_VAULT_DOWN_CONFIRMED', 'false'],
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const shell = process.platform === 'win32';
  for (const [name, value] of afterDown(process.env))
    execFileSync('azd', ['env', 'set', name, value], { stdio: 'inherit', shell });
  console.log(
    'The next azd up creates a Key Vault with a new name; the soft-deleted one is purged by Azure after 90 days.',
  );
}
