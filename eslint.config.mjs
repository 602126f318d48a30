// Lint rules that keep the layers apart (see README "Architecture"): the engine never imports `vscode`, the webview
// never imports Node built-ins, generic core modules never import a toolchain adapter, and types.ts imports nothing.
import { builtinModules } from 'node:module';
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const noVscode = {
  name: 'vscode',
  message: 'src/core is the engine: it never imports vscode (put host code in src/extension).',
};
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)].map((name) => ({
  name,
  message: 'the webview runs in a browser: no Node built-ins (ask the host through webview/protocol.ts).',
}));
const noAdapters = {
  group: ['**/toolchains/llamacpp/**', '**/toolchains/replay/**'],
  message:
    'a generic core module never imports a toolchain adapter: go through the Toolchain interface or src/core/knobs.ts.',
};
const restrict = (paths, patterns = []) => ['error', { paths, patterns }];

/** Generic core modules: they know knobs and trials, not how one toolchain runs them. */
const generic = [
  'src/core/types.ts',
  'src/core/objective.ts',
  'src/core/priors.ts',
  'src/core/format.ts',
  'src/core/space.ts',
  'src/core/knobs.ts',
  'src/core/session.ts',
  'src/core/spec.ts',
  'src/core/verdict.ts',
  'src/core/standing.ts',
  'src/core/configDiff.ts',
  'src/core/compare.ts',
  'src/core/confirm.ts',
  'src/core/records.ts',
  'src/core/lock.ts',
  'src/core/secrets.ts',
  'src/core/leftovers.ts',
  'src/core/launch.ts',
  'src/core/store.ts',
  'src/core/strategies/**/*.ts',
  'src/core/agent/**/*.ts',
];

export default defineConfig(
  {
    ignores: [
      'dist/',
      '.device/',
      'out/',
      'node_modules/',
      '.haqa/',
      'test-results/',
      '.vscode-test/',
      'bench/data/',
      'bench/results/',
      'test/fixtures/',
    ],
  },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        // Node side, Playwright-driven code (Node + DOM), the webview (DOM only): each file type-checks in its own.
        project: ['./tsconfig.json', './tsconfig.playwright.json', './webview/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        process: 'readonly',
        console: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
  },
  {
    files: ['esbuild.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['src/core/**/*.ts'], rules: { 'no-restricted-imports': restrict([noVscode]) } },
  { files: generic, rules: { 'no-restricted-imports': restrict([noVscode], [noAdapters]) } },
  {
    files: ['src/core/types.ts'],
    rules: {
      'no-restricted-imports': restrict(
        [noVscode],
        [{ group: ['*'], message: 'types.ts imports nothing: it is the bottom layer.' }],
      ),
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(nodeBuiltins, [
        { group: ['vscode'], message: 'the webview talks to VS Code only through acquireVsCodeApi().' },
      ]),
    },
  },
);
