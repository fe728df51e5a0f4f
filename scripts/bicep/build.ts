import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { findBicep, type BicepCli, type FindOptions } from './cli.js';

/**
 * `npm run infra:build`: lints and compiles every .bicep (and .bicepparam) under infra/ with the real Bicep CLI,
 * and fails on any error or warning. The Microsoft Graph extension is compiled against the types kept in
 * infra/offline/ (packaged as a local extension, named by a build-only copy of infra/bicepconfig.json), so no
 * registry is needed; infra/bicepconfig.json itself keeps the registry reference a real deployment restores.
 *
 * The ARM templates land in .infra-build/<hash of the inputs>/arm/, where the infra tests read them; a build
 * whose inputs have not changed is reused.
 */

const run = promisify(execFile);

export const ROOT = join(import.meta.dirname, '..', '..');
const GRAPH_ALIAS = 'microsoftGraphV1';

export interface Diagnostic {
  file: string;
  line: number;
  level: 'Error' | 'Warning';
  code: string;
  message: string;
}

export interface InfraBuild {
  /** Folder of the compiled templates: arm/main.json, arm/app/vault-storage.json, … */
  dir: string;
  cli: BicepCli;
  /** Sources compiled, relative to infra/. */
  files: string[];
  reused: boolean;
}

export class BicepDiagnosticsError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(
      `Bicep reported ${diagnostics.length} error(s) or warning(s):\n` +
        diagnostics.map((d) => `  ${d.file}:${d.line} ${d.level} ${d.code}: ${d.message}`).join('\n'),
    );
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out.sort();
}

/** `path(line,col) : Warning code: message [link]`, as both `build` and `lint` print them. */
export function parseDiagnostics(output: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),\d+\) : (Error|Warning) ([\w-]+): (.*?)(?: \[https?:\/\/\S+\])?\s*$/.exec(line.trim());
    if (m)
      out.push({
        file: relative(ROOT, m[1]!),
        line: Number(m[2]),
        level: m[3] as Diagnostic['level'],
        code: m[4]!,
        message: m[5]!,
      });
  }
  return out;
}

async function bicep(cli: BicepCli, args: string[], cwd: string): Promise<{ output: string; failed: boolean }> {
  try {
    const { stdout, stderr } = await run(cli.path, args, { cwd, timeout: 10 * 60_000, maxBuffer: 64 << 20 });
    return { output: `${stdout}\n${stderr}`, failed: false };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { output: `${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`, failed: true };
  }
}

/** Checks one step: its diagnostics, or, if it failed without any, its output. */
function check(step: string, result: { output: string; failed: boolean }): Diagnostic[] {
  const diagnostics = parseDiagnostics(result.output);
  if (result.failed && diagnostics.length === 0) throw new Error(`bicep ${step} failed:\n${result.output}`);
  return diagnostics;
}

