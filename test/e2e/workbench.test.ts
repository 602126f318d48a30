/**
 * `npm run test:e2e`: the packaged extension (.vsix built by vsce, installed with code-server's CLI) in a real
 * VS Code workbench, driven through Chromium like a person: activity bar, tree view, command palette, editor.
 * Screenshots and a Playwright trace land in test-results/ when a test fails.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { installVsix, startCodeServer, type RunningServer } from '../vscode/codeServer';
import { launchBrowser } from '../vscode/browser';
import { activeEditorText, openViewContainer, runCommand, treeItem, waitForWorkbench } from '../vscode/workbench';

const ROOT = path.resolve(__dirname, '../..');
const RESULTS = path.join(ROOT, 'test-results');
let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let workspace: string;
let sessionId: string;

before(async () => {
  const vsix = path.join(ROOT, 'out', 'haqa.vsix');
  fs.mkdirSync(path.dirname(vsix), { recursive: true });
  const pack = spawnSync(path.join(ROOT, 'node_modules/.bin/vsce'), ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '-o', vsix],
    { cwd: ROOT, encoding: 'utf8' });
  assert.equal(pack.status, 0, `vsce package failed:\n${pack.stdout}\n${pack.stderr}`);
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-e2e-ws-'));
  // A real session in the workspace, so the Trials tree has something to show.
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'optimize', '--replay', path.join(ROOT, 'bench/data/cpu-grid-epyc-2c.jsonl'),
    '--strategy', 'builtin', '--budget', '3', '--session-dir', path.join(workspace, '.haqa'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  sessionId = JSON.parse(r.stdout).sessionId;
  const extensionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-e2e-ext-'));
  installVsix(vsix, extensionsDir);
  server = await startCodeServer({ workspace, extensionsDir });
  browser = await launchBrowser();
  await browser.context.tracing.start({ screenshots: true, snapshots: true });
  page = await browser.context.newPage();
  await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
  await waitForWorkbench(page);
});

/** Runs a test body; on failure leaves a screenshot in test-results/ before rethrowing. */
function shot(name: string, fn: () => Promise<void>) {
  return async () => {
    try {
      await fn();
    } catch (e) {
      fs.mkdirSync(RESULTS, { recursive: true });
      await page?.screenshot({ path: path.join(RESULTS, `${name}.png`) }).catch(() => {});
      throw e;
    }
  };
}

after(async () => {
  if (browser) {
    fs.mkdirSync(RESULTS, { recursive: true });
    await browser.context.tracing.stop({ path: path.join(RESULTS, 'e2e-trace.zip') }).catch(() => {});
    await browser.close();
  }
  if (server) await server.stop();
});

test('the HAQA view lists the workspace session and its trials', shot('haqa-view', async () => {
  await openViewContainer(page, 'HAQA');
  const session = treeItem(page, `Session ${sessionId}`);
  await session.waitFor({ timeout: 30_000 });
  await session.click();
  const trial = treeItem(page, '#1 Q4_0');
  await trial.waitFor({ timeout: 30_000 });
  assert.match(await trial.innerText(), /t\/s/);
}));

test('"HAQA: Show Hardware Profile" from the command palette opens the profile', shot('palette-command', async () => {
  await runCommand(page, 'HAQA: Show Hardware Profile');
  await page.waitForFunction(() => document.querySelector('.editor-instance .view-lines')?.textContent?.includes('cores'), undefined, { timeout: 30_000 });
  const text = await activeEditorText(page);
  assert.match(text, /CPU/);
  assert.match(text, /physical/);
}));
