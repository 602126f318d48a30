/**
 * `npm run test:e2e`: the packaged extension (.vsix built by vsce, installed with code-server's CLI) in a real
 * VS Code workbench, driven through Chromium like a person: the Trials view, the command palette, "HAQA: Optimize
 * Model" answered with Enter, the session webview (the review card and its diff lines, Accept, a refused Override with
 * its reason, Accept all remaining, sorting, charts), Compare with Best, which commands the palette offers with and
 * without a running session, Accept → diff → Apply (the deploy file checked against the contributed schema, the
 * deployed mark), Export Model, and a window reload that restores the panel (the status bar on its interrupted
 * session, no dead HAQA terminal, Resume in a live one). Screenshots of the panel in light, dark and high contrast, of
 * the review card at 1400 and 900 px in each theme, land in test-results/ on every run (and of the workbench when a
 * test fails).
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Frame, Page } from 'playwright-core';
import { makeSpec } from '../../src/core/spec';
import { SessionStore } from '../../src/core/store';
import type { TrialRecord } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';
import { installVsix, startCodeServer, type RunningServer } from '../vscode/codeServer';
import { launchBrowser } from '../vscode/browser';
import {
  activeEditorText,
  contrastRatio,
  openFileByName,
  openViewContainer,
  paletteOffers,
  readTable,
  runCommand,
  terminalTitles,
  treeItem,
  waitForWorkbench,
  webviewFrame,
} from '../vscode/workbench';

const ROOT = path.resolve(__dirname, '../..');
const RESULTS = path.join(ROOT, 'test-results');
let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let workspace: string;
let sessionId: string;
let tiedId: string;
const cspErrors: string[] = [];
const LFS_POINTER = 'llama-3.2-1b-f16.gguf';
const POINTER_TEXT =
  'version https://git-lfs.github.com/spec/v1\n' +
  'oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n' +
  'size 2471645152\n';

/**
 * A finished session on disk whose leaders are tied: #1 Q2_K, #2 Q4_K_M and #3 Q4_0 decode within noise of each other
 * (overlapping per-repetition samples), #4 Q8_0 is slower beyond noise. Among the tied, #2 is the most accurate (lowest
 * KLD): the verdict. Written through the same store the CLI and the extension write with.
 */
function writeTiedSession(root: string): string {
  const store = SessionStore.create(root, {
    spec: makeSpec({ replay: [path.join(ROOT, 'bench/data/cpu-grid-epyc-2c.jsonl')], budget: 4 }),
    strategy: { requested: 'grid', used: 'grid' },
    model: {
      path: path.join(root, 'tied-fixture.gguf'),
      name: 'tied-fixture',
      arch: 'llama',
      parameterCount: 5.5e6,
      layers: 2,
      embeddingLength: 256,
      feedForwardLength: 512,
      headCount: 4,
      headCountKv: 4,
      vocabSize: 512,
      contextLength: 512,
      fileType: 'F16',
      sizeBytes: 11e6,
      rowSizes: [256, 512],
    },
  });
  const MiB = 2 ** 20;
  const rows: [string, number[], number, number, number, number][] = [
    // quant, decode samples, size MiB, ΔPPL %, its ±, KLD
    // Eight runs each (as after confirmation): enough for the rule to show each within 5 % of the leader.
    ['Q2_K', [880, 905, 894, 899, 887, 902, 891, 897], 20, 9.1, 0.8, 0.082],
    ['Q4_K_M', [885, 897, 890, 893, 888, 894, 891, 889], 30, 1.55, 0.58, 0.011],
    ['Q4_0', [880, 899, 893, 887, 895, 890, 884, 892], 28, 3.2, 0.6, 0.03],
    ['Q8_0', [400, 402, 399], 50, 0.1, 0.05, 0.001],
  ];
  rows.forEach(([quant, decode, size, dPplPct, dPplPctErr, kld], i) => {
    const t: TrialRecord = {
      type: 'trial',
      index: i + 1,
      key: `tied-${quant}`,
      config: { quant, threads: 2, flash_attn: false, batch: 2048, ubatch: 512 },
      status: 'done',
      metrics: {
        decode: statOfSamples(decode),
        prefill: statOfSamples(decode.map((x) => x * 10)),
        fileSizeBytes: size * MiB,
        accuracy: { ppl: 10 * (1 + dPplPct / 100), pplBase: 10, dPplPct, dPplPctErr, kld, kldErr: kld / 10 },
      },
      ...(quant === 'Q2_K'
        ? {
            findings: [
              {
                prior: 'fewer-bits-faster',
                metric: 'decode' as const,
                against: 3,
                knob: 'quant',
                from: 'Q4_0',
                to: 'Q2_K',
                change: 0.004,
                evidence: 'Q2_K decodes 894.4 ± 8.2 t/s against 890.0 ± 6.0 for Q4_0: fewer bits, no faster',
                explanation: 'written by the e2e test, to reach the evidence from the keyboard',
              },
            ],
          }
        : {}),
      strategy: 'grid',
      startedAt: new Date().toISOString(),
      endedAt: new Date().toISOString(),
      durationMs: 1000,
    };
    store.appendTrial(t);
  });
  store.updateMeta({ status: 'completed', stopReason: 'budget reached' });
  return store.id;
}

