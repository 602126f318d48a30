import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import ts from 'typescript';
import { COMMAND_TITLES, FIX_SETTINGS, HaqaError, describeError, renderFix, type Fix } from '../../src/core/errors';
import { prepareSession } from '../../src/core/prepare';
import { inspectModel } from '../../src/core/model';
import { checkBaseUrl, DEFAULT_LLM } from '../../src/core/agent/settings';
import { LlmClient, LlmError } from '../../src/core/agent/client';
import { resolveStrategy } from '../../src/core/strategies';
import { locateTools } from '../../src/core/toolchains/llamacpp/locate';
import { ProcessRunner } from '../../src/core/process/runner';
import { OpenAiTestServer } from '../helpers/openaiServer';
import { CLI, ROOT, tmpDir } from '../helpers/fixtures';

/** CLI-speak: a `--flag` or a `haqa …` subcommand. */
const CLI_SPEAK = /(^|[\s(`'"/])--[a-z]|`haqa\b/;

async function caught(f: () => unknown): Promise<HaqaError> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof HaqaError, `not a HaqaError: ${String(e)}`);
    return e;
  }
  assert.fail('it did not throw');
}

test('one fix renders a flag and a haqa command for the CLI, a setting and a palette title for VS Code', () => {
  const fix: Fix = {
    text: 'lower {option}, or run {command}',
    flag: '--llm-max-prompt-tokens N',
    setting: 'haqa.llm.maxPromptTokens',
    command: { cli: 'haqa toolchain build', vscode: 'haqa.buildToolchain' },
  };
  assert.equal(renderFix(fix, 'cli'), 'lower --llm-max-prompt-tokens N, or run `haqa toolchain build`');
  assert.equal(renderFix(fix, 'vscode'), 'lower the setting haqa.llm.maxPromptTokens, or run "HAQA: Build Toolchain"');
  assert.equal(
    renderFix(fix, 'any'),
    'CLI: lower --llm-max-prompt-tokens N, or run `haqa toolchain build` | VS Code: lower the setting haqa.llm.maxPromptTokens, or run "HAQA: Build Toolchain"',
  );
  const e = new HaqaError('the prompt is too long', fix, 'llm');
  assert.equal(e.fix, renderFix(fix, 'cli'), 'e.fix stays the CLI wording for old callers');
  assert.equal(e.fixFor('vscode'), renderFix(fix, 'vscode'));
  assert.equal(describeError(e, 'cli'), `the prompt is too long\n  fix: ${renderFix(fix, 'cli')}`);
  assert.equal(describeError(e, 'vscode'), `the prompt is too long — fix: ${renderFix(fix, 'vscode')}`);
  assert.equal(String(e), `the prompt is too long\n  fix: ${renderFix(fix, 'cli')}`);
});

test('per-host words win over text; without words each host says "pass"/"change"/"run"', () => {
  const words: Fix = { text: 'shared', cli: 'only the CLI', vscode: 'only VS Code' };
  assert.equal(renderFix(words, 'cli'), 'only the CLI');
  assert.equal(renderFix(words, 'vscode'), 'only VS Code');
  const bare: Fix = { flag: '--cache-dir DIR', setting: 'haqa.cacheDir' };
  assert.equal(renderFix(bare, 'cli'), 'pass --cache-dir DIR');
  assert.equal(renderFix(bare, 'vscode'), 'change the setting haqa.cacheDir');
  const cmd: Fix = { command: { cli: 'haqa toolchain build', vscode: 'haqa.buildToolchain' } };
  assert.equal(renderFix(cmd, 'cli'), 'run `haqa toolchain build`');
  assert.equal(renderFix(cmd, 'vscode'), 'run "HAQA: Build Toolchain"');
  // A VS Code rendering that cannot be spelled (no setting for {option}) falls back to the CLI's words.
  assert.equal(
    renderFix({ text: 'raise {option}', flag: '--llm-repair-rounds N' }, 'vscode'),
    'raise --llm-repair-rounds N',
  );
});

test('a plain-string fix reads the same in every host', () => {
  const e = new HaqaError('disk full', 'free some space under /var/cache');
  for (const host of ['cli', 'vscode', 'any'] as const)
    assert.equal(e.fixFor(host), 'free some space under /var/cache');
  assert.equal(e.fix, 'free some space under /var/cache');
  assert.equal(describeError(e, 'vscode'), 'disk full — fix: free some space under /var/cache');
  assert.equal(describeError(new Error('boom'), 'vscode'), 'boom');
  assert.equal(describeError('text', 'cli'), 'text');
});

test('prepareSession without a model: the CLI names --model, VS Code the Optimize Model command', async () => {
  const spec = { version: 1, objective: { kind: 'decode' }, workload: {} } as unknown as Parameters<
    typeof prepareSession
  >[0];
  const e = await caught(() => prepareSession(spec, { runner: new ProcessRunner({ mode: 'pipe' }) }));
  assert.equal(e.code, 'usage');
  assert.equal(e.fix, 'pass --model FILE.gguf (or --replay FILE... or --resume ID)');
  assert.equal(e.fixFor('vscode'), 'pick a .gguf model in "HAQA: Optimize Model"');
  assert.doesNotMatch(e.fixFor('vscode'), CLI_SPEAK);
});

