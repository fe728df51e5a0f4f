import type { ParseArgsConfig } from 'node:util';

export const USAGE = `mailbox-vault — back up and restore Exchange Online mailboxes

Usage: mailbox-vault <command> [options]

Commands:
  backup      Back up now: every mailbox in scope, or --mailbox (repeatable)
  restore     Restore from a snapshot (see options below)
  snapshots   List a mailbox's committed snapshots: --mailbox
  items       Browse a snapshot: --mailbox, [--snapshot latest|<id>], [--folder "Inbox/Projects"], [--top 100] [--skip 0]
  verify      Check stored items against their SHA-256: sampled, or --full; [--mailbox]
  prune       Apply the retention policy: [--dry-run] to see what would be deleted and the bytes freed; [--mailbox]
  download    A message as EML: --source, --item <id>, [--snapshot], --out <file.eml>; or a selection (the
              restore options below) as one file: --format mbox|zip, --out <file>
  status      Show a backup, restore, download or maintenance run: status <id>
  audit       The audit trail: [--since <time>] [--until <time>] (default the last 24 hours) [--limit 1000]

Restore options:
  --source <upn>            mailbox whose snapshot to restore (required)
  --snapshot <id|latest>    snapshot id (default latest)      --as-of <time>   newest snapshot at or before a time
  --folder <path>           folder (and below), repeatable    --item <id>      item id, repeatable
  --created-from <date>     --created-to <date>   --received-from <date>   --received-to <date>
  --type <class>            message class such as IPM.Note, repeatable
  --target <upn>            target mailbox (default: the source)
  --destination <mode>      newFolder (default), original, or folder with --folder-path <path>
  --collisions <mode>       skip (default) or copy

Common options:
  --url <url>               a deployed app (https://<app>.azurewebsites.net); in-process when absent
  --scope <scope>           sign in to it with @azure/identity for this API scope (or MAILBOX_VAULT_API_SCOPE):
                            api://…/.default, as azd prints it; Azure CLI, managed identity or AZURE_CLIENT_*
                            (MAILBOX_VAULT_ACCESS_TOKEN instead sends that token as it is)
  --json                    print the result as JSON
  --no-wait                 start and print the id without waiting
  -h, --help                this help

In-process, settings come from the environment and local.settings.json, as for \`npm start\`, and you are the
local operator (every role).
Exit codes: 0 all succeeded, 1 something failed (named in the output), 2 bad arguments.`;

export const OPTIONS = {
  mailbox: { type: 'string', multiple: true },
  source: { type: 'string' },
  target: { type: 'string' },
  snapshot: { type: 'string' },
  'as-of': { type: 'string' },
  folder: { type: 'string', multiple: true },
  item: { type: 'string', multiple: true },
  'created-from': { type: 'string' },
  'created-to': { type: 'string' },
  'received-from': { type: 'string' },
  'received-to': { type: 'string' },
  type: { type: 'string', multiple: true },
  destination: { type: 'string' },
  'folder-path': { type: 'string' },
  collisions: { type: 'string' },
  top: { type: 'string' },
  skip: { type: 'string' },
  full: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  url: { type: 'string' },
  scope: { type: 'string' },
  json: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/** What to take from a snapshot: a restore and a download choose items the same way. */
const SELECTION = [
  'snapshot',
  'as-of',
  'folder',
  'item',
  'created-from',
  'created-to',
  'received-from',
  'received-to',
  'type',
];

/** The options each command takes, besides COMMON. */
export const ALLOWED: Record<string, string[]> = {
  backup: ['mailbox'],
  restore: ['source', 'target', ...SELECTION, 'destination', 'folder-path', 'collisions'],
  download: ['source', ...SELECTION, 'format', 'out'],
  snapshots: ['mailbox'],
  items: ['mailbox', 'snapshot', 'folder', 'top', 'skip'],
  verify: ['full', 'mailbox'],
  prune: ['dry-run', 'mailbox'],
  status: [],
  audit: ['since', 'until', 'limit'],
};

export const COMMON = ['url', 'scope', 'json', 'no-wait', 'help'];

/** Bad arguments: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {}