before(async () => {
  const vsix = path.join(ROOT, 'out', 'haqa.vsix');
  fs.mkdirSync(path.dirname(vsix), { recursive: true });
  const pack = spawnSync(
    path.join(ROOT, 'node_modules/.bin/vsce'),
    [
      'package',
      '--no-dependencies',
      '--allow-missing-repository',
      '--skip-license',
      '--no-rewrite-relative-links',
      '-o',
      vsix,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(pack.status, 0, `vsce package failed:\n${pack.stdout}\n${pack.stderr}`);
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-e2e-ws-'));
  // A real session in the workspace, so the Trials tree has something to show.
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'dist/cli.js'),
      'optimize',
      '--replay',
      path.join(ROOT, 'bench/data/cpu-grid-epyc-2c.jsonl'),
      '--strategy',
      'builtin',
      '--budget',
      '3',
      '--session-dir',
      path.join(workspace, '.haqa'),
      '--json',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  sessionId = JSON.parse(r.stdout).sessionId;
  tiedId = writeTiedSession(path.join(workspace, '.haqa'));
  fs.mkdirSync(path.join(workspace, 'models'));
  fs.writeFileSync(path.join(workspace, '.gitignore'), 'node_modules/\n');
  fs.copyFileSync(
    path.join(ROOT, 'test/fixtures/trained/haqa-tiny-pystdlib-f16.gguf'),
    path.join(workspace, 'models', 'tiny-pystdlib-f16.gguf'),
  );
  // What a clone without `git lfs pull` leaves where a model should be: a pointer named like one.
  fs.writeFileSync(path.join(workspace, 'models', LFS_POINTER), POINTER_TEXT);
  const extensionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-e2e-ext-'));
  installVsix(vsix, extensionsDir);
  server = await startCodeServer({
    workspace,
    extensionsDir,
    // The DOM renderer draws the terminal as text the tests can read (WebGL would draw it on a canvas).
    settings: {
      'haqa.evalChunks': 2,
      'workbench.colorTheme': 'Default Light Modern',
      'terminal.integrated.gpuAcceleration': 'off',
    },
  });
  browser = await launchBrowser();
  await browser.context.tracing.start({ screenshots: true, snapshots: true });
  page = await browser.context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
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

/**
 * Clicks an item of the open context menu and waits until `done` (given a timeout) sees its effect. On a loaded machine
 * a click can reach the menu before it takes clicks: the menu then stays open, the item highlighted, and nothing
 * happens (seen in CI, in the Explorer's and the trial tree's menus). So it clicks again, up to 3 times, only while the
 * menu is still there, never after the action has begun; it waits on events, never on a timer.
 */
async function contextMenuItem(label: string, done: (timeout: number) => Promise<unknown>): Promise<void> {
  const item = page.locator('.context-view .action-label', { hasText: label }).first();
  await item.waitFor({ timeout: 60_000 });
  for (let attempt = 1; ; attempt++) {
    await item.click();
    if (
      await done(20_000).then(
        () => true,
        () => false,
      )
    )
      return;
    // Not seen yet: the action may be on its way (the menu closed), or the click was lost (the menu still open).
    if (attempt === 3 || !(await item.isVisible())) {
      await done(60_000);
      return;
    }
  }
}

async function quickInputTitle(contains: string, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    (t) =>
      Array.from(document.querySelectorAll('.quick-input-widget .quick-input-title')).some((e) =>
        (e.textContent ?? '').includes(t),
      ),
    contains,
    { timeout },
  );
}

/** Picks a colour theme the way a person does and waits until the session webview has it. */
async function switchTheme(theme: string, bodyClass: string): Promise<void> {
  await runCommand(page, 'Preferences: Color Theme');
  await page.locator('.quick-input-widget input').fill(theme);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: theme }).first().waitFor({ timeout: 60_000 });
  await page.keyboard.press('Enter');
  await frame.waitForFunction((c) => document.body.classList.contains(c), bodyClass, { timeout: 60_000 });
  // The charts are drawn again in the new theme's colours: each canvas says which theme it was last drawn in.
  await frame.waitForFunction(
    (c) => {
      const canvases = Array.from(document.querySelectorAll<HTMLCanvasElement>('canvas[data-points]'));
      return canvases.length > 0 && canvases.every((x) => (x.dataset.theme ?? '').split(' ').includes(c));
    },
    bodyClass,
    { timeout: 60_000 },
  );
}

async function sessionFrame(): Promise<Frame> {
  const f = await webviewFrame(page, 'HAQA');
  await f.waitForSelector('#trials', { timeout: 60_000 });
  return f;
}

test(
  'the HAQA view lists the workspace session and its trials',
  shot('haqa-view', async () => {
    await openViewContainer(page, 'HAQA');
    const session = treeItem(page, `Session ${sessionId}`);
    await session.waitFor({ timeout: 60_000 });
    await page
      .locator('.sidebar .monaco-list-row', { hasText: `Session ${sessionId}` })
      .locator('.monaco-tl-twistie')
      .first()
      .click();
    const trial = treeItem(page, '#1 Q4_0');
    await trial.waitFor({ timeout: 60_000 });
    assert.match(await trial.innerText(), /t\/s/);
  }),
);

test(
  'a session whose leaders are tied: ★ best on the verdict, ≈ best on the tied, the reason, ΔPPL ± in the table, error bars in the charts',
  shot('tied-session', async () => {
    await treeItem(page, `Session ${tiedId}`).click();
    const f = await sessionFrame();
    await f.waitForSelector('#trial-table tbody tr[data-index="4"]', { timeout: 60_000 });
    const mark = (i: number) => f.locator(`#trial-table tbody tr[data-index="${i}"] td.c-mark`).innerText();
    assert.equal(await mark(2), '★ best');
    assert.equal(await mark(1), '≈ best');
    assert.equal(await mark(3), '≈ best');
    assert.doesNotMatch(await mark(4), /best/);
    assert.match(
      (await f.locator('#verdict').textContent()) ?? '',
      /^Verdict: #2 Q4_K_M, #3 Q4_0 and #1 Q2_K decode within noise of each other \(±\d+\.\d %\); #2 Q4_K_M chosen: most accurate of the tied$/,
    );
    // ΔPPL with its ±, as the CLI's table prints it.
    assert.equal(await f.locator('#trial-table tbody tr[data-index="2"] td.c-dppl').innerText(), '1.55 ± 0.58');
    assert.equal(await f.locator('#trial-table tbody tr[data-index="4"] td.c-dppl').innerText(), '0.10 ± 0.05');
    // Every point has an error bar (decode ± sd; on the ΔPPL chart also ΔPPL ± its error), and the note says which.
    for (const id of ['chart-size', 'chart-dppl'])
      await f.waitForFunction((c) => document.getElementById(c)?.dataset.errorBars === '4', id, { timeout: 60_000 });
    assert.match(
      (await f.locator('#chart-note').textContent()) ?? '',
      /^Error bars: ± sd of decode t\/s over the repetitions; horizontal: ± the standard error of ΔPPL %/,
    );
    // The marks are text a person must read: at least 4.5:1 against their row (WCAG AA), measured as rendered.
    assert.equal(await mark(4), 'Pareto', 'the most accurate trial is on the Pareto front');
    for (const sel of [
      'tr[data-index="2"] .mark.best',
      'tr[data-index="1"] .mark.tied',
      'tr[data-index="4"] .mark.pareto',
    ]) {
      const c = await contrastRatio(f, `#trial-table ${sel}`);
      assert.ok(c.ratio >= 4.5, `${sel}: ${c.fg} on ${c.bg} is ${c.ratio.toFixed(2)}:1 in Light Modern`);
    }
    // A finding's evidence without a mouse: its badge is a button; Enter shows the evidence below the verdict.
    const badge = f.locator('#trial-table button[data-evidence="1"]');
    assert.equal(await badge.getAttribute('aria-expanded'), 'false');
    assert.equal(await f.locator('#evidence').isVisible(), false);
    await badge.press('Enter');
    await f.waitForSelector('#evidence', { state: 'visible', timeout: 60_000 });
    assert.equal(await badge.getAttribute('aria-expanded'), 'true');
    assert.match(await f.locator('#evidence').innerText(), /#1 Q2_K[^]*Q2_K decodes 894\.4 ± 8\.2 t\/s[^]*likely why:/);
    await badge.press('Enter');
    await f.waitForSelector('#evidence', { state: 'hidden', timeout: 60_000 });
    // The headers sort from the keyboard: Enter on "decode t/s" sorts by it (aria-sort on that header alone), Space
    // turns the order, and the focus stays on the header.
    const decodeHeader = f.locator('#trial-table th[data-col="decode"]');
    await decodeHeader.locator('button.sort').press('Enter');
    await f.waitForFunction(
      () => document.querySelector('#trial-table th[data-col="decode"]')?.getAttribute('aria-sort') === 'descending',
      undefined,
      { timeout: 60_000 },
    );
    assert.equal(await f.locator('#trial-table th[aria-sort]').count(), 1);
    const order = async () => (await readTable(f, '#trial-table tbody')).filter((r) => r.length > 1).map((r) => r[0]);
    assert.deepEqual(await order(), ['1', '2', '3', '4']);
    await f.locator('#trial-table th[data-col="decode"] button.sort').press('Space');
    await f.waitForFunction(
      () => document.querySelector('#trial-table th[data-col="decode"]')?.getAttribute('aria-sort') === 'ascending',
      undefined,
      { timeout: 60_000 },
    );
    assert.deepEqual(await order(), ['4', '3', '2', '1']);
    assert.ok(
      await f.evaluate(() => document.activeElement?.closest('th')?.getAttribute('data-col') === 'decode'),
      'the focus left the header',
    );
    fs.mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'session-panel-tied-light.png') });
    // Closed again, so the session run next is the only panel.
    await runCommand(page, 'View: Close All Editors');
    await page.waitForSelector('iframe.webview', { state: 'detached', timeout: 60_000 });
  }),
);

