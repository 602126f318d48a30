/**
 * The extension entry: thin adapters over the same core as the CLI — commands, the Trials tree, the session webview,
 * the HAQA terminal, the deploy diff review, the status bar. `activate` returns a small API the extension-host tests
 * use to reach the same objects the UI uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { promptPreview } from '../core/agent/agent';
import { DEFAULT_MODEL } from '../core/agent/settings';
import { HaqaError, errorMessage, isHaqaError } from '../core/errors';
import { describeHardware, probeHardware } from '../core/hardware';
import { best, type ObjectiveSpec } from '../core/objective';
import { prepareSession, strategyContext, type Prepared, type SessionOptions } from '../core/prepare';
import { ProcessRunner } from '../core/process/runner';
import { SessionStore } from '../core/store';
import { buildToolchain, defaultBackend } from '../core/toolchains/llamacpp/build';
import { locateTools } from '../core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../core/toolchains/llamacpp/toolchain';
import { tryIt, type TryItResult } from '../core/toolchains/llamacpp/tryIt';
import { toolchainRoot } from '../core/paths';
import { countsTowardBudget, type TrialRecord } from '../core/types';
import { DeployReview } from './deployReview';
import { optimizeRequest, sessionRoot, type OptimizeArgs } from './optimizeFlow';
import { loadPty } from './pty';
import { getApiKey, setApiKey } from './secrets';
import { SessionPanels } from './sessionPanel';
import { SessionRun } from './sessionRun';
import { llmSettingsFrom, readSettings } from './settings';
import { TrialPty } from './trialTerminal';
import { TrialTreeProvider, type TreeNode } from './trialTree';
import { VIEW_TYPE } from '../../webview/protocol';
import { SCHEME, VirtualDocs } from './virtualDocs';

/** A trial, a session, or nothing (= the latest session's best trial), as commands receive them. */
type Target = TreeNode | { root: string; sessionId: string; trial?: number } | undefined;

export interface HaqaApi {
  runs: Map<string, SessionRun>;
  panels: SessionPanels;
  review: DeployReview;
  tree: TrialTreeProvider;
  runner: ProcessRunner;
  terminal(): TrialPty;
  ptySource: string;
}