export interface BuildOptions extends FindOptions {
  /** Reuse a build of the same inputs (default true). */
  reuse?: boolean;
  /** The folder to compile (default infra/) and where builds go (default .infra-build/): tests use copies. */
  infraDir?: string;
  outDir?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when a finished build is there (or another process finishes it); false once this process may build. */
async function waitForOtherBuild(dir: string): Promise<boolean> {
  for (;;) {
    if (existsSync(join(dir, 'ok.json'))) return true;
    try {
      await mkdir(dirname(dir), { recursive: true });
      await mkdir(`${dir}.lock`);
      return false;
    } catch {
      // Another process builds this; a lock older than ten minutes is left over from one that died.
      const age = Date.now() - (await stat(`${dir}.lock`).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
      if (age > 10 * 60_000) await rm(`${dir}.lock`, { recursive: true, force: true });
      else await sleep(500);
    }
  }
}

export async function buildInfra(options: BuildOptions = {}): Promise<InfraBuild> {
  const log = options.log ?? (() => {});
  const INFRA = options.infraDir ?? join(ROOT, 'infra');
  const OUT = options.outDir ?? join(ROOT, '.infra-build');
  const cwd = dirname(INFRA);
  const GRAPH_TYPES = join(INFRA, 'offline', 'microsoftgraph-v1.0', 'index.json');
  const cli = await findBicep(options);
  const inputs = await filesUnder(INFRA);
  const sources = inputs.filter((f) => f.endsWith('.bicep') || f.endsWith('.bicepparam'));
  const hash = createHash('sha256').update(`${cli.version}\n`);
  for (const file of inputs) hash.update(`${relative(INFRA, file)}\n`).update(await readFile(file));
  const id = hash.digest('hex').slice(0, 16);
  const dir = join(OUT, id);
  const files = sources.map((f) => relative(INFRA, f));
  if (options.reuse !== false) {
    // Test workers ask at once: one builds, the others wait for its result rather than compile the same again.
    if (await waitForOtherBuild(dir)) return { dir, cli, files, reused: true };
  }

  // Built aside and renamed into place, so builds running at once (test workers) never see each other's halves.
  const work = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(join(work, 'arm'), { recursive: true });
  try {
    const extension = join(work, 'microsoftgraph-v1.0.tgz');
    const published = await bicep(cli, ['publish-extension', GRAPH_TYPES, '--target', extension, '--force'], cwd);
    if (published.failed) throw new Error(`bicep publish-extension failed:\n${published.output}`);
    const config = JSON.parse(await readFile(join(INFRA, 'bicepconfig.json'), 'utf8')) as {
      extensions: Record<string, string>;
    };
    // Relative to the configuration file, so the build stays valid once moved into place.
    config.extensions[GRAPH_ALIAS] = './microsoftgraph-v1.0.tgz';
    const configFile = join(work, 'bicepconfig.json');
    await writeFile(configFile, JSON.stringify(config, null, 2));

    // One process per step for every file (each start of the CLI costs a second or two).
    const pattern = ['--pattern', `${basename(INFRA)}/**/*.bicep`, '--config', configFile];
    const found = check('lint', await bicep(cli, ['lint', ...pattern], cwd));
    found.push(...check('build', await bicep(cli, ['build', ...pattern, '--outdir', join(work, 'arm')], cwd)));
    for (const params of sources.filter((f) => f.endsWith('.bicepparam'))) {
      const target = join(work, 'arm', relative(INFRA, params).replace(/\.bicepparam$/, '.parameters.json'));
      await mkdir(dirname(target), { recursive: true });
      found.push(
        ...check(
          `build-params ${relative(ROOT, params)}`,
          await bicep(cli, ['build-params', params, '--config', configFile, '--outfile', target], cwd),
        ),
      );
    }
    // The build repeats the linter's findings, and a module is checked again inside each file using it.
    const diagnostics = found.filter(
      (d, i) => found.findIndex((x) => x.file === d.file && x.line === d.line && x.code === d.code) === i,
    );
    for (const file of files) log(`  ${file.split(sep).join('/')}`);
    if (diagnostics.length > 0) throw new BicepDiagnosticsError(diagnostics);
    await writeFile(join(work, 'ok.json'), JSON.stringify({ cli: cli.version, files }, null, 2));
    try {
      await rename(work, dir);
    } catch {
      if (!existsSync(join(dir, 'ok.json'))) throw new Error(`Could not move the build into ${dir}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    if (options.reuse !== false) await rm(`${dir}.lock`, { recursive: true, force: true });
  }
  // Older builds are of no further use.
  for (const entry of await readdir(OUT))
    if (entry !== id && !/\.(tmp-|lock$)/.test(entry)) await rm(join(OUT, entry), { recursive: true, force: true });
  return { dir, cli, files, reused: false };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  buildInfra({ reuse: false, pinnedOnly: process.argv.includes('--pinned'), log: (m) => console.log(m) })
    .then((build) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `Bicep ${build.cli.version} (${build.cli.source}): ${build.files.length} files compiled, 0 errors, 0 warnings, ` +
          `in ${seconds} s → ${relative(ROOT, build.dir)}/arm`,
      );
    })
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