test(
  '"Compare with Best" on a trial opens a read-only table: knobs side by side, the differing one marked, metrics rounded as the panel, the rule',
  shot('compare-with-best', async () => {
    await page
      .locator('.sidebar .monaco-list-row', { hasText: `Session ${tiedId}` })
      .locator('.monaco-tl-twistie')
      .first()
      .click();
    const t4 = treeItem(page, '#4 Q8_0');
    await t4.waitFor({ timeout: 60_000 });
    await t4.click({ button: 'right' });
    await contextMenuItem('Compare with Best', (timeout) =>
      page.locator('.tabs-container .tab', { hasText: 'trial-4-vs-best-2.md' }).waitFor({ timeout }),
    );
    await page.waitForFunction(
      () => document.querySelector('.editor-instance .view-lines')?.textContent?.includes('rule**'),
      undefined,
      { timeout: 60_000 },
    );
    // Monaco draws spaces as no-break spaces.
    const text = (await activeEditorText(page)).replace(/\u00a0/g, ' ');
    assert.match(text, /# #4 Q8_0 compared with ★ #2 Q4_K_M/);
    assert.match(text, /\| ≠ +\| quant +\| Q4_K_M +\| Q8_0 +\|/);
    assert.match(text, /\| +\| threads +\| 2 +\| 2 +\|/);
    assert.match(text, /\| decode t\/s +\| 890\.9 ± 3\.\d \(n 8\) +\| 400\.3 ± 1\.5 \(n 3\) +\|/);
    assert.match(text, /\| ΔPPL % +\| 1\.55 ± 0\.58 +\| 0\.10 ± 0\.05 +\|/);
    // (the editor wraps the long line)
    assert.match(
      text,
      /By the rule\*\* \(Welch's[^)]*\): #2 Q4_K_M decodes 122\.\d % faster than\s+#4 Q8_0, beyond noise/,
    );
    assert.doesNotMatch(text, /\d\.\d{5,}/, 'an unrounded number');
    await runCommand(page, 'View: Close Editor');
    await page
      .locator('.tabs-container .tab', { hasText: 'trial-4-vs-best-2.md' })
      .waitFor({ state: 'detached', timeout: 60_000 });
  }),
);

test(
  'with no session running, Pause, Resume and Stop are not offered (palette, view title); Try It is, for the sessions on disk',
  shot('palette-idle', async () => {
    // The HAQA view is still open from the tests above (a click on its icon would close it).
    await page
      .locator('.sidebar .action-label[aria-label="Optimize Model"]')
      .first()
      .waitFor({ state: 'attached', timeout: 60_000 });
    assert.equal(await page.locator('.sidebar .action-label[aria-label="Stop Session"]').count(), 0);
    assert.equal(await paletteOffers(page, 'HAQA: Pause Session'), false, 'Pause offered with no session');
    assert.equal(await paletteOffers(page, 'HAQA: Stop Session'), false, 'Stop offered with no session');
    // The sessions on disk completed: there is nothing to resume, but their best trials can be tried.
    assert.equal(await paletteOffers(page, 'HAQA: Resume Session'), false, 'Resume offered with nothing to resume');
    assert.equal(await paletteOffers(page, 'HAQA: Try It'), true, 'Try It not offered for a measured session');
  }),
);

test(
  '"HAQA: Show Hardware Profile" from the command palette opens the profile read-only: it closes without asking to save',
  shot('palette-command', async () => {
    await runCommand(page, 'HAQA: Show Hardware Profile');
    await page.waitForFunction(
      () => document.querySelector('.editor-instance .view-lines')?.textContent?.includes('cores'),
      undefined,
      { timeout: 60_000 },
    );
    const text = await activeEditorText(page);
    assert.match(text, /CPU/);
    assert.match(text, /physical/);
    const tab = page.locator('.tabs-container .tab', { hasText: 'hardware-profile.txt' });
    await tab.waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('.tabs-container .tab', { hasText: 'Untitled' }).count(), 0);
    await runCommand(page, 'View: Close Editor');
    // Either the tab goes, or a "Do you want to save" dialog holds it open.
    await page.waitForFunction(
      () =>
        !!document.querySelector('.monaco-dialog-box') ||
        !Array.from(document.querySelectorAll('.tabs-container .tab')).some((t) =>
          (t.textContent ?? '').includes('hardware-profile.txt'),
        ),
      undefined,
      { timeout: 60_000 },
    );
    assert.equal(await page.locator('.monaco-dialog-box').count(), 0, 'closing the profile asked to save it');
  }),
);

test(
  'right-clicking a .gguf in the Explorer offers "Optimize Model", which starts the flow with that model',
  shot('explorer-menu', async () => {
    await openViewContainer(page, 'Explorer');
    const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'models' }).first();
    await folder.waitFor({ timeout: 60_000 });
    await folder.click();
    const file = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'tiny-pystdlib-f16.gguf' }).first();
    await file.waitFor({ timeout: 60_000 });
    await file.click({ button: 'right' });
    await contextMenuItem('Optimize Model', (timeout) =>
      quickInputTitle('Optimize tiny-pystdlib-f16.gguf · objective (2/6)', timeout),
    );
    await page.keyboard.press('Escape');
  }),
);

