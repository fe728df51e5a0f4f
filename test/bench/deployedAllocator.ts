import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.js';

/** glibc's malloc settings the deployment gives the Function app (infra/app/malloc-tuning.json). */
export const DEPLOYED_MALLOC: Record<string, string> = JSON.parse(
  readFileSync(join(ROOT, 'infra', 'app', 'malloc-tuning.json'), 'utf8'),
);

/**
 * The bench measures the app's RSS as deployed, and glibc reads its settings only when a process starts: a bench
 * started without them runs itself again with them, and this process only waits for it. Returns true then.
 */
export function rerunWithDeployedAllocator(): boolean {
  if (Object.keys(DEPLOYED_MALLOC).every((name) => process.env[name] !== undefined)) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...DEPLOYED_MALLOC, ...process.env },
  });
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return true;
}
