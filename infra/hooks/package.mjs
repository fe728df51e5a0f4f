// azd prepackage hook of the api service: stages what Azure runs, and nothing else, in .deploy/package (azure.yaml
// `dist`), which azd zips and deploys as it is (no remote build). The compiled app (dist/functions, dist/shared,
// and the built web portal, dist/portal),
// host.json, package.json with its lock file, and production dependencies only, installed from the lock file
// without running any package's scripts: no devDependencies (Azurite, Vitest, ESLint, tree-sitter), no compiler
// run on the server. All production dependencies are plain JavaScript, so a package built on any OS runs on Linux.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Builds the app (unless told not to) and stages it in `target`; returns the staged folder. */
export function stagePackage({ target = join(ROOT, '.deploy', 'package'), build = true, npmArgs = [] } = {}) {
  const shell = process.platform === 'win32';
  if (build) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit', shell });
  if (!existsSync(join(ROOT, 'dist', 'functions', 'index.js')))
    throw new Error('dist/functions/index.js is missing: npm run build');
  if (!existsSync(join(ROOT, 'dist', 'portal', 'index.html')))
    throw new Error('dist/portal/index.html is missing: npm run build (it builds the portal too)');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(join(target, 'dist'), { recursive: true });
  for (const folder of ['functions', 'shared', 'portal'])
    cpSync(join(ROOT, 'dist', folder), join(target, 'dist', folder), { recursive: true });
  for (const file of ['host.json', 'package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(target, file));
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', ...npmArgs], {
    cwd: target,
    stdio: 'inherit',
    shell,
  });
  return target;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const target = stagePackage();
  console.log(`Deployment package staged in ${target}`);
}