/** The quick input's text box: its value, placeholder, and the message below it (an input box's prompt). */
async function quickInputBox(): Promise<{ value: string; placeholder: string; message: string }> {
  const input = page.locator('.quick-input-widget input');
  return {
    value: await input.inputValue(),
    placeholder: (await input.getAttribute('placeholder')) ?? '',
    message: (await page.locator('.quick-input-widget .quick-input-message').textContent()) ?? '',
  };
}

async function quickInputBack(): Promise<void> {
  await page.locator('.quick-input-widget .quick-input-left-action-bar .action-label').first().click();
}

test(
  '"Optimize Model" checks the model at step 1: a Git LFS pointer is marked, refused with `git lfs pull`; the steps have Back, and their words come from the model',
  shot('optimize-steps', async () => {
    await runCommand(page, 'HAQA: Optimize Model');
    await quickInputTitle('(1/6)');
    const row = (name: string) => page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
    await row(LFS_POINTER).waitFor({ timeout: 60_000 });
    // The pointer is listed with what it is, and not the one pre-selected.
    assert.match(await row(LFS_POINTER).innerText(), /LFS pointer — run git lfs pull/);
    assert.match(
      (await page.locator('.quick-input-list .monaco-list-row.focused').first().innerText()) ?? '',
      /tiny-pystdlib-f16\.gguf/,
    );
    // Picked anyway, it is refused at once with the reason and the fix naming the file; step 1 stays.
    await row(LFS_POINTER).click();
    const toast = page.locator('.notification-toast', { hasText: 'git lfs pull' }).first();
    await toast.waitFor({ timeout: 60_000 });
    const refusal = await toast.innerText();
    assert.match(
      refusal,
      new RegExp(`${LFS_POINTER.replace(/\./g, '\\.')} is not a usable GGUF model: it is a Git LFS pointer`),
    );
    assert.match(refusal, new RegExp(`git lfs pull --include ${LFS_POINTER.replace(/\./g, '\\.')}`));
    await quickInputTitle('(1/6)');
    await row('tiny-pystdlib-f16.gguf').click();
    await quickInputTitle('Optimize tiny-pystdlib-f16.gguf · objective (2/6)');
    await page.keyboard.press('Enter');
    // The size step: the source's size as its placeholder, what Q8_0 and Q4_0 files of it weigh as its prompt.
    await quickInputTitle('(3/6)');
    let box = await quickInputBox();
    assert.match(box.placeholder, /the F16 source is 10\.6 MiB/);
    assert.match(box.message, /about [\d.]+ MiB at Q8_0 and [\d.]+ MiB at Q4_0/);
    await page.locator('.quick-input-widget input').fill('50');
    await page.keyboard.press('Enter');
    // The ΔPPL step says what 1 % and 5 % mean.
    await quickInputTitle('(4/6)');
    box = await quickInputBox();
    assert.match(box.message, /1 %: close to the source/);
    assert.match(box.message, /5 %: a noticeable loss/);
    // Back: the size step again, with the value typed there.
    await quickInputBack();
    await quickInputTitle('(3/6)');
    assert.equal((await quickInputBox()).value, '50');
    await page.keyboard.press('Enter');
    await quickInputTitle('(4/6)');
    await page.keyboard.press('Enter');
    // The trials step estimates the session's duration and says how.
    await quickInputTitle('(5/6)');
    box = await quickInputBox();
    assert.match(box.message, /^\d+ trials: about [\d.]+(–| s to )[\d.]+ (s|min) \(\d+ benchmarks at 10 s/);
    assert.match(box.message, /new quantized files? at /);
    await page.locator('.quick-input-widget input').fill('3');
    await page.waitForFunction(
      () => /^3 trials: /.test(document.querySelector('.quick-input-widget .quick-input-message')?.textContent ?? ''),
      undefined,
      { timeout: 60_000 },
    );
    // Back to the start: each step on the way, the model last, with the file picked before.
    for (const step of ['(4/6)', '(3/6)', '(2/6)', '(1/6)']) {
      await quickInputBack();
      await quickInputTitle(step);
    }
    assert.match(
      (await page.locator('.quick-input-list .monaco-list-row.focused').first().innerText()) ?? '',
      /tiny-pystdlib-f16\.gguf/,
    );
    await page.keyboard.press('Escape');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 60_000 });
    await runCommand(page, 'Notifications: Clear All Notifications');
    await toast.waitFor({ state: 'detached', timeout: 60_000 });
  }),
);

let frame: Frame;
test(
  '"HAQA: Optimize Model" with Enter through the defaults opens the session panel with a proposal',
  shot('optimize-flow', async () => {
    await runCommand(page, 'HAQA: Optimize Model');
    await quickInputTitle('(1/6)');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'tiny-pystdlib-f16.gguf' })
      .first()
      .waitFor({ timeout: 60_000 });
    await page.keyboard.press('Enter');
    for (const step of ['(2/6)', '(3/6)', '(4/6)']) {
      await quickInputTitle(step);
      await page.keyboard.press('Enter');
    }
    await quickInputTitle('(5/6)');
    await page.locator('.quick-input-widget input').fill('2');
    await page.keyboard.press('Enter');
    await quickInputTitle('(6/6)');
    await page.keyboard.press('Enter');
    frame = await sessionFrame();
    // The first session keeps .haqa/ out of git by itself, without a prompt and without touching the workspace's
    // .gitignore.
    const own = path.join(workspace, '.haqa', '.gitignore');
    await whenFile(
      '.haqa/.gitignore',
      workspace,
      () => fs.existsSync(own) && fs.readFileSync(own, 'utf8').endsWith('\n*\n'),
    );
    assert.equal(fs.readFileSync(path.join(workspace, '.gitignore'), 'utf8'), 'node_modules/\n');
    await frame.waitForSelector('#proposal-accept', { timeout: 120_000 });
    const text = await frame.locator('#pending').innerText();
    assert.match(text, /Proposal #1/);
    assert.match(text, /Why:/);
    assert.match(text, /First trial of the session: \S+/);
    await frame.locator('#proposal-accept').click();
    await frame.waitForSelector('#trial-table tbody tr[data-index="1"]', { timeout: 180_000 });
  }),
);

