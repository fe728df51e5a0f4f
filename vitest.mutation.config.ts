import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/** The fast, behaviour-level tests of one mutation group (test/mutation/groups.json, stryker.config.mjs). */
const groups = JSON.parse(readFileSync(new URL('./test/mutation/groups.json', import.meta.url), 'utf8')) as Record<
  string,
  { tests: string[] }
>;
const group = groups[process.env.MUTATION_GROUP ?? ''];

export default defineConfig({
  test: {
    include: group?.tests ?? [],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
