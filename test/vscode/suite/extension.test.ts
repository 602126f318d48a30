/**
 * The extension in a real VS Code extension host (code-server): the command flow to a finished session on the trained
 * fixture model with the real llama.cpp tools, review with a validated override and a skip, the tree's items and states,
 * Ctrl+C in the HAQA terminal, Accept → diff → Apply / Discard / stale base, Try it, the API key and the agent prompt.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HaqaApi } from '../../../src/extension/extension';
import { SessionStore } from '../../../src/core/store';
import type { SessionRun } from '../../../src/extension/sessionRun';
import type { TreeNode } from '../../../src/extension/trialTree';
import { countsTowardBudget } from '../../../src/core/types';

const ID = 'haqa.haqa';
const FAST = { promptTokens: 64, genTokens: 16, repetitions: 2 };
let api: HaqaApi;
let ws: string;
let model: string;

/**
 * Resolves with `f()` once it holds, checked now and again on every firing of `events`: the suite waits on the
 * extension's events, never on a clock, so a slow shared machine only makes it slower. The timer is a bound that turns
 * a wait that would never end into an error naming what was awaited (mocha's own timeout would not say).
 */
function when<T>(
  what: string,
  events: vscode.Event<unknown>[],
  f: () => T | undefined | false,
  boundMs = 240_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const subs: vscode.Disposable[] = [];
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      for (const s of subs.splice(0)) s.dispose();
      fn();
    };
    const check = () => {
      try {
        const v = f();
        if (v) settle(() => resolve(v));
      } catch (e) {
        settle(() => reject(e));
      }
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`timed out waiting for ${what}`))), boundMs);
    for (const e of events) subs.push(e(check));
    check();
  });
}
/** The panel of a session once it is open, and once its webview said ready. */
async function readyPanel(sessionId: string) {
  const panel = await when('the panel', [api.panels.onDidOpen], () => api.panels.panels.get(sessionId));
  await when('the webview to say ready', [panel.onDidReceive], () => panel.handled.some((m) => m.type === 'ready'));
  return panel;
}
const runOf = (id: string): SessionRun => api.runs.get(id)!;
const treeChildren = (n?: TreeNode) => api.tree.getChildren(n) as TreeNode[];

