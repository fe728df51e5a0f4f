import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers (docs/architecture.md): functions → shared; local → functions | shared; shared never imports
 * functions, local or the Functions packages; backup and restore meet only through the vault and the shared
 * mailbox model. Relative imports climbing out of a folder are what cross a layer, so that is what is matched.
 */
const climbingInto = (folders, message) => ({ regex: `^(\\.\\./)+(${folders.join('|')})/`, message });
const restrictImports = (files, patterns, packages = []) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { paths: packages, patterns }] },
});
const LIBRARY = 'shared/ is the library: it never imports functions/, local/ or test/, nor the Functions packages.';
const libraryRules = {
  patterns: [climbingInto(['functions', 'local', 'test'], LIBRARY)],
  packages: ['@azure/functions', 'durable-functions'].map((name) => ({ name, message: LIBRARY })),
};
const MEET_THROUGH_VAULT = 'backup/ and restore/ meet only through the vault and the shared mailbox model.';
const layerBoundaries = [
  restrictImports(['shared/**/*.ts'], libraryRules.patterns, libraryRules.packages),
  // A later block replaces the rule's options for its files, so it repeats the library's.
  restrictImports(
    ['shared/backup/**/*.ts'],
    [...libraryRules.patterns, climbingInto(['restore'], MEET_THROUGH_VAULT)],
    libraryRules.packages,
  ),
  restrictImports(
    ['shared/restore/**/*.ts'],
    [...libraryRules.patterns, climbingInto(['backup'], MEET_THROUGH_VAULT)],
    libraryRules.packages,
  ),
  restrictImports(['functions/**/*.ts'], [climbingInto(['local', 'test'], 'functions/ imports shared/ only.')]),
  restrictImports(['local/**/*.ts'], [climbingInto(['test'], 'local/ imports functions/ and shared/, never test/.')]),
  restrictImports(
    ['portal/**/*.ts', 'portal/**/*.tsx'],
    [
      climbingInto(
        ['functions', 'shared', 'local', 'test'],
        'portal/ runs in the browser: it reaches the app through the API only.',
      ),
    ],
  ),
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.azurite/**',
      '.local-data/**',
      '.infra-build/**',
      '.deploy/**',
      '.stryker-tmp/**',
      'reports/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
      eqeqeq: ['error', 'smart'],
    },
  },
  ...layerBoundaries,
  {
    // Command-line entry points talk to a person on the terminal.
    files: ['local/**/main.ts', 'local/start.ts', 'local/cli/**', 'test/bench/**', 'scripts/**', 'infra/hooks/**'],
    rules: { 'no-console': 'off' },
  },
);
