// azd predown hook: azd down deletes the resource group, and Azure refuses to delete a storage account holding
// blob versions still inside a version-level immutability period. Rather than delete everything else and then
// fail on the vault, stop before anything is deleted and say why, unless the admin confirms (the vault is empty,
// or every period has ended).
import { pathToFileURL } from 'node:url';

const yes = (value) => String(value).toLowerCase() === 'true';

/** Why azd down should not go ahead, or undefined when it may. */
export function downProblem(env) {
  if (!yes(env.VAULT_IMMUTABLE) || yes(env.MAILBOX_VAULT_DOWN_CONFIRMED)) return undefined;
  return [
    `The vault ${env.VAULT_ACCOUNT_NAME} has version-level immutability (${env.VAULT_IMMUTABILITY_DAYS} days, ` +
      `${env.VAULT_IMMUTABILITY_STATE}). Azure will not delete it, nor its resource group, while any backed-up ` +
      'version is still inside that period after it was written, so azd down would delete the app and stop there.',
    'Nothing was deleted. If the vault is empty or every period has ended, go ahead with:',
    '  azd env set MAILBOX_VAULT_DOWN_CONFIRMED true && azd down',
    'Otherwise keep the vault until then (docs/deployment.md#taking-it-down).',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problem = downProblem(process.env);
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}
