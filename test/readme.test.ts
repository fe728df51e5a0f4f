import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SETTINGS } from '../shared/config.js';
import { SIMULATOR_ENV } from '../local/simulator/env.js';

/**
 * The docs tell the truth: every setting the code reads is in the README's settings table, and every simulator
 * variable in docs/simulator.md, with the same default.
 */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const simulatorDoc = readFileSync(new URL('../docs/simulator.md', import.meta.url), 'utf8');

function row(name: string, text = readme): string | undefined {
  return text.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
}

describe('README', () => {
  it.each(Object.entries(SETTINGS))('documents %s with its default', (name, setting) => {
    const line = row(name);
    expect(line, `${name} is missing from the settings table`).toBeDefined();
    expect(line).toContain(setting.default === '' ? '(empty)' : `\`${setting.default}\``);
  });

  it.each(Object.entries(SIMULATOR_ENV))('documents simulator variable %s with its default', (name, [fallback]) => {
    const line = row(name, simulatorDoc);
    expect(line, `${name} is missing from the simulator table in docs/simulator.md`).toBeDefined();
    expect(line).toContain(fallback === '' ? '(empty)' : `\`${fallback}\``);
  });

  it('gives the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
