import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** Lints one line of code as if it stood in `filePath`, with the project's own configuration. */
async function importErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(`${code}\nexport const used = x;\n`, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer boundaries (eslint.config.js)', () => {
  it.each([
    ['shared/backup/plan.ts', "import { x } from '../../functions/contracts.js';", /shared\/ is the library/],
    ['shared/graph/retry.ts', "import { x } from '../../local/host/durableHost.js';", /shared\/ is the library/],
    ['shared/config.ts', "import { x } from '../test/support/stack.js';", /shared\/ is the library/],
    ['shared/services.ts', "import x from 'durable-functions';", /shared\/ is the library/],
    ['shared/vault/layout.ts', "import { x } from '@azure/functions';", /shared\/ is the library/],
    ['shared/backup/commit.ts', "import { x } from '../restore/plan.js';", /meet only through the vault/],
    ['shared/restore/plan.ts', "import { x } from '../backup/plan.js';", /meet only through the vault/],
    ['functions/snapshots.ts', "import { x } from '../local/host/localApp.js';", /functions\/ imports shared\/ only/],
    ['local/start.ts', "import { x } from '../test/support/stack.js';", /local\/ imports functions\/ and shared\//],
    ['portal/src/api.ts', "import { x } from '../../shared/errors.js';", /portal\/ runs in the browser/],
  ])('refuses in %s: %s', async (filePath, code, message) => {
    const errors = await importErrors(filePath, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it.each([
    ['shared/backup/plan.ts', "import { x } from '../mailbox/index.js';"],
    ['shared/restore/plan.ts', "import { x } from '../vault/layout.js';"],
    ['functions/backupActivities.ts', "import { x } from '../shared/backup/plan.js';"],
    ['local/host/localApp.ts', "import { x } from '../../functions/durable.js';"],
    ['test/backup/plan.test.ts', "import { x } from '../../local/simulator/index.js';"],
  ])('allows in %s: %s', async (filePath, code) => {
    expect(await importErrors(filePath, code)).toEqual([]);
  });
});
