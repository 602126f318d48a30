/**
 * The lint rules that keep the layers apart (eslint.config.mjs) really fire: snippets linted as if they were real files
 * of each layer, through the ESLint Node API with the repository's own config (type-aware, so the file paths are real
 * files of one of the tsconfigs; the snippet replaces their text, nothing on disk is read for it or changed).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { ESLint, type Linter } from 'eslint';

const ROOT = path.resolve(__dirname, '../..');
// The snippets stand in for files on disk. Under CI=true typescript-eslint infers a single run and types every file from
// its text on disk, so the snippet would not be what gets linted: keep it from inferring that.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { disallowAutomaticSingleRunInference: true } } },
});

async function lint(file: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  assert.ok(result, `no lint result for ${file}`);
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${file}: the snippet did not parse`);
  return result.messages;
}
const byRule = (messages: Linter.LintMessage[], rule: string) => messages.filter((m) => m.ruleId === rule);

/** Lints `code` as `file` and asserts that no-restricted-imports reports each of `specifiers`, with `why` in its message. */
async function assertRestricted(file: string, code: string, specifiers: string[], why: RegExp): Promise<void> {
  const hits = byRule(await lint(file, code), 'no-restricted-imports');
  for (const s of specifiers)
    assert.ok(
      hits.some((m) => m.message.includes(`'${s}'`) && why.test(m.message)),
      `${file}: importing '${s}' was not reported (${JSON.stringify(hits.map((m) => m.message))})`,
    );
  assert.equal(hits.length, specifiers.length, `${file}: ${JSON.stringify(hits.map((m) => m.message))}`);
}

test('src/core never imports vscode', async () => {
  await assertRestricted(
    'src/core/objective.ts',
    "import * as vscode from 'vscode';\nexport const x = vscode;\n",
    ['vscode'],
    /never imports vscode/,
  );
  // Also below the generic modules: a toolchain adapter is still core.
  await assertRestricted(
    'src/core/toolchains/llamacpp/bench.ts',
    "import { window } from 'vscode';\nexport const w = window;\n",
    ['vscode'],
    /never imports vscode/,
  );
});

test('the webview imports no Node built-ins (with or without node:) and not vscode', async () => {
  await assertRestricted(
    'webview/main.ts',
    "import * as fs from 'node:fs';\nimport * as fs2 from 'fs';\nimport * as vscode from 'vscode';\nexport const x = [fs, fs2, vscode];\n",
    ['node:fs', 'fs', 'vscode'],
    /browser|acquireVsCodeApi/,
  );
});

test('a generic core module never imports a toolchain adapter', async () => {
  await assertRestricted(
    'src/core/format.ts',
    "import * as space from './toolchains/llamacpp/space';\nexport const x = space;\n",
    ['./toolchains/llamacpp/space'],
    /toolchain adapter/,
  );
  await assertRestricted(
    'src/core/strategies/heuristic.ts',
    "import * as replay from '../toolchains/replay/replay';\nexport const x = replay;\n",
    ['../toolchains/replay/replay'],
    /toolchain adapter/,
  );
});

test('types.ts imports nothing, not even a type', async () => {
  await assertRestricted(
    'src/core/types.ts',
    "import type { SearchSpace } from './space';\nimport * as path from 'node:path';\nexport type X = SearchSpace | typeof path;\n",
    ['./space', 'node:path'],
    /imports nothing/,
  );
});

test('no floating promises', async () => {
  const messages = await lint(
    'src/cli.ts',
    'async function work(): Promise<number> {\n  return 1;\n}\nwork();\nvoid work();\nexport {};\n',
  );
  const hits = byRule(messages, '@typescript-eslint/no-floating-promises');
  assert.equal(hits.length, 1, JSON.stringify(messages));
  assert.equal(hits[0].line, 4);
});

test('control: a toolchain adapter may import the core types, and a generic module the knobs', async () => {
  for (const [file, code] of [
    [
      'src/core/toolchains/llamacpp/bench.ts',
      "import type { TrialMetrics } from '../../types';\nexport type M = TrialMetrics;\n",
    ],
    ['src/core/format.ts', "import { ALL_LAYERS } from './knobs';\nexport const all = ALL_LAYERS;\n"],
  ]) {
    const messages = await lint(file, code);
    assert.deepEqual(byRule(messages, 'no-restricted-imports'), [], `${file}: ${JSON.stringify(messages)}`);
  }
});
