import type { Api } from './api.js';
import { describeProblem, err } from './output.js';

/** Polls a run's status each second until it is neither Running nor Pending; shows its progress on stderr. */
export async function waitFor(api: Api, path: string, json: boolean): Promise<Record<string, unknown>> {
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
    const line = progressLine(runtime, body.progress as Record<string, unknown> | null);
    if (line !== last && !json) {
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else err(line);
      last = line;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function progressLine(runtime: string, progress: Record<string, unknown> | null): string {
  if (!progress) return `  ${runtime}`;
  const parts = Object.entries(progress).map(([k, v]) => `${k} ${String(v)}`);
  return `  ${runtime} ${parts.join(', ')}`;
}
