import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**', 'dist/**'],
    globalSetup: ['test/support/globalSetup.ts'],
    // A guard against hangs, never a speed check: a loaded machine (CI runs the suite beside CPU hogs) may take
    // several times a test's usual time, and the Azurite every file shares slows as the run fills it.
    testTimeout: 180_000,
    hookTimeout: 240_000,
    // Integration tests share two cores with the simulator and Azurite: keep the worker count small.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