export function activate(context: vscode.ExtensionContext): HaqaApi {
  const log = vscode.window.createOutputChannel('HAQA', { log: true });
  const { pty, from: ptySource } = loadPty();
  const runner = new ProcessRunner({ pty, mode: pty ? 'pty' : 'pipe' });
  const ptyNotice = pty
    ? undefined
    : "node-pty could not be loaded (neither VS Code's nor HAQA's): tool output runs over pipes, without colours";
  log.info(`live output: ${pty ? `pty via ${ptySource}` : 'pipes'}`);
  const runs = new Map<string, SessionRun>();
  const docs = new VirtualDocs();
  const review = new DeployReview(docs, log);
  const roots = () => {
    const r = (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.haqa'));
    for (const run of runs.values()) if (!r.includes(run.request.root)) r.push(run.request.root);
    return r;
  };
  const tree = new TrialTreeProvider(roots, (id) => runs.get(id));
  const status = vscode.window.createStatusBarItem('haqa.status', vscode.StatusBarAlignment.Left, 50);
  status.name = 'HAQA session';

  let term: { pty: TrialPty; terminal: vscode.Terminal } | undefined;
  const current = () => [...runs.values()].reverse().find((r) => r.live);
  const terminal = () => {
    if (!term || term.terminal.exitStatus !== undefined) {
      const p = new TrialPty(runner, () => current()?.cancelTrial() ?? false, ptyNotice);
      term = {
        pty: p,
        terminal: vscode.window.createTerminal({ name: 'HAQA', pty: p, iconPath: new vscode.ThemeIcon('beaker') }),
      };
    }
    return term.pty;
  };

  const updateStatus = () => {
    const r = current() ?? [...runs.values()].pop();
    if (!r?.store) {
      status.hide();
      return;
    }
    const counted = r.trials.filter(countsTowardBudget).length;
    const b = best(r.objective, r.trials);
    const icon = r.status === 'running' ? '$(loading~spin)' : r.status === 'paused' ? '$(debug-pause)' : '$(beaker)';
    status.text = `${icon} HAQA ${counted}/${r.request.budget}${b?.metrics.decode ? ` · best ${b.metrics.decode.mean.toFixed(1)} t/s` : ''}${r.pending ? ' · review' : ''}`;
    status.tooltip = `Session ${r.id}: ${r.status}${r.stopReason ? ` (${r.stopReason})` : ''}. Click to open it.`;
    status.command = {
      command: 'haqa.openSession',
      title: 'Open',
      arguments: [{ root: r.request.root, sessionId: r.id }],
    };
    status.show();
  };

  const panels = new SessionPanels(context.extensionUri, {
    runFor: (id) => runs.get(id),
    log,
    memento: context.workspaceState,
    acceptConfiguration: (root, sessionId, trial) =>
      vscode.commands.executeCommand('haqa.acceptConfiguration', { root, sessionId, trial }),
    tryIt: (root, sessionId, trial) => vscode.commands.executeCommand('haqa.tryIt', { root, sessionId, trial }),
  });

  const fail = (e: unknown) => {
    const msg = `HAQA: ${errorMessage(e)}${isHaqaError(e) ? ` — fix: ${e.fix}` : ''}`;
    log.error(msg);
    void vscode.window.showErrorMessage(msg);
  };
  const guard =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R | undefined> => {
      try {
        return await fn(...a);
      } catch (e) {
        fail(e);
        return undefined;
      }
    };

  const buildTools = async (): Promise<boolean> =>
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'HAQA: building llama.cpp', cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        terminal();
        term?.terminal.show(true);
        const backend = defaultBackend();
        try {
          const m = await buildToolchain({
            backend,
            runner,
            signal: ac.signal,
            onProgress: (s) => {
              progress.report({ message: s });
              log.info(s);
            },
            logFile: path.join(toolchainRoot(), 'build.log'),
          });
          void vscode.window.showInformationMessage(`HAQA: llama.cpp ${m.commit.slice(0, 7)} (${m.backend}) is ready.`);
          return true;
        } catch (e) {
          if (ac.signal.aborted) {
            void vscode.window.showWarningMessage('HAQA: the llama.cpp build was cancelled; nothing was installed.');
            return false;
          }
          throw e;
        }
      },
    );

  const ensureToolchain = async (): Promise<boolean> => {
    if (locateTools({ binDir: readSettings().binDir })) return true;
    const a = await vscode.window.showWarningMessage(
      "HAQA needs llama.cpp's tools (llama-quantize, llama-bench, llama-perplexity), which are not on this machine.",
      {
        modal: true,
        detail: `HAQA builds them once from the source in node-llama-cpp into ${toolchainRoot()} (about 6-12 minutes; ${defaultBackend()} backend). Or set haqa.llamacpp.binDir to a folder that has them.`,
      },
      'Build llama.cpp',
    );
    return a === 'Build llama.cpp' ? buildTools() : false;
  };

  const offerGitignore = async (root: string) => {
    const ws = path.dirname(root);
    const gi = path.join(ws, '.gitignore');
    if (!fs.existsSync(path.join(ws, '.git')) && !fs.existsSync(gi)) return;
    if (fs.existsSync(gi) && /^\/?\.haqa\/?\s*$/m.test(fs.readFileSync(gi, 'utf8'))) return;
    if (context.workspaceState.get('haqa.gitignoreDeclined')) return;
    const a = await vscode.window.showInformationMessage(
      'HAQA keeps its sessions in .haqa/. Add it to .gitignore?',
      'Add',
      'Not now',
    );
    if (a === 'Add')
      fs.appendFileSync(gi, `${fs.existsSync(gi) && !fs.readFileSync(gi, 'utf8').endsWith('\n') ? '\n' : ''}.haqa/\n`);
    else if (a === 'Not now') await context.workspaceState.update('haqa.gitignoreDeclined', true);
  };

  /** Everything that starts a process (trials, builds, servers) asks first: an untrusted workspace runs none. */
  const requireTrust = () => {
    if (!vscode.workspace.isTrusted)
      throw new HaqaError(
        'HAQA runs no trials in an untrusted workspace (it would start llama.cpp processes on its files)',
        'trust this workspace (Workspaces: Manage Workspace Trust) and run it again',
        'input',
      );
  };

  const startRun = async (
    req: NonNullable<Awaited<ReturnType<typeof optimizeRequest>>>,
    resume?: SessionStore,
  ): Promise<SessionRun> => {
    requireTrust();
    const settings = readSettings();
    const pty = terminal();
    term?.terminal.show(true);
    const run = new SessionRun(req, runner, settings, await getApiKey(context.secrets), log, (line) => pty.line(line));
    run.onDidChange(() => {
      tree.refresh();
      updateStatus();
    });
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'HAQA: preparing the session (model, tools)' },
      () =>
        run.start((r) => {
          runs.set(r.id!, r);
          tree.refresh();
          updateStatus();
          panels.show(req.root, r.id!);
          panels.attachRun(r.id!);
        }, resume),
    );
    void run.finished().then((s) => {
      updateStatus();
      tree.refresh();
      if (!s) return;
      const b = s.best;
      void vscode.window
        .showInformationMessage(
          `HAQA: session ${s.sessionId} ${s.status} (${s.stopReason}).${b ? ` Best: trial #${b.index}, ${b.metrics.decode?.mean.toFixed(1) ?? '?'} t/s decode.` : ' No feasible trial.'}`,
          ...(b ? ['Accept Configuration'] : []),
        )
        .then((a) => {
          if (a)
            void vscode.commands.executeCommand('haqa.acceptConfiguration', {
              root: req.root,
              sessionId: s.sessionId,
              trial: b?.index,
            });
        });
    });
    void offerGitignore(req.root);
    return run;
  };

  /** Resolves a command target to a session (and trial). */
  const resolveTarget = (t: Target): { root: string; sessionId: string; trial?: number } | undefined => {
    if (t && 'kind' in t)
      return t.kind === 'session'
        ? { root: t.root, sessionId: t.meta.id }
        : { root: t.root, sessionId: t.sessionId, trial: t.kind === 'trial' ? t.trial.index : t.index };
    if (t && 'sessionId' in t) return t;
    const r = [...runs.values()].pop();
    if (r?.id) return { root: r.request.root, sessionId: r.id };
    for (const root of roots()) {
      const m = SessionStore.list(root).pop();
      if (m) return { root, sessionId: m.id };
    }
    return undefined;
  };

  const preparedFor = async (root: string, sessionId: string): Promise<{ store: SessionStore; prepared: Prepared }> => {
    const run = runs.get(sessionId);
    if (run?.prepared && run.store) return { store: run.store, prepared: run.prepared };
    const store = SessionStore.open(root, sessionId);
    const prepared = await prepareSession(store.meta.options as unknown as SessionOptions, {
      binDir: readSettings().binDir,
      runner,
      onProgress: (m) => log.info(m),
    });
    return { store, prepared };
  };

  /** A session's trials: from this window's run while it runs, else from disk (which re-runs and deletions change). */
  const currentTrials = (store: SessionStore): TrialRecord[] => {
    const run = runs.get(store.id);
    return run?.live ? run.trials : store.readTrials().trials;
  };

  const trialOf = (store: SessionStore, index?: number): TrialRecord => {
    const trials = currentTrials(store);
    const t =
      index !== undefined ? trials.find((x) => x.index === index) : best(store.meta.options.objective as never, trials);
    if (!t)
      throw new HaqaError(
        index !== undefined
          ? `session ${store.id} has no trial #${index}`
          : `session ${store.id} has no feasible trial yet`,
        'pick a finished trial in the HAQA view',
        'input',
      );
    return t;
  };

  const need = (t: Target) => {
    const r = resolveTarget(t);
    if (!r) throw new HaqaError('no HAQA session in this workspace', 'run "HAQA: Optimize Model" first', 'input');
    return r;
  };

  context.subscriptions.push(
    log,
    status,
    vscode.window.createTreeView('haqa.trials', { treeDataProvider: tree, showCollapseAll: true }),
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, docs),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, panels),
    vscode.commands.registerCommand('haqa.refreshTrials', () => tree.refresh()),
    vscode.commands.registerCommand('haqa.showHardwareProfile', async () => {
      const doc = await vscode.workspace.openTextDocument({
        content: describeHardware(probeHardware()),
        language: 'plaintext',
      });
      await vscode.window.showTextDocument(doc);
      return doc.getText();
    }),
    vscode.commands.registerCommand(
      'haqa.optimizeModel',
      guard(async (arg?: vscode.Uri | OptimizeArgs) => {
        requireTrust();
        const args: OptimizeArgs = arg instanceof vscode.Uri ? { model: arg.fsPath } : (arg ?? {});
        const interactive = !(arg && !(arg instanceof vscode.Uri));
        const req = await optimizeRequest(args, readSettings(), ensureToolchain, interactive);
        if (!req) return undefined;
        const run = await startRun(req);
        if (args.wait) await run.finished();
        return { sessionId: run.id, root: req.root, status: run.status };
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.resumeSession',
      guard(async (t?: Target) => {
        const live = t === undefined ? current() : runs.get(resolveTarget(t)?.sessionId ?? '');
        if (live?.live) {
          live.resume();
          return { sessionId: live.id, status: live.status };
        }
        let target = t ? resolveTarget(t) : undefined;
        if (!target) {
          const items = roots().flatMap((root) =>
            SessionStore.list(root)
              .reverse()
              .map((m) => ({
                label: `Session ${m.id}`,
                description: `${m.status}${m.stopReason ? ` · ${m.stopReason}` : ''}`,
                root,
                id: m.id,
              })),
          );
          const pick = await vscode.window.showQuickPick(items, { title: 'HAQA: Resume Session' });
          if (!pick) return undefined;
          target = { root: pick.root, sessionId: pick.id };
        }
        const store = SessionStore.open(target.root, target.sessionId);
        const o = store.meta.options as {
          budget?: number;
          objective: never;
          strategy?: string;
          model?: string;
          replay?: string[];
        };
        const s = readSettings();
        const run = await startRun(
          {
            root: target.root,
            model: o.model,
            replay: o.replay,
            objective: o.objective,
            budget: Number(o.budget ?? s.budget),
            strategy: String(o.strategy ?? 'auto'),
            accuracy: false,
            evalChunks: s.evalChunks,
            workload: store.meta.options.workload as never,
            review: s.review,
          },
          store,
        );
        return { sessionId: run.id, status: run.status };
      }),
    ),
    vscode.commands.registerCommand('haqa.stopSession', (t?: Target) => {
      const id = t ? resolveTarget(t)?.sessionId : current()?.id;
      const run = id ? runs.get(id) : undefined;
      if (!run?.live) {
        void vscode.window.showInformationMessage('HAQA: no session is running.');
        return false;
      }
      run.stop();
      return true;
    }),
    vscode.commands.registerCommand('haqa.pauseSession', () => {
      const r = current();
      r?.pause();
      return !!r;
    }),
    vscode.commands.registerCommand(
      'haqa.openSession',
      guard(async (t?: Target) => {
        const r = need(t);
        return panels.show(r.root, r.sessionId) && r.sessionId;
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.acceptConfiguration',
      guard(async (t?: Target) => {
        const r = need(t);
        const { store, prepared } = await preparedFor(r.root, r.sessionId);
        const trial = trialOf(store, r.trial);
        const s = readSettings();
        const pending = await review.propose({
          prepared,
          sessionId: store.id,
          trial,
          workspaceDir: path.dirname(r.root),
          configPath: s.deployConfigPath,
          modelfile: s.ollamaModelfile,
        });
        for (const w of pending.warnings) void vscode.window.showWarningMessage(`HAQA: ${w}`);
        void vscode.window
          .showInformationMessage(
            `HAQA: review the proposed ${pending.files.map((f) => path.basename(f.file)).join(', ')} for trial #${trial.index}.`,
            'Apply',
            'Discard',
          )
          .then((a) => {
            if (a === 'Apply') void vscode.commands.executeCommand('haqa.applyDeployChange');
            else if (a === 'Discard') void vscode.commands.executeCommand('haqa.discardDeployChange');
          });
        return { trial: trial.index, files: pending.files.map((f) => f.file) };
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.applyDeployChange',
      guard(async () => {
        const r = review.pending;
        const res = await review.apply();
        if (res === 'applied' && r) {
          const cfg = r.files[0].file;
          void vscode.window
            .showInformationMessage(
              `HAQA: wrote ${r.files.map((f) => path.basename(f.file)).join(', ')}.`,
              'Open',
              'Try It',
            )
            .then((a) => {
              if (a === 'Open') void vscode.window.showTextDocument(vscode.Uri.file(cfg));
              else if (a === 'Try It')
                void vscode.commands.executeCommand('haqa.tryIt', {
                  root: runs.get(r.sessionId)?.request.root ?? sessionRoot(),
                  sessionId: r.sessionId,
                  trial: r.trial,
                });
            });
        }
        return res;
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.discardDeployChange',
      guard(() => review.discard()),
    ),
    vscode.commands.registerCommand(
      'haqa.tryIt',
      guard(async (t?: Target): Promise<(TryItResult & { benchmark?: number }) | undefined> => {
        requireTrust();
        const r = need(t);
        const { store, prepared } = await preparedFor(r.root, r.sessionId);
        const trial = trialOf(store, r.trial);
        if (!(prepared.toolchain instanceof LlamaCppToolchain) || !prepared.tools?.server)
          throw new HaqaError(
            'Try it needs llama-server and a real model (replayed sessions have none)',
            'run "HAQA: Build Toolchain"; accept a trial of a real model',
            'toolchain',
          );
        const a = await prepared.toolchain.artifactFor(trial.config);
        if (a.needsQuantize)
          throw new HaqaError(
            `the quantized file of trial #${trial.index} is not in the cache any more`,
            `re-run trial #${trial.index} (context menu) to rebuild it`,
            'input',
          );
        terminal();
        const res = await vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: `HAQA: trying trial #${trial.index} with llama-server`,
            cancellable: true,
          },
          (_p, token) => {
            const ac = new AbortController();
            token.onCancellationRequested(() => ac.abort());
            return tryIt({
              runner,
              serverBin: prepared.tools!.server!,
              modelFile: a.file,
              config: trial.config,
              workload: prepared.workload,
              signal: ac.signal,
            });
          },
        );
        const bench = trial.metrics.decode?.mean;
        void vscode.window.showInformationMessage(
          `HAQA: llama-server served trial #${trial.index} at ${res.decodeTokensPerSecond.toFixed(1)} t/s decode (${res.tokens} tokens; the benchmark measured ${bench?.toFixed(1) ?? '?'} t/s). Started in ${(res.startupMs / 1000).toFixed(1)} s; stopped.`,
        );
        log.info(
          `try it: trial #${trial.index} ${res.decodeTokensPerSecond.toFixed(1)} t/s (bench ${bench?.toFixed(1)}), text: ${JSON.stringify(res.text.slice(0, 200))}`,
        );
        return { ...res, benchmark: bench };
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.buildToolchain',
      guard(async () => {
        requireTrust();
        return buildTools();
      }),
    ),
    vscode.commands.registerCommand('haqa.setApiKey', (value?: string) =>
      setApiKey(context.secrets, typeof value === 'string' ? value : undefined),
    ),
    vscode.commands.registerCommand(
      'haqa.showAgentPrompt',
      guard(async (t?: Target) => {
        const r = need(t);
        const { store, prepared } = await preparedFor(r.root, r.sessionId);
        const s = readSettings();
        const key = await getApiKey(context.secrets);
        const llm = llmSettingsFrom(s);
        const preview = promptPreview({
          strategy: undefined,
          settings: llm,
          model: s.llm.model ?? DEFAULT_MODEL,
          hasKey: !!key,
          history: currentTrials(store),
          ctx: strategyContext(prepared, store.meta.options as { objective: ObjectiveSpec }),
        });
        const doc = await vscode.workspace.openTextDocument({
          content: JSON.stringify(preview, null, 2),
          language: 'json',
        });
        await vscode.window.showTextDocument(doc);
        return doc.getText();
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.openTrialLog',
      guard(async (t?: Target) => {
        const r = need(t);
        const dir = SessionStore.open(r.root, r.sessionId).logsDir;
        const prefix = `trial-${String(r.trial ?? 0).padStart(3, '0')}-`;
        const logs = fs.existsSync(dir)
          ? fs
              .readdirSync(dir)
              .filter((f) => f.startsWith(prefix))
              .sort()
          : [];
        if (!logs.length) {
          void vscode.window.showInformationMessage(
            `HAQA: trial #${r.trial} has no log (replayed or cached steps write none).`,
          );
          return [];
        }
        for (const f of logs)
          await vscode.window.showTextDocument(vscode.Uri.file(path.join(dir, f)), { preview: false });
        return logs;
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.compareWithBest',
      guard(async (t?: Target) => {
        const r = need(t);
        const store = SessionStore.open(r.root, r.sessionId);
        const trial = trialOf(store, r.trial);
        const b = trialOf(store);
        const view = (x: TrialRecord) =>
          JSON.stringify(
            { trial: x.index, status: x.status, config: x.config, metrics: x.metrics, rationale: x.rationale ?? null },
            null,
            2,
          );
        await vscode.commands.executeCommand(
          'vscode.diff',
          docs.put(`trial-${b.index}.json`, view(b), 'best'),
          docs.put(`trial-${trial.index}.json`, view(trial), 'trial'),
          `best #${b.index} ↔ trial #${trial.index}`,
        );
        return [b.index, trial.index];
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.rerunTrial',
      guard(async (t?: Target) => {
        requireTrust();
        const r = need(t);
        if (runs.get(r.sessionId)?.live)
          throw new HaqaError('the session is running', 'stop it first, or wait for it to finish', 'input');
        const { store, prepared } = await preparedFor(r.root, r.sessionId);
        const trial = trialOf(store, r.trial);
        const index = store.readTrials().lastIndex + 1;
        terminal().line(`re-run of trial #${trial.index} as #${index}`);
        const startedAt = new Date();
        const out = await prepared.toolchain.runTrial(trial.config, {
          runner,
          logDir: store.logsDir,
          trialIndex: index,
        });
        const rec: TrialRecord = {
          type: 'trial',
          index,
          key: trial.key,
          config: trial.config,
          status: out.status,
          metrics: out.metrics,
          cause: out.cause,
          rationale: `re-run of trial #${trial.index}`,
          strategy: 'user',
          startedAt: startedAt.toISOString(),
          endedAt: new Date().toISOString(),
          durationMs: Date.now() - startedAt.getTime(),
          steps: out.steps,
        };
        store.appendTrial(rec);
        tree.refresh();
        panels.panels.get(r.sessionId)?.postState();
        return rec.index;
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.deleteSession',
      guard(async (t?: Target) => {
        const r = need(t);
        if (runs.get(r.sessionId)?.live) throw new HaqaError('the session is running', 'stop it first', 'input');
        const dir = SessionStore.open(r.root, r.sessionId).dir;
        // A caller (script, test) that already asked may pass { confirmed: true }; the UI always asks.
        const ok =
          t && (t as { confirmed?: boolean }).confirmed === true
            ? true
            : (await vscode.window.showWarningMessage(
                `Delete HAQA session ${r.sessionId} and its logs (${dir})? Cached quantized files stay.`,
                { modal: true },
                'Delete',
              )) === 'Delete';
        if (!ok) return false;
        fs.rmSync(dir, { recursive: true, force: true });
        runs.delete(r.sessionId);
        panels.panels.get(r.sessionId)?.panel.dispose();
        tree.refresh();
        return true;
      }),
    ),
    vscode.commands.registerCommand(
      'haqa.deleteTrial',
      guard(async (t?: Target) => {
        const r = need(t);
        if (r.trial === undefined)
          throw new HaqaError('no trial chosen', 'right-click a trial in the HAQA view', 'input');
        if (runs.get(r.sessionId)?.live)
          throw new HaqaError('the session is running', 'stop it first, or wait for it to finish', 'input');
        // A caller (script, test) that already asked may pass { confirmed: true }; the UI always asks.
        const ok =
          (t as { confirmed?: boolean }).confirmed === true ||
          (await vscode.window.showWarningMessage(
            `Delete trial #${r.trial} of session ${r.sessionId}? Its measurement is forgotten (strategies may propose it again); the line stays in trials.jsonl, marked deleted.`,
            { modal: true },
            'Delete',
          )) === 'Delete';
        if (!ok) return false;
        SessionStore.open(r.root, r.sessionId).deleteTrial(r.trial);
        tree.refresh();
        panels.panels.get(r.sessionId)?.postState();
        return true;
      }),
    ),
    vscode.commands.registerCommand('haqa.showTerminal', () => {
      terminal();
      term?.terminal.show();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => tree.refresh()),
    {
      dispose: () => {
        for (const r of runs.values()) r.stop();
        term?.pty.dispose();
      },
    },
  );
  const watcher = vscode.workspace.createFileSystemWatcher('**/.haqa/sessions/*/session.json');
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate(() => tree.refresh()),
    watcher.onDidChange(() => tree.refresh()),
    watcher.onDidDelete(() => tree.refresh()),
  );
  return { runs, panels, review, tree, runner, terminal, ptySource };
}

export function deactivate(): void {}