test(
  'the next proposal: "awaiting review", what it changes against the best and the previous trial, every knob behind a toggle, the terminal left closed, Pause offered',
  shot('review-card', async () => {
    await frame.waitForFunction(
      () => /^Proposal #2/.test(document.querySelector('#pending h2')?.textContent ?? ''),
      undefined,
      { timeout: 180_000 },
    );
    // The session waits for the person: the header says so, and nothing spins.
    await frame.waitForFunction(() => document.getElementById('status')?.textContent === 'awaiting review', undefined, {
      timeout: 60_000,
    });
    assert.equal(await frame.locator('vscode-progress-ring').count(), 0, 'a spinner turns while nothing runs');
    const statusBar = page.locator('.statusbar-item', { hasText: /HAQA 1\/2/ }).first();
    await statusBar.waitFor({ timeout: 60_000 });
    assert.match(await statusBar.innerText(), /awaiting review$/);
    // One line per compared trial, only the knobs that differ ("ubatch 512 → 256"); #1 is the previous trial, and
    // the best unless it was over a limit.
    const lines = await frame.locator('#pending ul.changes li').allInnerTexts();
    assert.ok(lines.length >= 1 && lines.length <= 2, lines.join('\n'));
    for (const l of lines) assert.match(l, /^vs (★ best and previous|★ best|previous) #1 \S+: (\w+ \S+ → \S+(, |$))+/);
    assert.ok(await frame.locator('#pending .why').isVisible(), "the proposer's rationale is hidden");
    // Every knob is behind the toggle, closed by default.
    const toggle = frame.locator('#knobs-toggle');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await frame.locator('#knob-table').isVisible(), false);
    await toggle.click();
    await frame.waitForSelector('#knob-table', { state: 'visible', timeout: 60_000 });
    assert.equal(await frame.locator('#knobs-toggle').getAttribute('aria-expanded'), 'true');
    const knobRows = await frame.locator('#knob-table tr').count();
    assert.ok(knobRows >= 8, `only ${knobRows} knobs`);
    assert.match(await frame.locator('#knobs-toggle').innerText(), /Hide/);
    // The knobs the lines name are marked in the table.
    const changed = await frame.locator('#knob-table tr.changed th').allInnerTexts();
    for (const l of lines) for (const k of l.split(': ')[1].split(', ')) assert.ok(changed.includes(k.split(' ')[0]));
    fs.mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'review-card-knobs-light.png') });
    await frame.locator('#knobs-toggle').click();
    await frame.waitForSelector('#knob-table', { state: 'hidden', timeout: 60_000 });
    // The HAQA terminal did not open by itself (it would push the table and the charts down).
    assert.equal(await page.locator('.part.panel').isVisible(), false, 'the panel (terminal) opened by itself');
    await page.screenshot({ path: path.join(RESULTS, 'review-card-light.png') });
    // It is a click away: the panel's Terminal button shows it.
    await frame.locator('#show-terminal').click();
    await page.locator('.part.panel .xterm').first().waitFor({ state: 'visible', timeout: 60_000 });
    await runCommand(page, 'View: Hide Panel');
    await page.locator('.part.panel').waitFor({ state: 'hidden', timeout: 60_000 });
    // A session waits here: Pause is offered now.
    assert.equal(await paletteOffers(page, 'HAQA: Pause Session'), true, 'Pause not offered while a session runs');
  }),
);

const THEMES: [theme: string, bodyClass: string, file: string][] = [
  ['Light Modern', 'vscode-light', 'light'],
  ['Dark Modern', 'vscode-dark', 'dark'],
  ['Dark High Contrast', 'vscode-high-contrast', 'high-contrast'],
  ['Light High Contrast', 'vscode-high-contrast-light', 'high-contrast-light'],
];

/** Resizes the window, and resolves once the webview has its new width and the charts have drawn to their boxes. */
async function resize(width: number): Promise<void> {
  if (page.viewportSize()?.width === width) return;
  const before = await frame.evaluate(() => window.innerWidth);
  await page.setViewportSize({ width, height: 900 });
  await frame.waitForFunction(
    (w) =>
      window.innerWidth !== w &&
      Array.from(document.querySelectorAll('canvas[data-points]')).every((c) => {
        const [box, canvas] = [c.parentElement!.getBoundingClientRect(), c.getBoundingClientRect()];
        return Math.abs(box.width - canvas.width) < 1 && Math.abs(box.height - canvas.height) < 1;
      }),
    before,
    { timeout: 60_000 },
  );
}

/** The review card, the objective chart and trial #1's row, each whole within the webview's viewport. */
async function reviewOnOneScreen(what: string): Promise<void> {
  // (no named function inside: the test runner's transform would wrap it in a helper the page does not have)
  const seen = await frame.evaluate(() => {
    const [card, chart, row] = ['#pending', '#chart-size', '#trial-table tbody tr[data-index="1"]'].map((sel) => {
      const b = document.querySelector(sel)?.getBoundingClientRect();
      return b ? { top: b.top, bottom: b.bottom, left: b.left, right: b.right } : undefined;
    });
    return { height: window.innerHeight, width: window.innerWidth, card, chart, row };
  });
  for (const part of ['card', 'chart', 'row'] as const) {
    const b = seen[part];
    assert.ok(b, `${what}: no ${part}`);
    // The table scrolls sideways in its own box: its row only has to start on screen.
    const across = part === 'row' ? b.left >= 0 && b.left < seen.width : b.left >= 0 && b.right <= seen.width;
    assert.ok(
      b.top >= 0 && b.bottom <= seen.height && across,
      `${what}: the ${part} (${JSON.stringify(b)}) is not within the ${seen.width}×${seen.height} view`,
    );
  }
}

test(
  'the review card, a chart and the trial table on one screen at 1400 and 900 px, in light, dark and both high-contrast themes; chart marks at 3:1 or more and their text at 4.5:1, in High Contrast Light the charts and the tree at 4.5:1',
  shot('review-screens', async () => {
    // The Trials view beside the panel, as a person reviewing would have it.
    await openViewContainer(page, 'HAQA');
    await treeItem(page, '#1 ').waitFor({ timeout: 60_000 });
    await frame.waitForSelector('#proposal-accept', { timeout: 60_000 });
    try {
      for (const [theme, bodyClass, file] of THEMES) {
        if (theme !== 'Light Modern') await switchTheme(theme, bodyClass);
        for (const width of [1400, 900]) {
          await resize(width);
          await reviewOnOneScreen(`${theme} at ${width} px`);
          await page.screenshot({ path: path.join(RESULTS, `review-card-${file}-${width}.png`) });
          // The charts' text (axes, ticks, legend) in every theme; in High Contrast Light their points too.
          for (const id of ['chart-size', 'chart-dppl']) {
            if (!(await frame.locator(`#${id}`).isVisible())) continue;
            const colours = JSON.parse((await frame.locator(`#${id}`).getAttribute('data-colours')) ?? '{}') as Record<
              string,
              string
            >;
            assert.ok(
              ['text', 'other', 'pareto', 'best', 'tied', 'infeasible'].every((k) => colours[k]),
              `${id}: ${JSON.stringify(colours)}`,
            );
            // Text at 4.5:1; the series' marks at 3:1 (WCAG 1.4.11, graphics), at 4.5:1 in High Contrast Light.
            for (const k of Object.keys(colours)) {
              const min = k === 'text' || bodyClass === 'vscode-high-contrast-light' ? 4.5 : 3;
              const c = await contrastRatio(frame, `#${id}`, { colour: colours[k] });
              assert.ok(c.ratio >= min, `${id} ${k}: ${c.fg} on ${c.bg} is ${c.ratio.toFixed(2)}:1 in ${theme}`);
            }
          }
          const note = await contrastRatio(frame, '#chart-note');
          assert.ok(
            note.ratio >= 4.5,
            `the chart note: ${note.fg} on ${note.bg} is ${note.ratio.toFixed(2)}:1 in ${theme}`,
          );
        }
        if (bodyClass !== 'vscode-high-contrast-light') continue;
        // The Trials view's words, each measured as drawn: VS Code draws a description at 70 % opacity (#292929 on
        // white becomes #696969, 5.5:1), once the workbench has the theme.
        await page.waitForSelector('.monaco-workbench.hc-light', { timeout: 60_000 });
        const words = '.sidebar .monaco-list-row .label-name, .sidebar .monaco-list-row .label-description';
        const n = await page.locator(words).count();
        assert.ok(n >= 3, `only ${n} tree labels`);
        let descriptions = 0;
        for (let i = 0; i < n; i++) {
          const word = page.locator(words).nth(i);
          const text = (await word.innerText()).trim();
          if (!text) continue;
          if (await word.evaluate((e) => e.classList.contains('label-description'))) descriptions++;
          const c = await contrastRatio(page.mainFrame(), words, { nth: i });
          assert.ok(c.ratio >= 4.5, `tree "${text}": ${c.fg} on ${c.bg} is ${c.ratio.toFixed(2)}:1 in ${theme}`);
        }
        assert.ok(descriptions >= 2, `only ${descriptions} tree descriptions measured`);
      }
    } finally {
      await resize(1400);
      await switchTheme('Light Modern', 'vscode-light');
    }
  }),
);

