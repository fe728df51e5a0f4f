#!/usr/bin/env node
/**
 * `npx mailbox-vault <command>`: the operator CLI. In-process by default (the same app, through the local host,
 * against the configured tenant and vault), or against a deployed app with --url and --key. Progress goes to
 * stderr, results to stdout (--json for scripts); the exit code is 0 when everything succeeded, 1 when anything
 * failed, 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { accessTokenFor, inProcessApi, remoteApi, type Api } from './api.js';
import { describeProblem, err, out, printAudit, printItems, printSnapshots, resultOf } from './output.js';
import { requestFor, type ApiRequest, type OptionValues } from './requests.js';
import { ALLOWED, COMMON, OPTIONS, USAGE, UsageError } from './usage.js';
import { waitFor } from './wait.js';

async function run(argv: string[]): Promise<number> {
  const { command, rest, values } = parseCommandLine(argv);
  if (values.help || !command) {
    out(USAGE);
    return command || values.help ? 0 : 2;
  }
  checkArguments(command, rest, values);
  const request = requestFor(command, rest, values);
  const api = await openApi(values);
  try {
    return await execute(api, request, values);
  } finally {
    await api.close();
  }
}

function parseCommandLine(argv: string[]): { command?: string; rest: string[]; values: OptionValues } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [command, ...rest] = parsed.positionals;
  return { command, rest, values: parsed.values as OptionValues };
}

function checkArguments(command: string, rest: string[], values: OptionValues): void {
  if (!(command in ALLOWED)) throw new UsageError(`Unknown command '${command}'`);
  for (const name of Object.keys(values))
    if (!COMMON.includes(name) && !ALLOWED[command]!.includes(name))
      throw new UsageError(`--${name} does not apply to '${command}'`);
  if (command !== 'status' && rest.length) throw new UsageError(`Unexpected argument '${rest[0]}'`);
}

/** The deployed app with --url (signed in with --scope or a token), otherwise the app in this process. */
async function openApi(values: OptionValues): Promise<Api> {
  const url = values.url as string | undefined;
  if (!url) return inProcessApi();
  return remoteApi(url, accessTokenFor((values.scope as string | undefined) ?? process.env.MAILBOX_VAULT_API_SCOPE));
}

/** Makes the call and prints its outcome; for a started run, waits for it unless --no-wait. Returns the exit code. */
async function execute(api: Api, request: ApiRequest, values: OptionValues): Promise<number> {
  const json = values.json === true;
  if (request.kind === 'downloadItem') return saveFile(api, request.path, request.saveTo!, json);
  const response = await api.call(request.method, request.path, request.body);
  if (response.status >= 400) {
    if (json) out(JSON.stringify(response.body, null, 2));
    else err(describeProblem(response.body));
    return response.status < 500 ? 2 : 1;
  }
  if (request.kind === 'snapshots' || request.kind === 'items' || request.kind === 'audit') {
    if (json) out(JSON.stringify(response.body, null, 2));
    else if (request.kind === 'snapshots') printSnapshots(response.body);
    else if (request.kind === 'audit') printAudit(response.body);
    else printItems(response.body);
    return 0;
  }
  let body = response.body;
  if (request.statusPath) {
    const id = String(body.id);
    if (values['no-wait']) {
      out(json ? JSON.stringify(body, null, 2) : id);
      return 0;
    }
    if (!json) err(`${request.kind} ${id} started`);
    body = await waitFor(api, request.statusPath(id), json);
  }
  const code = printResult(request.kind, body, json);
  const link = (body.download as { url?: string } | null | undefined)?.url;
  if (request.saveTo && link) return Math.max(code, await saveFile(api, new URL(link).pathname, request.saveTo, json));
  return code;
}

/** Saves a downloaded file; says where and how big, or what the app answered instead. */
async function saveFile(api: Api, path: string, outPath: string, json: boolean): Promise<number> {
  const saved = await api.save(path, outPath);
  if (saved.status >= 400) {
    if (json) out(JSON.stringify(saved.body, null, 2));
    else err(describeProblem(saved.body ?? {}));
    return saved.status < 500 ? 2 : 1;
  }
  if (json) out(JSON.stringify({ file: outPath, bytes: saved.bytes }));
  else out(`Saved ${outPath} (${saved.bytes} bytes)`);
  return 0;
}

function printResult(kind: string, body: Record<string, unknown>, json: boolean): number {
  const { failed, lines } = resultOf(kind, body);
  if (json) out(JSON.stringify(body, null, 2));
  else for (const line of lines) out(line);
  return failed ? 1 : 0;
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