describe('HAQA in the extension host', function () {
  this.timeout(300_000);

  before(async () => {
    const ext = vscode.extensions.getExtension<HaqaApi>(ID);
    assert.ok(ext, `extension ${ID} not found`);
    api = await ext.activate();
    ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    fs.mkdirSync(path.join(ws, 'models'), { recursive: true });
    model = path.join(ws, 'models', 'tiny-pystdlib-f16.gguf');
    fs.copyFileSync(path.join(ext.extensionPath, 'test/fixtures/trained/haqa-tiny-pystdlib-f16.gguf'), model);
  });

  it('is active, with node-pty', async () => {
    assert.notEqual(api.ptySource, 'none', 'no node-pty could be loaded in the extension host');
  });

  it('registers exactly the commands package.json contributes', async () => {
    const ext = vscode.extensions.getExtension<HaqaApi>(ID)!;
    const pkg = JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.json'), 'utf8')) as {
      contributes: { commands: { command: string }[]; views: Record<string, { id: string }[]> };
    };
    const contributed = pkg.contributes.commands.map((c) => c.command).sort();
    // VS Code itself adds `<view id>.focus`, `.resetViewLocation`, … for each contributed view: those are not ours.
    const views = Object.values(pkg.contributes.views)
      .flat()
      .map((v) => `${v.id}.`);
    const registered = (await vscode.commands.getCommands(true))
      .filter((c) => c.startsWith('haqa.') && !views.some((v) => c.startsWith(v)))
      .sort();
    assert.deepEqual(registered, contributed);
  });

  it('"Show Hardware Profile" opens the profile of this machine', async () => {
    const text = await vscode.commands.executeCommand<string>('haqa.showHardwareProfile');
    assert.match(text, /^CPU\s+\S/m);
    assert.match(text, /cores\s+\d+ physical/);
    // A read-only document of HAQA's, not an untitled one that asks to be saved on close.
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.scheme, 'haqa');
    assert.equal(doc?.isUntitled, false);
  });

  let sessionId: string;
  it('"Optimize Model" runs a session to the end on a real model, with accuracy, and the tree shows it', async () => {
    const r = await vscode.commands.executeCommand<{ sessionId: string; status: string }>('haqa.optimizeModel', {
      model,
      budget: 3,
      strategy: 'builtin',
      review: 'auto',
      evalChunks: 2,
      workload: FAST,
      maxDppl: 50,
      wait: true,
    });
    assert.ok(r?.sessionId, 'no session was created');
    sessionId = r.sessionId;
    const run = runOf(sessionId);
    assert.equal(run.status, 'completed', run.stopReason);
    assert.equal(run.trials.length, 3);
    for (const t of run.trials) assert.ok(['done', 'infeasible'].includes(t.status), `${t.status}: ${t.cause}`);
    assert.ok(
      run.trials.some((t) => t.metrics.accuracy?.kld !== undefined),
      'accuracy was not measured',
    );
    assert.ok(fs.existsSync(path.join(ws, '.haqa', 'sessions', sessionId, 'trials.jsonl')));
    // The tree: the session, its trials with icons and the best marked.
    const sessions = treeChildren();
    const node = sessions.find((n) => n.kind === 'session' && n.meta.id === sessionId)!;
    assert.ok(node, 'session missing from the tree');
    const items = treeChildren(node).map((n) => api.tree.getTreeItem(n));
    assert.equal(items.length, 3);
    assert.ok(
      items.some((i) => String(i.description).startsWith('★ best')),
      'no best mark',
    );
    // The status bar names the verdict (★ #N QUANT and its speed), and its tooltip the verdict's reason.
    assert.match(api.status.text, /HAQA 3\/3 · ★ #\d \S+ \d+\.\d t\/s/);
    assert.match(
      String(api.status.tooltip),
      /\nVerdict: .*(beyond noise|within noise of each other|not shown within \d+ % of it)/,
    );
    assert.ok(items.every((i) => i.iconPath instanceof vscode.ThemeIcon));
    assert.ok(items.some((i) => i.contextValue === 'haqaTrialMeasured'));
    // Completed: its menu has no Resume (package.json: haqa.resumeSession needs viewItem == haqaSession).
    assert.equal(api.tree.getTreeItem(node).contextValue, 'haqaSessionCompleted');
    // The panel for it is open and was sent the full state.
    const panel = await readyPanel(sessionId);
    const state = panel.sent.find((m) => m.type === 'state');
    assert.ok(state && state.type === 'state' && state.state.trials.length >= 1);
  });

  it("review: an invalid override comes back with reasons, a valid one runs as the user's, a skip is recorded; the tree shows queued and running", async () => {
    const started = await vscode.commands.executeCommand<{ sessionId: string }>('haqa.optimizeModel', {
      model,
      budget: 2,
      strategy: 'heuristic',
      review: 'each',
      accuracy: false,
      workload: FAST,
    });
    const run = runOf(started!.sessionId);
    const panel = await when('the panel', [api.panels.onDidOpen], () => api.panels.panels.get(run.id!));
    const first = await when('a pending proposal', [run.onDidChange], () => run.pending);
    const session = treeChildren().find((n) => n.kind === 'session' && n.meta.id === run.id)!;
    const queued = treeChildren(session)
      .map((n) => api.tree.getTreeItem(n))
      .find((i) => i.contextValue === 'haqaTrialQueued');
    assert.ok(queued, 'the pending proposal is not shown as queued');
    assert.match(String(queued.description), /awaiting review/);
    // ubatch above batch breaks a rule of the space.
    const bad = { ...first.config, batch: 256, ubatch: 512 };
    panel.receive({ type: 'override', id: first.id, config: bad });
    const res = panel.sent.filter((m) => m.type === 'override-result').pop();
    assert.ok(res && res.type === 'override-result' && !res.ok, 'the invalid override was not refused');
    assert.match(res.reasons.join(' '), /ubatch/);
    assert.ok(run.pending, 'the proposal must still wait after a refused override');
    // An out-of-domain value (a shell string) is refused too.
    panel.receive({ type: 'override', id: first.id, config: { ...first.config, quant: 'Q4_0; rm -rf ~' } });
    const res2 = panel.sent.filter((m) => m.type === 'override-result').pop();
    assert.ok(res2 && res2.type === 'override-result' && !res2.ok && /outside its domain/.test(res2.reasons.join(' ')));
    const good = { ...first.config, threads: first.config.threads === 1 ? 2 : 1 };
    panel.receive({ type: 'override', id: first.id, config: good });
    assert.ok((panel.sent.filter((m) => m.type === 'override-result').pop() as { ok: boolean }).ok);
    await when('the running trial in the tree', [api.tree.onDidChangeTreeData], () =>
      treeChildren(session)
        .map((n) => api.tree.getTreeItem(n))
        .find((i) => i.contextValue === 'haqaTrialRunning'),
    );
    const second = await when('the next proposal', [run.onDidChange], () => run.pending?.id === 2 && run.pending);
    assert.equal(run.trials[0].strategy, 'user');
    assert.deepEqual(run.trials[0].config.threads, good.threads);
    panel.receive({ type: 'proposal', action: 'skip', id: second.id });
    const third = await when(
      'a proposal after the skip',
      [run.onDidChange],
      () => run.pending?.id === 3 && run.pending,
    );
    assert.equal(run.trials[1].status, 'skipped');
    panel.receive({ type: 'control', action: 'pause' });
    assert.equal(run.status, 'paused');
    assert.ok(panel.sent.some((m) => m.type === 'status' && m.status === 'paused'));
    panel.receive({ type: 'control', action: 'resume' });
    assert.equal(run.status, 'running');
    panel.receive({ type: 'proposal', action: 'accept', id: third.id });
    const summary = await run.finished();
    assert.equal(summary?.status, 'completed');
    assert.deepEqual(
      run.trials.map((t) => t.status),
      ['done', 'skipped', 'done'],
    );
  });

  it('Ctrl+C in the HAQA terminal cancels the running trial; the session pauses, then resumes and can be stopped', async function () {
    // Three tool runs (the cancelled one, and up to an importance matrix and a quantization for the next) on a shared
    // machine: bounded by events below, and by this test's own time.
    this.timeout(600_000);
    // The terminal is followed from before the session starts, so no command line can be missed.
    const pty = api.terminal();
    let written = '';
    const sub = pty.onDidWrite((d) => {
      written += d;
    });
    const started = await vscode.commands.executeCommand<{ sessionId: string }>('haqa.optimizeModel', {
      model,
      budget: 3,
      strategy: 'random',
      seed: 7,
      review: 'auto',
      accuracy: false,
      workload: { promptTokens: 512, genTokens: 256, repetitions: 5 },
    });
    const run = runOf(started!.sessionId);
    const toolLine = /\$ \S*llama-(quantize|bench|imatrix)/;
    try {
      await when('a running trial', [run.onDidChange], () => run.running);
      // Ctrl+C once the trial's tool is really running (its command line is in the terminal), not after a guess. The
      // terminal also shows what the session ran before the trial (llama-bench --list-devices): only what follows the
      // trial's start counts.
      const trialStart = written.length;
      await when("the trial's first tool command line", [pty.onDidWrite], () =>
        toolLine.test(written.slice(trialStart)),
      );
      pty.handleInput('\x03');
      const cancelled = await when('the cancelled trial', [run.onDidChange], () =>
        run.trials.find((t) => t.status === 'skipped'),
      );
      assert.match(cancelled.cause ?? '', /cancelled by the user while running/);
      await when('pause', [run.onDidChange], () => run.status === 'paused');
      assert.match(written, /\^C/);
      const mark = written.length;
      run.resume();
      await when(
        'the next trial to run',
        [run.onDidChange],
        () => run.running && run.trials.length === 1 && run.running.index === 2,
      );
      await when(
        "the next tool's command line in the terminal",
        // The next trial may build an importance matrix first (llama-imatrix), which takes a while on a busy machine.
        [pty.onDidWrite],
        () => toolLine.test(written.slice(mark)),
      ).catch((e: Error) => {
        throw new Error(`${e.message}; the terminal got: ${JSON.stringify(written.slice(-600))}`);
      });
      await vscode.commands.executeCommand('haqa.stopSession');
      const s = await run.finished();
      assert.equal(s?.status, 'stopped');
      assert.equal(s?.stopReason, 'stopped by the user');
    } finally {
      sub.dispose();
      // A failure above must not leave a session running into the next tests.
      if (run.live) {
        run.stop();
        await run.finished();
      }
    }
  });

  const deployFile = () => path.join(ws, 'haqa.deploy.json');
  it('Accept → diff → Discard leaves the deploy file untouched', async () => {
    fs.writeFileSync(deployFile(), '{"mine": true}\n');
    const r = await vscode.commands.executeCommand<{
      files: string[];
      trial: number;
      standing: { kind: string; sentence: string };
    }>('haqa.acceptConfiguration', { root: path.join(ws, '.haqa'), sessionId });
    assert.ok(r?.files.includes(deployFile()));
    // Without a trial, Accept takes the verdict's, and says so with the reason.
    assert.equal(r.standing.kind, 'verdict');
    assert.match(r.standing.sentence, new RegExp(`^#${r.trial} \\S+ is the verdict: `));
    const diffs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter((t) => t.input instanceof vscode.TabInputTextDiff);
    assert.ok(
      diffs.some((t) => t.label.includes('haqa.deploy.json')),
      `no diff tab: ${diffs.map((t) => t.label).join(', ')}`,
    );
    assert.equal(await vscode.commands.executeCommand('haqa.discardDeployChange'), 'discarded');
    assert.equal(fs.readFileSync(deployFile(), 'utf8'), '{"mine": true}\n');
    assert.ok(!fs.existsSync(path.join(ws, 'haqa-serve.sh')));
  });

  it('Accept → diff → Apply writes the deploy config and launch script; a stale base is re-diffed, not overwritten', async () => {
    await vscode.commands.executeCommand('haqa.acceptConfiguration', { root: path.join(ws, '.haqa'), sessionId });
    fs.writeFileSync(deployFile(), '{"changed": "meanwhile"}\n');
    assert.equal(await vscode.commands.executeCommand('haqa.applyDeployChange'), 'stale');
    assert.equal(fs.readFileSync(deployFile(), 'utf8'), '{"changed": "meanwhile"}\n');
    assert.equal(await vscode.commands.executeCommand('haqa.applyDeployChange'), 'applied');
    const cfg = JSON.parse(fs.readFileSync(deployFile(), 'utf8'));
    assert.equal(cfg.schema, 'haqa.deploy.v1');
    assert.equal(cfg.session.id, sessionId);
    assert.equal(cfg.model.source, model);
    assert.ok(fs.existsSync(cfg.model.file), `the deployed model file ${cfg.model.file} does not exist`);
    assert.ok(cfg.measured.decodeTokensPerSecond.mean > 0);
    assert.ok(Array.isArray(cfg.server.argv) && cfg.server.argv.includes('-m'));
    const script = fs.readFileSync(path.join(ws, 'haqa-serve.sh'), 'utf8');
    assert.match(script, /^#!\/bin\/sh/);
    assert.match(script, /llama-server/);
    assert.ok((fs.statSync(path.join(ws, 'haqa-serve.sh')).mode & 0o111) !== 0, 'launch script not executable');
    // The fixture was trained for 512 tokens: the default 4096 is cut to it (llama-server would do so silently), and
    // the file and the script say why.
    assert.equal(cfg.runtime.context, 512);
    assert.match(
      cfg.runtime.contextNote,
      /^the default context \(4096 tokens\) is more than the model was trained for/,
    );
    assert.equal(cfg.server.argv[cfg.server.argv.indexOf('-c') + 1], '512');
    assert.match(script, /^# -c: the default context \(4096 tokens\)/m);
  });

  it("the written deploy file is validated by VS Code's JSON support against the contributed schema", async () => {
    // A byte-identical copy, named for the contribution's *.haqa.deploy.json: a fresh editor model, which no reload
    // of the file Apply just wrote can race.
    const copy = path.join(ws, 'check.haqa.deploy.json');
    fs.copyFileSync(deployFile(), copy);
    try {
      const doc = await vscode.workspace.openTextDocument(copy);
      await vscode.window.showTextDocument(doc);
      const diags = () => vscode.languages.getDiagnostics(doc.uri);
      const replace = async (from: string, to: string) => {
        const at = doc.getText().indexOf(from);
        assert.ok(at >= 0, `${from} not in ${doc.getText().slice(0, 200)}`);
        const e = new vscode.WorkspaceEdit();
        e.replace(doc.uri, new vscode.Range(doc.positionAt(at), doc.positionAt(at + from.length)), to);
        assert.ok(await vscode.workspace.applyEdit(e));
      };
      // Broken in the editor: the schema, loaded from the extension, names the wrong value.
      await replace('"schema": "haqa.deploy.v1"', '"schema": 1');
      const broken = await when('a schema diagnostic', [vscode.languages.onDidChangeDiagnostics], () =>
        diags().length ? diags() : undefined,
      );
      assert.ok(
        broken.some((d) => /Incorrect type|Value must be/.test(d.message)),
        broken.map((d) => d.message).join('; '),
      );
      // Put back to what Apply wrote: nothing left, "Unable to load schema" included.
      await replace('"schema": 1', '"schema": "haqa.deploy.v1"');
      await when('the diagnostics to clear', [vscode.languages.onDidChangeDiagnostics], () => diags().length === 0);
      assert.equal(doc.getText(), fs.readFileSync(deployFile(), 'utf8'));
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    } finally {
      fs.rmSync(copy, { force: true });
    }
  });

  it('"Export Model" copies the deployed model out of the cache into models/ and proposes the deploy files pointing there', async () => {
    const read = () => JSON.parse(fs.readFileSync(deployFile(), 'utf8'));
    const cached: string = read().model.file;
    assert.ok(!cached.startsWith(ws), `the deployed model ${cached} is not the cache's`);
    // The deploy file explains the hash-named llama-server folder: which build it is.
    assert.match(read().server.llamaCpp.note, /llama\.cpp [0-9a-f]{7,12}, cpu backend/);
    const r = await vscode.commands.executeCommand<{ file: string; files: string[] }>('haqa.exportModel', {
      folder: path.join(ws, 'models'),
    });
    assert.ok(r && Array.isArray(r.files), `no export: ${JSON.stringify(r)}`);
    assert.equal(path.dirname(r.file), path.join(ws, 'models'));
    // Named for the source and the type (and a short hash of a fuller recipe: an imatrix), not the cache's hash.
    assert.match(path.basename(r.file), /^tiny-pystdlib-f16-[A-Z0-9_]+(-[0-9a-f]{8})?\.gguf$/);
    assert.ok(fs.readFileSync(r.file).equals(fs.readFileSync(cached)), 'the copy differs from the cached file');
    assert.deepEqual(
      fs.readdirSync(path.join(ws, 'models')).filter((f) => f.includes('.part-')),
      [],
      'a partial file was left',
    );
    // Nothing is rewritten before Apply: the change goes through the same review.
    assert.equal(read().model.file, cached);
    assert.ok(r.files.includes(deployFile()));
    assert.equal(await vscode.commands.executeCommand('haqa.applyDeployChange'), 'applied');
    const cfg = read();
    assert.equal(cfg.model.file, r.file);
    assert.equal(cfg.server.argv[cfg.server.argv.indexOf('-m') + 1], r.file);
    assert.ok(fs.readFileSync(path.join(ws, 'haqa-serve.sh'), 'utf8').includes(r.file));
    // A second export has nothing to copy: the deployment already serves the exported file.
    const again = await vscode.commands.executeCommand<{ nothingToDo?: string }>('haqa.exportModel', {
      folder: path.join(ws, 'models'),
    });
    assert.match(again?.nothingToDo ?? '', /already serves .*outside HAQA's cache/);
  });

  it('Apply marks the deployed trial in session.json, the Trials tree and the panel; another Apply moves the mark', async () => {
    const root = path.join(ws, '.haqa');
    const deployedTrial = () => SessionStore.open(root, sessionId).meta.deployed?.trial;
    const trialItems = () => {
      const session = treeChildren().find((n) => n.kind === 'session' && n.meta.id === sessionId)!;
      return treeChildren(session).filter((n) => n.kind === 'trial');
    };
    const marked = () =>
      trialItems()
        .filter((n) => String(api.tree.getTreeItem(n).description).startsWith('deployed · '))
        .map((n) => (n.kind === 'trial' ? n.trial.index : 0));
    const first: number = JSON.parse(fs.readFileSync(deployFile(), 'utf8')).session.trial;
    assert.equal(deployedTrial(), first);
    assert.equal(SessionStore.open(root, sessionId).meta.deployed?.file, deployFile());
    assert.deepEqual(marked(), [first]);
    const icon = api.tree.getTreeItem(trialItems().find((n) => n.kind === 'trial' && n.trial.index === first)!)
      .iconPath as vscode.ThemeIcon;
    assert.equal(icon.id, 'rocket');
    // The panel's state carries it (the table marks the row).
    const panel =
      api.panels.panels.get(sessionId) ??
      (await (async () => {
        await vscode.commands.executeCommand('haqa.openSession', { root, sessionId });
        return readyPanel(sessionId);
      })());
    const stateOf = () =>
      [...panel.sent].reverse().find((m) => m.type === 'state') as { state: { deployed?: number } } | undefined;
    assert.equal(stateOf()?.state.deployed, first);
    // Accept and Apply another measured trial: the mark moves, in the file, the tree and the panel.
    const other = trialItems().find((n) => n.kind === 'trial' && n.trial.index !== first && n.trial.status === 'done');
    assert.ok(other && other.kind === 'trial', 'no second measured trial');
    await vscode.commands.executeCommand('haqa.acceptConfiguration', { root, sessionId, trial: other.trial.index });
    assert.equal(await vscode.commands.executeCommand('haqa.applyDeployChange'), 'applied');
    assert.equal(deployedTrial(), other.trial.index);
    await when('the tree to mark the new trial', [api.tree.onDidChangeTreeData], () =>
      marked().join() === String(other.trial.index) ? true : undefined,
    );
    assert.equal(stateOf()?.state.deployed, other.trial.index);
  });

  it('"Try it" serves the best trial with llama-server on a free port and measures tokens/s', async () => {
    const r = await vscode.commands.executeCommand<{ decodeTokensPerSecond: number; tokens: number; port: number }>(
      'haqa.tryIt',
      { root: path.join(ws, '.haqa'), sessionId },
    );
    assert.ok(r, 'Try it failed (see the HAQA output)');
    assert.ok(r.decodeTokensPerSecond > 0);
    assert.ok(r.tokens > 0);
  });

  it('"Set API Key" keeps the key in the secret storage; "Show Agent Prompt" shows the request without it', async () => {
    await vscode.commands.executeCommand('haqa.setApiKey', 'sk-test-secret-123');
    const text = await vscode.commands.executeCommand<string>('haqa.showAgentPrompt', {
      root: path.join(ws, '.haqa'),
      sessionId,
    });
    const p = JSON.parse(text);
    assert.equal(p.schema, 'haqa.prompt.v1');
    assert.match(p.headers.Authorization, /not shown/);
    assert.ok(!text.includes('sk-test-secret-123'));
    assert.ok(p.body.messages.length >= 2);
    for (const dir of [path.join(ws, '.haqa')]) {
      for (const f of walk(dir))
        assert.ok(!fs.readFileSync(f, 'utf8').includes('sk-test-secret-123'), `the key leaked into ${f}`);
    }
    await vscode.commands.executeCommand('haqa.setApiKey', '');
  });

  it('a session interrupted by a window reload is carried on from its restored panel: Resume runs it to its budget', async function () {
    this.timeout(300_000);
    // A copy of the completed session, as a reload leaves one: status running, no run in this window, one trial to go.
    const root = path.join(ws, '.haqa');
    const id = `${sessionId.slice(0, -4)}beef`;
    const dir = path.join(root, 'sessions', id);
    fs.cpSync(path.join(root, 'sessions', sessionId), dir, { recursive: true });
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'session.json'), 'utf8'));
    const budget = meta.spec.budget + 1;
    delete meta.stopReason;
    fs.writeFileSync(
      path.join(dir, 'session.json'),
      JSON.stringify({ ...meta, id, status: 'running', spec: { ...meta.spec, budget } }, null, 2),
    );
    await vscode.commands.executeCommand('haqa.openSession', { root, sessionId: id });
    const panel = await readyPanel(id);
    const state = panel.sent.find((m) => m.type === 'state');
    assert.ok(state && state.type === 'state');
    assert.equal(state.state.live, false);
    assert.match(state.state.stopReason ?? '', /^interrupted: Resume carries it on/);
    // The status bar follows the panel in front though the session has no run here: its line as stored, and a click
    // that resumes it.
    const counted = SessionStore.open(root, id).readTrials().trials.filter(countsTowardBudget).length;
    await when('the status bar on the interrupted session', [api.panels.onDidActivate], () =>
      String(api.status.tooltip).startsWith(`Session ${id}: interrupted, not running in this window.`),
    );
    assert.match(
      api.status.text,
      new RegExp(`^\\$\\(debug-pause\\) HAQA ${counted}/${budget} · ★ #\\d \\S+ [\\d.]+ t/s.* · interrupted$`),
    );
    assert.match(String(api.status.tooltip), /\nVerdict: .+\.\nClick to resume it\.$/);
    assert.equal(
      api.status.command && typeof api.status.command === 'object' && api.status.command.command,
      'haqa.resumeSession',
    );
    assert.deepEqual(typeof api.status.command === 'object' && api.status.command.arguments, [{ root, sessionId: id }]);
    // The panel's Resume (the webview shows it for such a session: controlsShown, unit-tested).
    panel.receive({ type: 'control', action: 'resume' });
    const run = await when('the resumed run', [api.tree.onDidChangeTreeData], () => api.runs.get(id));
    // It resumes in the window's review mode (each, by default): its proposal is accepted as a person would.
    const pending = await when('a proposal, or the end', [run.onDidChange], () =>
      run.pending ? run.pending : run.status === 'completed' ? 'done' : undefined,
    );
    assert.notEqual(pending, 'done', 'the resumed run asked for no review');
    if (pending !== 'done') assert.deepEqual(run.decide(pending.id, { action: 'accept-all' }), []);
    await run.finished();
    assert.equal(run.status, 'completed', run.stopReason);
    assert.equal(run.trials.length, budget);
    const after = SessionStore.open(root, id).meta;
    assert.equal(after.status, 'completed');
    // "Accept all remaining" is kept with the session: resumed again, it does not ask.
    assert.equal(after.acceptAll, true);
    const again = JSON.parse(fs.readFileSync(path.join(dir, 'session.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'session.json'),
      JSON.stringify({
        ...again,
        status: 'running',
        stopReason: undefined,
        spec: { ...again.spec, budget: budget + 1 },
      }),
    );
    await vscode.commands.executeCommand('haqa.resumeSession', { root, sessionId: id });
    const second = runOf(id);
    assert.equal(second.review, 'auto');
    second.stop();
    await second.finished();
  });

  it('the status bar follows the session whose panel is in front, not the last one that ran', async () => {
    const root = path.join(ws, '.haqa');
    const resumed = `${sessionId.slice(0, -4)}beef`;
    assert.ok(api.runs.get(resumed) && api.runs.get(sessionId), 'both sessions ran in this window');
    const front = async (id: string) => {
      await vscode.commands.executeCommand('haqa.openSession', { root, sessionId: id });
      await when(`the status bar on ${id}`, [api.panels.onDidActivate], () =>
        String(api.status.tooltip).startsWith(`Session ${id}:`),
      );
    };
    await front(sessionId);
    await front(resumed);
    await front(sessionId);
  });

  it('the status bar shows a completed session with no run here as stored (a click opens it), and leaves it when its panel closes', async () => {
    const root = path.join(ws, '.haqa');
    const id = `${sessionId.slice(0, -4)}cafe`;
    fs.cpSync(path.join(root, 'sessions', sessionId), path.join(root, 'sessions', id), { recursive: true });
    const file = path.join(root, 'sessions', id, 'session.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), id }, null, 2));
    assert.equal(SessionStore.open(root, id).meta.status, 'completed');
    await vscode.commands.executeCommand('haqa.openSession', { root, sessionId: id });
    const panel = await readyPanel(id);
    await when('the status bar on the stored session', [api.panels.onDidActivate], () =>
      String(api.status.tooltip).startsWith(`Session ${id}: completed`),
    );
    assert.match(api.status.text, /^\$\(beaker\) HAQA \d+\/\d+ · ★ #\d .* · completed$/);
    assert.match(String(api.status.tooltip), /Click to open it\.$/);
    const command = api.status.command as vscode.Command;
    assert.equal(command.command, 'haqa.openSession');
    assert.deepEqual(command.arguments, [{ root, sessionId: id }]);
    // Its panel closed, the status bar goes back to this window's runs.
    panel.panel.dispose();
    await when('the status bar back on a run', [api.panels.onDidActivate], () => {
      const shown = /^Session (\S+):/.exec(String(api.status.tooltip))?.[1];
      return shown !== undefined && shown !== id && api.runs.has(shown);
    });
    assert.equal(api.panels.active, undefined);
    fs.rmSync(path.join(root, 'sessions', id), { recursive: true, force: true });
  });

  it('"Re-run Trial" measures a trial again and pools it into the trial; "Delete Trial" forgets one; "Delete Session" removes a stopped session', async () => {
    const store = SessionStore.open(path.join(ws, '.haqa'), sessionId);
    const before = store.readTrials();
    const first = before.trials.find((t) => t.index === 1)!;
    assert.equal(first.status, 'done');
    // Its steps are shown while it runs (a progress notification and the HAQA terminal), not only its result.
    let written = '';
    const sub = api.terminal().onDidWrite((d) => {
      written += d;
    });
    const index = await vscode.commands.executeCommand<number>('haqa.rerunTrial', {
      root: path.join(ws, '.haqa'),
      sessionId,
      trial: 1,
    });
    sub.dispose();
    // The step line HAQA writes (bold, two spaces in), not the tool's own command line ("$ …/llama-bench -m …").
    const at = (text: string) => written.indexOf(text);
    const step = at('\u001b[1m  llama-bench\u001b[0m\r\n');
    assert.ok(
      at('re-run of trial #1') >= 0 && step > at('re-run of trial #1'),
      `the terminal got: ${written.slice(-400)}`,
    );
    assert.ok(at('pooled into #1') > step);
    assert.equal(index, 1, 'a measured trial is measured again into itself, not as a twin row');
    const after = store.readTrials();
    assert.equal(after.lastIndex, before.lastIndex, 'no new trial');
    const pooled = after.trials.find((t) => t.index === 1)!;
    assert.ok(
      pooled.metrics.decode!.n > first.metrics.decode!.n,
      `the re-run's samples are pooled: n ${first.metrics.decode!.n} → ${pooled.metrics.decode!.n}`,
    );
    const lines = fs
      .readFileSync(path.join(ws, '.haqa', 'sessions', sessionId, 'trials.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const again = lines.filter((l) => l.type === 'confirm' && l.rerun === true);
    assert.equal(again.length, 1);
    assert.equal(again[0].of, 1);
    assert.equal(again[0].status, 'done');
    const last = after.lastIndex;
    assert.equal(
      await vscode.commands.executeCommand('haqa.deleteTrial', {
        root: path.join(ws, '.haqa'),
        sessionId,
        trial: last,
        confirmed: true,
      }),
      true,
    );
    const session = treeChildren().find((n) => n.kind === 'session' && n.meta.id === sessionId)!;
    assert.ok(
      !treeChildren(session).some((n) => n.kind === 'trial' && n.trial.index === last),
      'the deleted trial is still in the tree',
    );
    assert.ok(
      fs
        .readFileSync(path.join(ws, '.haqa', 'sessions', sessionId, 'trials.jsonl'), 'utf8')
        .includes('"type":"deleted"'),
    );
    const stopped = [...api.runs.values()].find((r) => r.status === 'stopped')!;
    const dir = stopped.store!.dir;
    assert.equal(
      await vscode.commands.executeCommand('haqa.deleteSession', {
        root: path.join(ws, '.haqa'),
        sessionId: stopped.id,
        confirmed: true,
      }),
      true,
    );
    assert.ok(!fs.existsSync(dir));
    assert.ok(!treeChildren().some((n) => n.kind === 'session' && n.meta.id === stopped.id));
  });

  it('"Re-run Trial" records through the session\'s limits: an over-limit re-run is infeasible, never ★ best', async () => {
    // Every quantized file of the 11 MB fixture is over 1 MiB: the session's one trial is infeasible.
    const r = await vscode.commands.executeCommand<{ sessionId: string; root: string }>('haqa.optimizeModel', {
      model,
      budget: 1,
      strategy: 'builtin',
      review: 'auto',
      accuracy: false,
      maxSizeMb: 1,
      workload: FAST,
      wait: true,
    });
    const run = runOf(r!.sessionId);
    assert.equal(run.trials[0]?.status, 'infeasible', run.trials[0]?.cause);
    const index = await vscode.commands.executeCommand<number>('haqa.rerunTrial', {
      root: r!.root,
      sessionId: r!.sessionId,
      trial: 1,
    });
    assert.equal(index, 2);
    const stored = SessionStore.open(r!.root, r!.sessionId).readTrials().trials;
    const again = stored.find((t) => t.index === 2)!;
    assert.ok(again.metrics.decode, `the re-run measured nothing: ${again.cause}`);
    assert.equal(again.status, 'infeasible', 'an over-limit re-run must not be stored as done');
    assert.match(again.cause ?? '', /file size .* > max 1\.0 MiB/);
    const session = treeChildren().find((n) => n.kind === 'session' && n.meta.id === r!.sessionId)!;
    const items = treeChildren(session).map((n) => api.tree.getTreeItem(n));
    assert.equal(items.length, 2);
    assert.ok(!items.some((i) => String(i.description).startsWith('★ best')), 'an over-limit trial became best');
  });

  it('"Compare with Best" and "Open Log" open editors for a trial', async () => {
    const r = await vscode.commands.executeCommand<number[]>('haqa.compareWithBest', {
      root: path.join(ws, '.haqa'),
      sessionId,
      trial: 1,
    });
    assert.equal(r?.length, 2);
    // A read-only table (Markdown), rounded as the panel rounds: no float noise like 1.1638999999999955.
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.scheme, 'haqa');
    assert.equal(doc?.languageId, 'markdown');
    assert.match(doc!.getText(), /^\| decode t\/s +\| \d+\.\d ± \d+\.\d \(n \d+\) /m);
    assert.doesNotMatch(doc!.getText(), /\d\.\d{5,}/);
    const logs = await vscode.commands.executeCommand<string[]>('haqa.openTrialLog', {
      root: path.join(ws, '.haqa'),
      sessionId,
      trial: 1,
    });
    assert.ok(logs && logs.length >= 1, 'no log for trial 1');
    // Its logs include the re-run pooled into it (the test above), not only its first run's.
    assert.ok(
      logs.some((f) => /rerun-\d+-001-/.test(path.basename(f))),
      `no re-run log among ${logs.map((f) => path.basename(f)).join(', ')}`,
    );
  });
});

function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