test(
  'an invalid Override shows the reason and runs nothing; Accept all remaining finishes the session',
  shot('override', async () => {
    await frame.waitForSelector('#proposal-override', { timeout: 180_000 });
    await frame.locator('#proposal-override').click();
    await frame.waitForSelector('vscode-single-select[data-knob="ubatch"]');
    // The person picks the largest micro-batch and the smallest batch: a rule of llama.cpp's space forbids it.
    // (a loop, not a named helper: tsx would wrap a named function with a helper the page does not have)
    await frame.evaluate(() => {
      for (const [knob, which] of [
        ['batch', 'min'],
        ['ubatch', 'max'],
      ]) {
        const el = document.querySelector(`vscode-single-select[data-knob="${knob}"]`) as HTMLElement & {
          value: string;
        };
        const values = Array.from(el.querySelectorAll('vscode-option'))
          .map((o) => (o as HTMLElement).getAttribute('value')!)
          .sort((a, b) => Number(a) - Number(b));
        el.value = which === 'min' ? values[0] : values[values.length - 1];
      }
    });
    await frame.locator('#override-run').click();
    await frame.waitForFunction(
      () => (document.getElementById('override-reasons')?.textContent ?? '').length > 0,
      undefined,
      { timeout: 60_000 },
    );
    assert.match(await frame.locator('#override-reasons').innerText(), /ubatch/);
    // The form comes back with the person's values, and the knobs the reason names are marked for the eye and for a
    // screen reader (aria-invalid, described by the reasons).
    const kept = await frame.evaluate(() =>
      ['batch', 'ubatch'].map((knob) => {
        const el = document.querySelector(`vscode-single-select[data-knob="${knob}"]`) as HTMLElement & {
          value: string;
        };
        const values = Array.from(el.querySelectorAll('vscode-option'))
          .map((o) => Number((o as HTMLElement).getAttribute('value')))
          .sort((a, b) => a - b);
        return [Number(el.value), values[0], values[values.length - 1], el.getAttribute('aria-invalid')];
      }),
    );
    assert.equal(kept[0][0], kept[0][1], `batch reset: ${JSON.stringify(kept)}`);
    assert.equal(kept[1][0], kept[1][2], `ubatch reset: ${JSON.stringify(kept)}`);
    assert.deepEqual(
      kept.map((k) => k[3]),
      ['true', 'true'],
    );
    assert.equal(
      await frame.locator('#trial-table tbody tr[data-index]').count(),
      1,
      'the refused override must not run',
    );
    fs.mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: path.join(RESULTS, 'session-panel-override-light.png') });
    await frame.locator('#override-cancel').click();
    await frame.locator('#proposal-accept-all').click();
    await frame.waitForFunction(() => document.body.dataset.status === 'completed', undefined, { timeout: 240_000 });
    assert.equal(await frame.locator('#trial-table tbody tr[data-index]').count(), 2);
    // The status bar names the verdict: ★ #N QUANT and its speed (and "≈ #M" when another trial is tied with it).
    const status = page.locator('.statusbar-item', { hasText: /HAQA 2\/2 · ★ #\d/ }).first();
    await status.waitFor({ timeout: 60_000 });
    assert.match(await status.innerText(), /HAQA 2\/2 · ★ #\d \S+ \d+\.\d t\/s( \(≈ #\d\))?$/);
  }),
);

test(
  'the table sorts by a column, the chart plots the trials, and the panel is drawn in light, dark and high-contrast themes without CSP errors',
  shot('table-chart', async () => {
    await frame.locator('#trial-table th[data-col="decode"]').click();
    // The verdict, in a sentence, above the table.
    assert.match((await frame.locator('#verdict').textContent()) ?? '', /^Verdict: #\d/);
    const rows = (await readTable(frame, '#trial-table')).filter((r) => r.length > 0);
    const decode = rows.slice(1).map((r) => parseFloat(r[3]));
    assert.equal(decode.length, 2);
    assert.deepEqual(
      decode,
      [...decode].sort((a, b) => b - a),
      `not sorted by decode, descending: ${decode}`,
    );
    assert.equal(await frame.locator('#trial-table th[data-col="decode"]').getAttribute('aria-sort'), 'descending');
    assert.ok(Number(await frame.locator('#chart-size').getAttribute('data-points')) >= 1, 'the chart has no points');
    assert.match(rows[0].join(' '), /ΔPPL %/);
    // "★ best" is text: at least 4.5:1 against its row in every theme (WCAG AA), measured as rendered.
    const starContrast = async (theme: string) => {
      const c = await contrastRatio(frame, '#trial-table tr.row-best .mark.best');
      assert.ok(c.ratio >= 4.5, `★ best: ${c.fg} on ${c.bg} is ${c.ratio.toFixed(2)}:1 in ${theme}`);
    };
    await starContrast('Light Modern');
    await page.screenshot({ path: path.join(RESULTS, 'session-panel-light.png') });
    await switchTheme('Dark Modern', 'vscode-dark');
    await starContrast('Dark Modern');
    await page.screenshot({ path: path.join(RESULTS, 'session-panel-dark.png') });
    await switchTheme('Dark High Contrast', 'vscode-high-contrast');
    await starContrast('Dark High Contrast');
    await page.screenshot({ path: path.join(RESULTS, 'session-panel-high-contrast.png') });
    assert.deepEqual(cspErrors, []);
  }),
);

let deployedTrial = 0;
test(
  'Accept from the panel opens the deploy diff; Apply writes haqa.deploy.json and the panel marks the trial deployed',
  shot('accept-apply', async () => {
    await frame.locator('#trial-table button[data-accept]').first().click();
    await page.locator('.tab', { hasText: 'haqa.deploy.json' }).first().waitFor({ timeout: 60_000 });
    // The notification says where the accepted trial stands against the verdict.
    const toast = page.locator('.notification-toast', { hasText: 'review the proposed' }).first();
    await toast.waitFor({ timeout: 60_000 });
    assert.match(
      await toast.innerText(),
      /for trial #(\d)\. #\1 \S+ (is the verdict: |is tied with the verdict #\d|is not the verdict: )/,
    );
    // The fixture was trained for 512 tokens: the review says the served context is cut to it, and why.
    await page
      .locator('.notification-toast', { hasText: 'is more than the model was trained for (512 tokens' })
      .first()
      .waitFor({ timeout: 60_000 });
    assert.ok(!fs.existsSync(path.join(workspace, 'haqa.deploy.json')), 'written before Apply');
    await runCommand(page, 'HAQA: Apply Deploy Change');
    // Written in pieces: watched until the whole document is there (it parses), not only until the file exists.
    const deploy = path.join(workspace, 'haqa.deploy.json');
    let cfg: Record<string, Record<string, string>> = {};
    await whenFile('a complete haqa.deploy.json', workspace, () => {
      try {
        cfg = JSON.parse(fs.readFileSync(deploy, 'utf8'));
        return true;
      } catch {
        return false;
      }
    });
    assert.equal(cfg.schema, 'haqa.deploy.v1');
    assert.match(cfg.model.source, /tiny-pystdlib-f16\.gguf$/);
    // The deploy config carries the session's verdict.
    assert.match(cfg.verdict.reason, /(beyond noise|within noise of each other|not shown within \d+ % of it)/);
    assert.match(cfg.verdict.method, /^Welch's t-test at 95 %/);
    // The panel marks the deployed trial's row (and only it), legibly in the theme of the moment (high contrast).
    const f = await sessionFrame();
    await f.waitForSelector(`#trial-table tbody tr[data-index="${cfg.session.trial}"] .mark.deployed`, {
      timeout: 60_000,
    });
    assert.equal(await f.locator('#trial-table .mark.deployed').count(), 1);
    // Shown whole beside "★ best" and the like, not cut off by its column.
    const clip = await f.evaluate(() => {
      const badge = document.querySelector('#trial-table .mark.deployed')!.getBoundingClientRect();
      const cell = document.querySelector('#trial-table .mark.deployed')!.closest('td')!.getBoundingClientRect();
      return { badge: badge.right, cell: cell.right };
    });
    assert.ok(clip.badge <= clip.cell, `the deployed badge ends at ${clip.badge}px, its cell at ${clip.cell}px`);
    const c = await contrastRatio(f, '#trial-table .mark.deployed');
    assert.ok(c.ratio >= 4.5, `deployed: ${c.fg} on ${c.bg} is ${c.ratio.toFixed(2)}:1`);
    deployedTrial = Number(cfg.session.trial);
    assert.equal(cfg.runtime.context as unknown, 512);
    assert.match(cfg.runtime.contextNote, /llama-server would cut -c 4096 to 512/);
  }),
);

test(
  "the written haqa.deploy.json validates against the extension's contributed schema: no problem in it, a broken copy flagged",
  shot('deploy-schema', async () => {
    const written = fs.readFileSync(path.join(workspace, 'haqa.deploy.json'), 'utf8');
    // A copy with a wrong version, named so the contribution's fileMatch takes it too (*.haqa.deploy.json).
    const bad = written.replace('"schema": "haqa.deploy.v1"', '"schema": 1');
    assert.notEqual(bad, written);
    fs.writeFileSync(path.join(workspace, 'bad.haqa.deploy.json'), bad);
    try {
      await openFileByName(page, 'haqa.deploy.json');
      await openFileByName(page, 'bad.haqa.deploy.json');
      // The schema was loaded from the installed extension and applied: the copy's wrong value is squiggled (VS Code
      // reports a schema's problems as warnings).
      const squiggle = page.locator('.editor-instance .squiggly-warning, .editor-instance .squiggly-error').first();
      await squiggle.waitFor({ state: 'attached', timeout: 60_000 });
      // Its hover names what the schema wants.
      await squiggle.hover({ force: true });
      await page
        .locator('.monaco-hover', { hasText: /Value must be "haqa\.deploy\.v1"|Incorrect type/ })
        .first()
        .waitFor({ timeout: 60_000 });
      // The real file, validated first, has nothing: no "Unable to load schema" (a warning), no error.
      await openFileByName(page, 'haqa.deploy.json');
      await page.locator('.editor-instance .view-lines').first().waitFor({ timeout: 60_000 });
      assert.match((await activeEditorText(page)).replace(/\u00a0/g, ' '), /"schema": "haqa\.deploy\.v1"/);
      assert.equal(
        await page.locator('.editor-instance .squiggly-error, .editor-instance .squiggly-warning').count(),
        0,
        'haqa.deploy.json has a problem (see deploy-schema-editor.png)',
      );
    } catch (e) {
      fs.mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: path.join(RESULTS, 'deploy-schema-editor.png') }).catch(() => {});
      throw e;
    } finally {
      // Only these two tabs: the session panel stays open for the reload test.
      // (a failure here must not hide the one above)
      for (const name of ['bad.haqa.deploy.json', 'haqa.deploy.json'])
        await openFileByName(page, name)
          .then(() => runCommand(page, 'View: Close Editor'))
          .catch(() => {});
      await page
        .waitForFunction(
          () =>
            !Array.from(document.querySelectorAll('.tabs-container .tab')).some((t) =>
              /deploy\.json/.test(t.textContent ?? ''),
            ),
          undefined,
          { timeout: 60_000 },
        )
        .catch(() => {});
      fs.rmSync(path.join(workspace, 'bad.haqa.deploy.json'), { force: true });
    }
  }),
);

test(
  '"HAQA: Export Model…" copies the deployed model out of the cache into models/; after Apply the deploy files point there',
  shot('export-model', async () => {
    const deploy = path.join(workspace, 'haqa.deploy.json');
    const read = () => JSON.parse(fs.readFileSync(deploy, 'utf8')) as { model: { file: string } };
    const cached = read().model.file;
    assert.ok(!cached.startsWith(workspace), `${cached} is not the cache's`);
    await runCommand(page, 'HAQA: Export Model…');
    await quickInputTitle('where to copy the model file');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'models/' }).first().click();
    const toast = page.locator('.notification-toast', { hasText: 'copied the model to models/' }).first();
    await toast.waitFor({ timeout: 120_000 });
    const name = /copied the model to models\/(\S+?\.gguf)/.exec(await toast.innerText())?.[1];
    assert.ok(name, await toast.innerText());
    const exported = path.join(workspace, 'models', name);
    assert.ok(fs.readFileSync(exported).equals(fs.readFileSync(cached)), 'the copy differs from the cached file');
    // The deploy files change only through the review.
    assert.equal(read().model.file, cached, 'rewritten before Apply');
    await page.locator('.tab', { hasText: 'haqa.deploy.json' }).first().waitFor({ timeout: 60_000 });
    await runCommand(page, 'HAQA: Apply Deploy Change');
    // Apply writes the files one after the other: both are awaited.
    await whenFile('haqa.deploy.json and haqa-serve.sh pointing at the export', workspace, () => {
      try {
        return (
          read().model.file === exported &&
          fs.readFileSync(path.join(workspace, 'haqa-serve.sh'), 'utf8').includes(` -m ${exported} `)
        );
      } catch {
        return false;
      }
    });
  }),
);