test('real throw sites in the core speak VS Code to VS Code and keep their CLI words', async () => {
  const dir = tmpDir();
  const sites: [HaqaError, string, RegExp][] = [
    [
      await caught(() => inspectModel(path.join(dir, 'nope.gguf'))),
      'check the path given to --model',
      /Optimize Model/,
    ],
    [
      await caught(() => checkBaseUrl('https://user:secret@example.com/v1')),
      'put the key in HAQA_LLM_API_KEY (CLI) or "HAQA: Set API Key" (VS Code), not in the URL',
      /the setting haqa\.llm\.baseUrl .*"HAQA: Set API Key"/,
    ],
    [
      await caught(() => resolveStrategy('llm')),
      'pass --llm-base-url URL (or set HAQA_LLM_BASE_URL), e.g. http://127.0.0.1:11434/v1 for Ollama; or use --strategy auto / builtin',
      /the setting haqa\.llm\.baseUrl/,
    ],
    [
      await caught(() => locateTools({ binDir: dir })),
      'point it at the folder holding the llama.cpp binaries, or unset it so HAQA builds its own',
      /^point the setting haqa\.llamacpp\.binDir at /,
    ],
  ];
  for (const [e, cli, vscode] of sites) {
    assert.equal(e.fix, cli, e.message);
    assert.match(e.fixFor('vscode'), vscode, e.message);
    assert.doesNotMatch(e.fixFor('vscode'), CLI_SPEAK, e.message);
    assert.doesNotMatch(e.fixFor('vscode'), /HAQA_LLM_API_KEY/, e.message);
  }
});

const servers: OpenAiTestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

test('an LLM error keeps its per-host fix through the retries', async () => {
  const s = new OpenAiTestServer(() => ({ delayMs: 2000, content: '{}' }));
  servers.push(s);
  const client = new LlmClient(
    { ...DEFAULT_LLM, baseUrl: await s.start(), model: 'm', timeoutMs: 100, maxRetries: 1 },
    undefined,
  );
  const e = await caught(() => client.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, 'text'));
  assert.ok(e instanceof LlmError);
  assert.equal(e.kind, 'timeout');
  assert.equal(e.attempts, 2);
  assert.equal(e.fix, 'raise --llm-timeout, or use a faster model or endpoint');
  assert.equal(e.fixFor('vscode'), 'use a faster model (the setting haqa.llm.model) or endpoint');
});

test('the CLI prints a structured fix exactly as before', () => {
  const dir = tmpDir();
  const missing = path.join(dir, 'nope.gguf');
  const r = spawnSync(process.execPath, [CLI, 'optimize', '--model', missing, '--session-dir', dir], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, `haqa: model file not found: ${missing}\n  fix: check the path given to --model\n`);
});

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    configuration: { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[];
  };
};
const settings = new Set([pkg.contributes.configuration].flat().flatMap((c) => Object.keys(c.properties)));

test('the command titles and settings a fix names are the ones package.json contributes', () => {
  for (const [id, title] of Object.entries(COMMAND_TITLES)) {
    const c = pkg.contributes.commands.find((x) => x.command === id);
    assert.ok(c, `${id} is not a contributed command`);
    assert.equal(title, c.category ? `${c.category}: ${c.title}` : c.title, `palette title of ${id}`);
  }
  for (const s of FIX_SETTINGS) assert.ok(settings.has(s), `${s} is not a contributed setting`);
});

function coreFiles(dir = path.join(ROOT, 'src/core')): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) =>
      d.isDirectory() ? coreFiles(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
    );
}

test('no fix in src/core names a CLI flag or haqa command without saying how VS Code does it', () => {
  const problems: string[] = [];
  // Where a fix is passed: HaqaError(message, fix), LlmError(kind, message, fix), build.ts check(result, what, fix).
  const fixArg: Record<string, number> = { HaqaError: 1, LlmError: 2, check: 2 };
  for (const file of coreFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    const src = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const where = (n: ts.Node) =>
      `${path.relative(ROOT, file)}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    const inspect = (n: ts.Node): void => {
      if (ts.isParenthesizedExpression(n)) return inspect(n.expression);
      if (ts.isConditionalExpression(n)) return (inspect(n.whenTrue), inspect(n.whenFalse));
      if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n)) {
        if (CLI_SPEAK.test(n.getText())) problems.push(`${where(n)}: a plain-string fix in CLI words: ${n.getText()}`);
        return;
      }
      if (ts.isObjectLiteralExpression(n)) {
        const props = new Map(
          n.properties.filter(ts.isPropertyAssignment).map((p) => [p.name.getText(), p.initializer] as const),
        );
        if ((props.has('cli') || props.has('flag')) && !props.has('vscode') && !props.has('setting'))
          problems.push(`${where(n)}: a CLI way with no VS Code one`);
        const shared = props.get('text');
        if (shared && CLI_SPEAK.test(shared.getText()))
          problems.push(`${where(n)}: text (shown by every host) in CLI words: ${shared.getText()}`);
      }
    };
    const visit = (n: ts.Node): void => {
      if ((ts.isNewExpression(n) || ts.isCallExpression(n)) && ts.isIdentifier(n.expression)) {
        const i = fixArg[n.expression.text];
        const arg = i === undefined ? undefined : n.arguments?.[i];
        if (arg && (n.expression.text !== 'check' || file.endsWith('build.ts'))) inspect(arg);
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
    for (const m of text.matchAll(/the setting (haqa\.[\w.]+)/g))
      if (!settings.has(m[1])) problems.push(`${path.relative(ROOT, file)}: names the unknown setting ${m[1]}`);
  }
  assert.deepEqual(problems, []);
});
