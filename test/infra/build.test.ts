import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BicepDiagnosticsError, buildInfra, parseDiagnostics, ROOT } from '../../scripts/bicep/build.js';
import { template } from '../support/arm.js';

/**
 * infra/ compiled by the real Bicep CLI (npm run infra:build; CI runs it too, with the version pinned from
 * NuGet): every file, no error, no linter warning, and the Graph extension resolved offline from infra/offline.
 */

const INFRA = join(ROOT, 'infra');
const bicepFiles = (dir: string, prefix = ''): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? bicepFiles(join(dir, e.name), `${prefix}${e.name}/`)
      : /\.bicep(param)?$/.test(e.name)
        ? [`${prefix}${e.name}`]
        : [],
  );

const scratch: string[] = [];
// The first build of these sources (a clean clone without CI's build, or a changed infra/) takes a while.
beforeAll(() => buildInfra({ reuse: true }), 300_000);
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('npm run infra:build', () => {
  it('compiles every .bicep file under infra/ with the Bicep CLI, with no error and no warning', async () => {
    const build = await buildInfra({ reuse: true });
    expect(build.cli.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect([...build.files].sort()).toEqual(bicepFiles(INFRA).sort());
    for (const file of build.files)
      expect(existsSync(join(build.dir, 'arm', file.replace(/\.bicep$/, '.json'))), file).toBe(true);
  });

  it('compiles the Graph module against the local types, while infra/bicepconfig.json keeps the registry', async () => {
    const config = JSON.parse(readFileSync(join(INFRA, 'bicepconfig.json'), 'utf8')) as {
      extensions: Record<string, string>;
    };
    const registry = /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:(\d+\.\d+\.\d+)$/.exec(
      config.extensions.microsoftGraphV1!,
    );
    expect(registry, 'infra/bicepconfig.json names the registry extension').not.toBeNull();
    const graph = await template('app/graph-permissions.json');
    // The compiled module binds the alias to the extension at the registry's version.
    expect(graph.imports).toEqual({ microsoftGraphV1: { provider: 'MicrosoftGraph', version: registry![1] } });
    const types = JSON.parse(readFileSync(join(INFRA, 'offline', 'microsoftgraph-v1.0', 'index.json'), 'utf8')) as {
      resources: Record<string, unknown>;
    };
    const used = Object.values(graph.resources as Record<string, { type: string }>).map((r) => r.type);
    for (const type of used) expect(Object.keys(types.resources)).toContain(type);
    const build = await buildInfra({ reuse: true });
    const offline = JSON.parse(readFileSync(join(build.dir, 'bicepconfig.json'), 'utf8')) as typeof config;
    expect(offline.extensions.microsoftGraphV1).toBe('./microsoftgraph-v1.0.tgz');
    expect(existsSync(join(build.dir, 'microsoftgraph-v1.0.tgz'))).toBe(true);
  });

  it('reads Bicep diagnostics as the CLI prints them', () => {
    const out = parseDiagnostics(
      `${ROOT}/infra/app/x.bicep(12,3) : Warning no-unused-params: Parameter "a" is declared but never used. [https://aka.ms/bicep/linter/no-unused-params]\n` +
        `${ROOT}/infra/main.bicep(4,1) : Error BCP018: Expected the "=" character at this location.\n` +
        "WARNING: The 'publish-extension' CLI command group is an experimental feature.\n",
    );
    expect(out).toEqual([
      {
        file: 'infra/app/x.bicep',
        line: 12,
        level: 'Warning',
        code: 'no-unused-params',
        message: 'Parameter "a" is declared but never used.',
      },
      {
        file: 'infra/main.bicep',
        line: 4,
        level: 'Error',
        code: 'BCP018',
        message: 'Expected the "=" character at this location.',
      },
    ]);
  });

  it('fails on a single linter warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-build-'));
    scratch.push(dir);
    cpSync(INFRA, join(dir, 'infra'), { recursive: true });
    appendFileSync(join(dir, 'infra', 'app', 'network.bicep'), "\nparam leftOver string = ''\n");
    const failed = await buildInfra({ infraDir: join(dir, 'infra'), outDir: join(dir, 'out') }).catch(
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(BicepDiagnosticsError);
    expect((failed as BicepDiagnosticsError).diagnostics).toEqual([
      expect.objectContaining({ level: 'Warning', code: 'no-unused-params', line: expect.any(Number) }),
    ]);
  }, 180_000);
});