test(
  'a window reload restores the session panel with its trials and its sort order; the status bar says the session was interrupted, no dead HAQA terminal comes back, and Resume runs it on in a live one',
  shot('reload', async () => {
    await sessionFrame();
    // The session as a reload in the middle of its run leaves it: session.json says running, one trial is left (it
    // keeps its "Accept all remaining": resumed, it runs on without asking).
    const root = path.join(workspace, '.haqa', 'sessions');
    const id = fs.readdirSync(root).find((d) => d !== sessionId && d !== tiedId)!;
    const file = path.join(root, id, 'session.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete meta.stopReason;
    const budget = meta.spec.budget + 1;
    fs.writeFileSync(file, JSON.stringify({ ...meta, status: 'running', spec: { ...meta.spec, budget } }, null, 2));
    const haqaTerminals = async () => (await terminalTitles(page)).filter((t) => /\bHAQA\b/.test(t));
    assert.equal((await haqaTerminals()).length, 1, 'the run left no HAQA terminal to bring back');
    // Developer: Reload Window shuts the workbench down properly (its state, the webview's included, is saved first);
    // a bare page reload races the browser's storage flush.
    await runCommand(page, 'Developer: Reload Window');
    await page.waitForEvent('load', { timeout: 60_000 });
    await waitForWorkbench(page);
    const f = await sessionFrame();
    await f.waitForSelector('#trial-table tbody tr[data-index="2"]', { timeout: 60_000 });
    assert.equal(await f.locator('#trial-table th[data-col="decode"]').getAttribute('aria-sort'), 'descending');
    assert.match(await f.locator('#title').innerText(), /tiny-pystdlib/);
    // The deployed mark is the session's (session.json), not the page's: it survives the reload.
    await f.waitForSelector(`#trial-table tbody tr[data-index="${deployedTrial}"] .mark.deployed`, {
      timeout: 60_000,
    });
    // The status bar shows the restored panel's session, which has no run in this window, as stored.
    const stored = page.locator('.statusbar-item', { hasText: /HAQA 2\/3 · ★ #\d/ }).first();
    await stored.waitFor({ timeout: 60_000 });
    assert.match(await stored.innerText(), /HAQA 2\/3 · ★ #\d \S+ \d+\.\d t\/s( \(≈ #\d\))? · interrupted$/);
    // No dead HAQA terminal came back with the window.
    assert.deepEqual(await haqaTerminals(), []);
    // Resume in the restored panel: a live HAQA terminal, which shows the resumed run's tool commands as they run.
    await f.locator('#resume').click();
    const show = f.locator('#show-terminal');
    await show.waitFor({ state: 'visible', timeout: 120_000 });
    await show.click();
    await page.locator('.part.panel .xterm').first().waitFor({ state: 'visible', timeout: 60_000 });
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.part.panel .xterm-rows')).some((rows) =>
          /\$\s+'?\S*llama-(quantize|bench|perplexity)\b/.test((rows.textContent ?? '').replace(/\u00a0/g, ' ')),
        ),
      undefined,
      { timeout: 240_000 },
    );
    assert.equal((await haqaTerminals()).length, 1);
    await f.waitForFunction(() => document.body.dataset.status === 'completed', undefined, { timeout: 240_000 });
    assert.equal(await f.locator('#trial-table tbody tr[data-index]').count(), budget);
    await page
      .locator('.statusbar-item', { hasText: new RegExp(`HAQA ${budget}/${budget} · ★ #\\d`) })
      .first()
      .waitFor({ timeout: 60_000 });
  }),
);

/**
 * Resolves once `f()` holds for a file in `dir`: checked now and on every change fs.watch reports there (never on a
 * clock); the bound only turns a wait that would never end into an error naming it.
 */
function whenFile(what: string, dir: string, f: () => boolean, boundMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(dir);
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      watcher.close();
      fn();
    };
    const check = () => {
      try {
        if (f()) settle(resolve);
      } catch (e) {
        settle(() => reject(e));
      }
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`timed out waiting for ${what}`))), boundMs);
    watcher.on('change', check);
    watcher.on('error', (e) => settle(() => reject(e)));
    check();
  });
}

