import type { TestProject } from 'vitest/node';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';

let azurite: RunningAzurite | undefined;

/** One Azurite for the whole run (in memory); each test file uses containers of its own. */
export async function setup(project: TestProject): Promise<void> {
  azurite = await startAzurite();
  project.provide('azuriteConnectionString', azurite.connectionString);
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    azuriteConnectionString: string;
  }
}
