import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Applies local.settings.json's `Values` to the environment, as `func start` does; a variable already set in
 * the environment wins. Returns how many values the file holds, or undefined when there is no file.
 */
export function applyLocalSettingsFile(dir = process.cwd(), env: NodeJS.ProcessEnv = process.env): number | undefined {
  const file = join(dir, 'local.settings.json');
  if (!existsSync(file)) return undefined;
  const values = (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  for (const [key, value] of Object.entries(values)) if (env[key] === undefined) env[key] = value;
  return Object.keys(values).length;
}
