#!/usr/bin/env node
/**
 * `npx mailbox-vault <command>`: the operator CLI. In-process by default (the same app, through the local host,
 * against the configured tenant and vault), or against a deployed app with --url and --key. Progress goes to
 * stderr, results to stdout (--json for scripts); the exit code is 0 when everything succeeded, 1 when anything
 * failed, 2 for bad arguments.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

const USAGE = `mailbox-vault — back up and restore Exchange Online mailboxes

Usage: mailbox-vault <command> [options]

Commands:
  backup      Back up now: every mailbox in scope, or --mailbox (repeatable)
  restore     Restore from a snapshot (see options below)
  snapshots   List a mailbox's committed snapshots: --mailbox
  items       Browse a snapshot: --mailbox, [--snapshot latest|<id>], [--folder "Inbox/Projects"], [--top 100] [--skip 0]
  verify      Check stored items against their SHA-256: sampled, or --full; [--mailbox]
  prune       Apply the retention policy: [--dry-run] to see what would be deleted and the bytes freed; [--mailbox]
  status      Show a backup, restore or maintenance run: status <id>

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
  --key <key>               its function key (or MAILBOX_VAULT_FUNCTION_KEY)
  --json                    print the result as JSON
  --no-wait                 start and print the id without waiting
  -h, --help                this help

In-process, settings come from the environment and local.settings.json, as for \`npm start\`.
Exit codes: 0 all succeeded, 1 something failed (named in the output), 2 bad arguments.`;

const OPTIONS = {
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
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

const ALLOWED: Record<string, string[]> = {
  backup: ['mailbox'],
  restore: [
    'source',
    'target',
    'snapshot',
    'as-of',
    'folder',
    'item',
    'created-from',
    'created-to',
    'received-from',
    'received-to',
    'type',
    'destination',
    'folder-path',
    'collisions',
  ],
  snapshots: ['mailbox'],
  items: ['mailbox', 'snapshot', 'folder', 'top', 'skip'],
  verify: ['full', 'mailbox'],
  prune: ['dry-run', 'mailbox'],
  status: [],
};
const COMMON = ['url', 'key', 'json', 'no-wait', 'help'];

class UsageError extends Error {}

interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

async function remoteApi(url: string, key: string | undefined): Promise<Api> {
  const base = url.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(key ? { 'x-functions-key': key } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        parsed = { error: { title: text.slice(0, 300) } };
      }
      return { status: response.status, body: parsed };
    },
    close: async () => undefined,
  };
}

async function inProcessApi(): Promise<Api> {
  const file = join(process.cwd(), 'local.settings.json');
  if (existsSync(file)) {
    const values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
    for (const [k, v] of Object.entries(values)) if (process.env[k] === undefined) process.env[k] = v;
  }
  process.env.MAILBOX_VAULT_GRAPH_LOG ??= 'quiet';
  const { startLocalApp } = await import('../host/localApp.js');
  const app = await startLocalApp({ port: 0, clock: 'real' });
  const api = await remoteApi(app.baseUrl, undefined);
  return { call: api.call, close: () => app.close() };
}

function describeProblem(body: Record<string, unknown>): string {
  const error = body.error as { title?: string; errors?: string[] } | undefined;
  return [error?.title ?? 'The request failed', ...(error?.errors ?? []).map((e) => `  - ${e}`)].join('\n');
}

function resultOf(kind: string, body: Record<string, unknown>): { failed: boolean; lines: string[] } {
  const report = body.report as Record<string, any> | null; // eslint-disable-line @typescript-eslint/no-explicit-any
  const status = String(body.status ?? report?.status ?? body.runtimeStatus);
  const failed = status !== 'Completed';
  const lines = [`${kind} ${body.id}: ${status}`];
  if (kind === 'backup' && report) {
    for (const m of report.mailboxes ?? [])
      lines.push(
        `  ${m.status.padEnd(19)} ${m.upn}  ${m.items.inSnapshot} items in snapshot ${m.snapshotId ?? '-'}, ${m.items.exported} exported, ${m.items.failed} failed${m.error ? ` (${m.error})` : ''}`,
      );
    for (const w of report.warnings ?? []) lines.push(`  warning: ${w}`);
    for (const m of report.mailboxes ?? [])
      for (const f of m.failures ?? [])
        lines.push(`  failed: ${m.upn} ${f.folderPath} ${f.subject ?? f.itemId}: ${f.code} ${f.message}`);
  }
  if (kind === 'restore' && report) {
    const c = report.counts;
    lines.push(
      `  ${c.selected} selected, ${c.imported} imported, ${c.skippedAlreadyPresent} already present, ${c.failed} failed; into ${report.target.upn ?? report.target.mailboxId} under '${report.destination.root || '(original folders)'}'`,
    );
    for (const f of report.failures ?? [])
      lines.push(`  failed: ${f.folderPath} ${f.subject ?? f.sourceItemId}: ${f.code} ${f.message}`);
  }
  if (kind === 'maintenance' && report) {
    if (report.prune) {
      const t = report.prune.totals;
      lines.push(
        `  prune${report.prune.dryRun ? ' (dry run: nothing deleted)' : ''}: ${t.snapshotsExpired} snapshots expired, ${t.versionsDeleted} item versions ${report.prune.dryRun ? 'would be ' : ''}deleted, ${(t.bytesFreed / 1024 / 1024).toFixed(1)} MB ${report.prune.dryRun ? 'would be ' : ''}freed, ${t.immutableLeft} left under a retention policy`,
      );
      for (const m of report.prune.mailboxes)
        for (const i of m.immutable) lines.push(`  immutable: ${m.upn ?? m.mailboxKey} ${i.blob} (${i.reason})`);
    }
    if (report.verify) {
      const t = report.verify.totals;
      lines.push(
        `  verify (${report.verify.mode}): ${t.snapshotsChecked} snapshots, ${t.entriesChecked} entries checked, ${t.versionsHashed} versions re-hashed, ${t.problems} problems`,
      );
      for (const m of report.verify.mailboxes)
        for (const p of m.problems)
          lines.push(
            `  problem: ${m.upn ?? m.mailboxKey} snapshot ${p.snapshotId} ${p.kind} ${p.folderPath ?? ''} ${p.subject ?? p.itemId ?? ''} ${p.blob}`,
          );
    }
    for (const e of report.errors ?? []) lines.push(`  error: ${e.mailboxKey} ${e.step}: ${e.message}`);
  }
  if (!report && body.error) lines.push(`  ${String(body.error)}`);
  return { failed, lines };
}

async function waitFor(api: Api, path: string, json: boolean): Promise<Record<string, unknown>> {
  const tty = process.stderr.isTTY;
  let last = '';
  for (;;) {
    const { status, body } = await api.call('GET', path);
    if (status !== 200) throw new Error(describeProblem(body));
    const runtime = String(body.runtimeStatus);
    if (!['Running', 'Pending'].includes(runtime)) {
      if (tty && !json) process.stderr.write('\r\x1b[K');
      return body;
    }
    const progress = body.progress as Record<string, unknown> | null;
    const line = `  ${runtime}${
      progress
        ? ` ${Object.entries(progress)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ')}`
        : ''
    }`;
    if (line !== last && !json) {
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else err(line);
      last = line;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { positionals } = parsed;
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (!(command in ALLOWED)) throw new UsageError(`Unknown command '${command}'`);
  for (const name of Object.keys(values))
    if (!COMMON.includes(name) && !ALLOWED[command]!.includes(name))
      throw new UsageError(`--${name} does not apply to '${command}'`);
  if (command !== 'status' && rest.length) throw new UsageError(`Unexpected argument '${rest[0]}'`);
  const json = values.json === true;
  const str = (name: string) => values[name] as string | undefined;
  const list = (name: string) => values[name] as string[] | undefined;

  let request: { method: string; path: string; body?: unknown; kind: string; statusPath?: (id: string) => string };
  switch (command) {
    case 'backup':
      request = {
        method: 'POST',
        path: '/api/backups',
        body: list('mailbox') ? { mailboxes: list('mailbox') } : {},
        kind: 'backup',
        statusPath: (id) => `/api/backups/${id}`,
      };
      break;
    case 'restore': {
      if (!str('source')) throw new UsageError('restore needs --source <upn>');
      const body: Record<string, unknown> = { sourceMailbox: str('source') };
      const map: Array<[string, string]> = [
        ['target', 'targetMailbox'],
        ['snapshot', 'snapshot'],
        ['as-of', 'asOf'],
        ['created-from', 'createdFrom'],
        ['created-to', 'createdTo'],
        ['received-from', 'receivedFrom'],
        ['received-to', 'receivedTo'],
        ['destination', 'destination'],
        ['folder-path', 'folderPath'],
        ['collisions', 'collisions'],
      ];
      for (const [flag, field] of map) if (str(flag) !== undefined) body[field] = str(flag);
      if (list('folder')) body.folders = list('folder');
      if (list('item')) body.itemIds = list('item');
      if (list('type')) body.itemTypes = list('type');
      request = {
        method: 'POST',
        path: '/api/restores',
        body,
        kind: 'restore',
        statusPath: (id) => `/api/restores/${id}`,
      };
      break;
    }
    case 'snapshots': {
      const mailbox = list('mailbox');
      if (mailbox?.length !== 1) throw new UsageError('snapshots needs one --mailbox <upn>');
      request = { method: 'GET', path: `/api/snapshots?mailbox=${encodeURIComponent(mailbox[0]!)}`, kind: 'snapshots' };
      break;
    }
    case 'items': {
      const mailbox = list('mailbox');
      if (mailbox?.length !== 1) throw new UsageError('items needs one --mailbox <upn>');
      const query = new URLSearchParams({ mailbox: mailbox[0]! });
      if (list('folder')?.length) query.set('folder', list('folder')![0]!);
      for (const k of ['top', 'skip']) if (str(k) !== undefined) query.set(k, str(k)!);
      request = {
        method: 'GET',
        path: `/api/snapshots/${encodeURIComponent(str('snapshot') ?? 'latest')}/items?${query}`,
        kind: 'items',
      };
      break;
    }
    case 'verify':
    case 'prune': {
      const body: Record<string, unknown> =
        command === 'verify'
          ? { verify: { mode: values.full ? 'full' : 'sample' } }
          : { prune: { dryRun: values['dry-run'] === true } };
      if (list('mailbox')) body.mailboxes = list('mailbox');
      request = {
        method: 'POST',
        path: '/api/maintenance',
        body,
        kind: 'maintenance',
        statusPath: (id) => `/api/maintenance/${id}`,
      };
      break;
    }
    default: {
      const id = rest[0];
      if (!id || rest.length > 1) throw new UsageError('status needs one run id');
      const kind = id.startsWith('backup-')
        ? 'backup'
        : id.startsWith('restore-')
          ? 'restore'
          : id.startsWith('maintenance-')
            ? 'maintenance'
            : undefined;
      if (!kind) throw new UsageError(`'${id}' is not a backup, restore or maintenance id`);
      request = {
        method: 'GET',
        path: `/api/${kind === 'backup' ? 'backups' : kind === 'restore' ? 'restores' : 'maintenance'}/${id}`,
        kind,
      };
    }
  }

  const remoteUrl = str('url');
  const api = remoteUrl
    ? await remoteApi(remoteUrl, str('key') ?? process.env.MAILBOX_VAULT_FUNCTION_KEY)
    : await inProcessApi();
  try {
    const response = await api.call(request.method, request.path, request.body);
    if (response.status >= 400) {
      if (json) out(JSON.stringify(response.body, null, 2));
      else err(describeProblem(response.body));
      return response.status < 500 ? 2 : 1;
    }
    if (request.kind === 'snapshots' || request.kind === 'items') {
      if (json) out(JSON.stringify(response.body, null, 2));
      else if (request.kind === 'snapshots') {
        const snapshots = response.body.snapshots as Array<Record<string, unknown>>;
        if (!snapshots.length) out('No committed snapshots.');
        for (const s of snapshots)
          out(
            `${s.id}  taken ${s.takenAt}  ${String(s.status).padEnd(18)} ${s.items} items in ${s.folders} folders, ${(Number(s.bytes) / 1024 / 1024).toFixed(1)} MB${Number(s.failedItems) ? `, ${s.failedItems} failed` : ''}`,
          );
      } else {
        const b = response.body as {
          folder: { path: string[]; items: number };
          folders: Array<{ name: string; items: number }>;
          items: Array<Record<string, unknown>>;
          nextLink?: string;
        };
        out(`/${b.folder.path.join('/')}  (${b.folder.items} items)`);
        for (const f of b.folders) out(`  [${f.name}]  ${f.items} items`);
        for (const i of b.items)
          out(
            `  ${String(i.receivedDateTime ?? i.createdDateTime ?? '').slice(0, 16)}  ${String(i.sender ?? '').padEnd(28)} ${i.subject ?? '(no subject)'}  ${i.id}`,
          );
        if (b.nextLink) out(`  … more: --skip ${new URL(b.nextLink).searchParams.get('skip')}`);
      }
      return 0;
    }
    let body = response.body;
    if (request.statusPath && command !== 'status') {
      const id = String(body.id);
      if (values['no-wait']) {
        out(json ? JSON.stringify(body, null, 2) : id);
        return 0;
      }
      if (!json) err(`${request.kind} ${id} started`);
      body = await waitFor(api, request.statusPath(id), json);
    }
    const { failed, lines } = resultOf(request.kind, body);
    if (json) out(JSON.stringify(body, null, 2));
    else for (const line of lines) out(line);
    return failed ? 1 : 0;
  } finally {
    await api.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      err(`mailbox-vault: ${error.message}\nRun 'mailbox-vault --help' for the commands and options.`);
      process.exit(2);
    }
    err(`mailbox-vault: ${(error as Error).message}`);
    process.exit(1);
  },
);
