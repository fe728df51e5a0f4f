import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.js';

const deployed = (file: string): Record<string, string> =>
  JSON.parse(readFileSync(join(ROOT, 'infra', 'app', file), 'utf8'));

/** glibc's malloc settings the deployment gives the Function app (infra/app/malloc-tuning.json). */
export const DEPLOYED_MALLOC: Record<string, string> = deployed('malloc-tuning.json');

/** V8's options the deployment gives the Function app's Node.js worker (infra/app/node-worker.json). */
export const DEPLOYED_NODE_ARGUMENTS: string[] = deployed('node-worker.json')
  .languageWorkers__node__arguments!.split(' ')
  .filter(Boolean);

/**
 * The bench measures the app's RSS as deployed, and glibc and V8 read their settings only when a process starts:
 * a bench started without them runs itself again with them, and this process only waits for it. Returns true
 * then. `MAILBOX_VAULT_BENCH_PROCESS=as-started` measures the process as it was started instead.
 */
export function rerunWithDeployedAllocator(): boolean {
  if (process.env.MAILBOX_VAULT_BENCH_PROCESS === 'as-started') return false;
  const missingArguments = DEPLOYED_NODE_ARGUMENTS.filter((argument) => !process.execArgv.includes(argument));
  const mallocSet = Object.keys(DEPLOYED_MALLOC).every((name) => process.env[name] !== undefined);
  if (mallocSet && missingArguments.length === 0) return false;
  const child = spawn(process.execPath, [...missingArguments, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...DEPLOYED_MALLOC, ...process.env },
  });
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return true;
}
