import { execFile } from 'node:child_process';
import { access, constants, mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/**
 * Finds the Bicep CLI: BICEP_CLI, then `bicep` on PATH, then ~/.azure/bin (where azd and the Azure CLI install
 * it), then this project's NuGet cache; restores the pinned version from NuGet (with the .NET SDK) when none is
 * found. NuGet serves the CLI as a self-contained executable per platform.
 */

export const BICEP_VERSION = '0.49.2';

const run = promisify(execFile);

export interface BicepCli {
  path: string;
  version: string;
  source: 'BICEP_CLI' | 'PATH' | '~/.azure/bin' | 'NuGet';
}

export interface FindOptions {
  /** Skip PATH and ~/.azure/bin: CI compiles with the pinned version only. */
  pinnedOnly?: boolean;
  log?: (message: string) => void;
}

const exe = process.platform === 'win32' ? 'bicep.exe' : 'bicep';

/** NuGet's runtime id for this machine: the package is Azure.Bicep.CommandLine.<rid>. */
function runtimeId(): string {
  const os = { linux: 'linux', darwin: 'osx', win32: 'win' }[process.platform as string];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch as string];
  if (!os || !arch) throw new Error(`No Bicep CLI package on NuGet for ${process.platform}-${process.arch}`);
  return `${os}-${arch}`;
}

export function nugetCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mailbox-vault', 'nuget');
}

function nugetExecutable(): string {
  const id = `azure.bicep.commandline.${runtimeId()}`;
  return join(nugetCacheDir(), 'packages', id, BICEP_VERSION, 'tools', exe);
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function versionOf(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 60_000 });
    return /(\d+\.\d+\.\d+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** Restores the pinned CLI into the cache with a throwaway project (PackageDownload: no build, no framework). */
export async function restoreFromNuget(log: (message: string) => void = () => {}): Promise<string> {
  const target = nugetExecutable();
  if (await executable(target)) return target;
  const project = join(nugetCacheDir(), `restore-${BICEP_VERSION}`);
  await mkdir(project, { recursive: true });
  await writeFile(
    join(project, 'restore.csproj'),
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>netstandard2.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.${runtimeId()}" Version="[${BICEP_VERSION}]" /></ItemGroup>
</Project>
`,
  );
  log(`Restoring Azure.Bicep.CommandLine.${runtimeId()} ${BICEP_VERSION} from NuGet…`);
  try {
    await run('dotnet', ['restore', project, '--packages', join(nugetCacheDir(), 'packages')], {
      timeout: 10 * 60_000,
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
    });
  } catch (error) {
    const detail = (error as { stdout?: string; message: string }).stdout || (error as Error).message;
    throw new Error(
      `Could not restore the Bicep CLI from NuGet (needs the .NET SDK and access to nuget.org), and none was found ` +
        `on PATH, in ~/.azure/bin or in BICEP_CLI.\n${detail}`,
    );
  }
  if (process.platform !== 'win32') await run('chmod', ['+x', target]);
  return target;
}

export async function findBicep(options: FindOptions = {}): Promise<BicepCli> {
  const candidates: Array<[BicepCli['source'], string]> = [];
  if (process.env.BICEP_CLI) candidates.push(['BICEP_CLI', process.env.BICEP_CLI]);
  if (!options.pinnedOnly) {
    for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean))
      candidates.push(['PATH', join(dir, exe)]);
    candidates.push(['~/.azure/bin', join(homedir(), '.azure', 'bin', exe)]);
  }
  candidates.push(['NuGet', nugetExecutable()]);
  for (const [source, path] of candidates) {
    if (!(await executable(path))) continue;
    const version = await versionOf(path);
    if (version) return { path, version, source };
  }
  const path = await restoreFromNuget(options.log);
  const version = await versionOf(path);
  if (!version) throw new Error(`The Bicep CLI restored at ${path} does not run`);
  return { path, version, source: 'NuGet' };
}

// `tsx scripts/bicep/cli.ts [--pinned]`: prints the CLI's path (restoring it first if needed), for CI.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  findBicep({ pinnedOnly: process.argv.includes('--pinned'), log: (m) => console.error(m) })
    .then((cli) => {
      console.error(`Bicep CLI ${cli.version} (${cli.source})`);
      console.log(cli.path);
    })
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