test(
  'in an untrusted workspace (Restricted Mode) "Optimize Model" runs nothing and says why',
  shot('untrusted', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-e2e-untrusted-'));
    fs.copyFileSync(path.join(ROOT, 'test/fixtures/trained/haqa-tiny-pystdlib-f16.gguf'), path.join(ws, 'model.gguf'));
    const restricted = await startCodeServer({ workspace: ws, extensionsDir: server.extensionsDir, trust: true });
    const p = await browser.context.newPage();
    try {
      await p.goto(`${restricted.url}/?folder=${encodeURIComponent(ws)}`);
      await waitForWorkbench(p);
      const no = p.locator('.monaco-dialog-box .monaco-button', { hasText: /No, I don.t trust/ }).first();
      await no.waitFor({ timeout: 60_000 });
      await no.click();
      await runCommand(p, 'HAQA: Optimize Model');
      const toast = p.locator('.notification-toast', { hasText: 'untrusted workspace' }).first();
      await toast.waitFor({ timeout: 60_000 });
      assert.match(await toast.innerText(), /Manage Workspace Trust/);
      assert.ok(!fs.existsSync(path.join(ws, '.haqa')), 'a session folder was created in an untrusted workspace');
    } catch (e) {
      fs.mkdirSync(RESULTS, { recursive: true });
      await p.screenshot({ path: path.join(RESULTS, 'untrusted-page.png') }).catch(() => {});
      throw e;
    } finally {
      await p.close();
      await restricted.stop();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  }),
);
