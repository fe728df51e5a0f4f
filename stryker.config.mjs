// Mutation testing (npm run test:mutation, not part of npm test): one module group at a time, each with only its
// own fast tests. MUTATION_GROUP names the group (test/mutation/groups.json); docs/mutation-testing.md explains.
import { readFileSync } from 'node:fs';

const groups = JSON.parse(readFileSync(new URL('./test/mutation/groups.json', import.meta.url), 'utf8'));
const group = process.env.MUTATION_GROUP;
if (!group || !groups[group])
  throw new Error(`Set MUTATION_GROUP to one of: ${Object.keys(groups).join(', ')} (test/mutation/groups.json)`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: groups[group].mutate,
  coverageAnalysis: 'perTest',
  // Reruns test only the mutants whose code or tests changed; the file is committed, one per group.
  incremental: true,
  incrementalFile: `test/mutation/incremental/${group}.json`,
  // Two cores shared by many: one test process; a static mutant would rerun every test, so they are skipped.
  concurrency: 1,
  ignoreStatic: true,
  timeoutMS: 20_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `reports/mutation/${group}.json` },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
