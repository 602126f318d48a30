/**
 * What the command modules share: the objects `activate` builds once (the process runner, this window's session runs,
 * the Trials tree, the session panels, the deploy review, the status bar, the HAQA terminal) and the helpers every
 * command uses (resolve a target, open a session's prepared state, find a trial, refuse in an untrusted workspace,
 * start a run, report errors). One HaqaContext is built in `activate` and passed to each `registerXCommands(ctx)`;
 * nothing here is a module global and importing this module does nothing.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HaqaError, describeError } from '../core/errors';
import type { ObjectiveSpec } from '../core/objective';
import { bestTrial, feasible, judge } from '../core/verdict';
import { verdictBadge } from '../core/standing';
import { lockOwner } from '../core/lock';
import { toolchainRoot } from '../core/paths';
import { prepareSession, type Prepared } from '../core/prepare';
import { ProcessRunner } from '../core/process/runner';
import { SessionStore } from '../core/store';
import { buildToolchain, defaultBackend } from '../core/toolchains/llamacpp/build';
import { locateTools } from '../core/toolchains/llamacpp/locate';
import { countsTowardBudget, type TrialRecord } from '../core/types';
import { Commands, type CommandId } from './commands/ids';
import { DeployReview } from './deployReview';
import { loadPty } from './pty';
import { getApiKey, redactingLog } from './secrets';
import { SessionPanels } from './sessionPanel';
import { SessionRun, type StartRequest } from './sessionRun';
import { readSettings } from './settings';
import { TrialPty } from './trialTerminal';
import { TrialTreeProvider, type TreeNode } from './trialTree';
import { VirtualDocs } from './virtualDocs';
import { redact } from '../core/secrets';

/** A trial's speed as the status bar and notifications show it: the objective's metric (decode for balanced). */
function speedOf(o: ObjectiveSpec, named = false): (t: TrialRecord) => string {
  const metric = o.kind === 'prefill' ? 'prefill' : 'decode';
  return (t) => {
    const m = t.metrics[metric];
    return m ? `${m.mean.toFixed(1)} t/s${named ? ` ${metric}` : ''}` : '';
  };
}

/**
 * What the status bar says of a session, run here or stored: `HAQA counted/budget`, the verdict's badge when there is
 * one (`· ★ #2 Q4_K_M 890.7 t/s (≈ #3)`), and the verdict's reason for the tooltip.
 */
function statusLine(o: ObjectiveSpec, trials: TrialRecord[], budget: number): { text: string; verdict: string } {
  const counted = trials.filter(countsTowardBudget).length;
  const { verdict: v, best: b } = judge(o, trials);
  return {
    text: `HAQA ${counted}/${budget}${b ? ` · ${verdictBadge(v, trials, speedOf(o))}` : ''}`,
    verdict: b ? `\nVerdict: ${v.reason}.` : '',
  };
}

/** A session (and maybe one of its trials) named by its `.haqa` root and id. */
export interface SessionRef {
  root: string;
  sessionId: string;
  trial?: number;
}

/** A trial, a session, or nothing (= the latest session's best trial), as commands receive them. */
export type Target = TreeNode | SessionRef | undefined;

export class HaqaContext implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly runner: ProcessRunner;
  /** Where node-pty came from ("none": pipes). */
  readonly ptySource: string;
  /** This window's session runs, by session id, oldest first. */
  readonly runs = new Map<string, SessionRun>();
  readonly docs = new VirtualDocs();
  readonly review: DeployReview;
  readonly tree: TrialTreeProvider;
  readonly status: vscode.StatusBarItem;
  readonly panels: SessionPanels;
  private readonly ptyNotice: string | undefined;
  private term: { pty: TrialPty; terminal: vscode.Terminal } | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = redactingLog(vscode.window.createOutputChannel('HAQA', { log: true }));
    const { pty, from } = loadPty();
    this.ptySource = from;
    this.runner = new ProcessRunner({ pty, mode: pty ? 'pty' : 'pipe' });
    this.ptyNotice = pty
      ? undefined
      : "node-pty could not be loaded (neither VS Code's nor HAQA's): tool output runs over pipes, without colours";
    this.log.info(`live output: ${pty ? `pty via ${from}` : 'pipes'}`);
    this.review = new DeployReview(this.docs, this.log);
    this.tree = new TrialTreeProvider(
      () => this.roots(),
      (id) => this.runs.get(id),
    );
    this.status = vscode.window.createStatusBarItem('haqa.status', vscode.StatusBarAlignment.Left, 50);
    this.status.name = 'HAQA session';
    this.panels = new SessionPanels(extension.extensionUri, {
      runFor: (id) => this.runs.get(id),
      log: this.log,
      memento: extension.workspaceState,
      acceptConfiguration: (root, sessionId, trial) =>
        vscode.commands.executeCommand(Commands.acceptConfiguration, { root, sessionId, trial }),
      tryIt: (root, sessionId, trial) => vscode.commands.executeCommand(Commands.tryIt, { root, sessionId, trial }),
      showTerminal: () => this.showTerminal(),
      resume: (root, sessionId) => vscode.commands.executeCommand(Commands.resumeSession, { root, sessionId }),
    });
    this.panels.onDidActivate(() => this.updateStatus());
    // Whatever changes the tree (a run's progress, a session on disk, a deletion) may change what commands can act on.
    this.tree.onDidChangeTreeData(() => this.scheduleContextKeys());
  }

  /** The `.haqa` folders of the workspace folders, and of this window's runs elsewhere. */
  roots(): string[] {
    const r = (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.haqa'));
    for (const run of this.runs.values()) if (!r.includes(run.request.root)) r.push(run.request.root);
    return r;
  }

  /** The newest live run of this window. */
  current(): SessionRun | undefined {
    return [...this.runs.values()].reverse().find((r) => r.live);
  }

  private readonly contextKeys = new Map<string, boolean>();
  private contextTimer: NodeJS.Timeout | undefined;

  /** updateContextKeys once a burst of changes is over (a run fires several per trial). */
  scheduleContextKeys(): void {
    if (this.contextTimer) return;
    this.contextTimer = setTimeout(() => {
      this.contextTimer = undefined;
      this.updateContextKeys();
    }, 50);
  }

  /**
   * The context keys package.json's `when` clauses read, so commands show only where they can act:
   * haqa.sessionLive (a session runs in this window: Stop), haqa.sessionRunning (… and is not paused: Pause),
   * haqa.canResume (a paused run, or a stored session that did not complete: Resume), haqa.hasSession (Show Agent
   * Prompt), haqa.hasMeasuredTrial (the session commands act on by default has a feasible trial: Accept, Try It).
   */
  updateContextKeys(): void {
    const live = this.current();
    const stored = this.roots().flatMap((root) => {
      try {
        return SessionStore.list(root).map((meta) => ({ root, meta }));
      } catch {
        return [];
      }
    });
    let measured = false;
    try {
      const target = this.resolveTarget(undefined);
      if (target) measured = feasible(this.currentTrials(SessionStore.open(target.root, target.sessionId))).length > 0;
    } catch {
      measured = false;
    }
    const keys: Record<string, boolean> = {
      'haqa.sessionLive': !!live,
      'haqa.sessionRunning': !!live && live.status !== 'paused',
      'haqa.canResume':
        live?.status === 'paused' ||
        stored.some(({ meta }) => meta.status !== 'completed' && !this.runs.get(meta.id)?.live),
      'haqa.hasSession': stored.length > 0 || this.runs.size > 0,
      'haqa.hasMeasuredTrial': measured,
    };
    for (const [k, v] of Object.entries(keys)) {
      if (this.contextKeys.get(k) === v) continue;
      this.contextKeys.set(k, v);
      void vscode.commands.executeCommand('setContext', k, v);
    }
  }

  /**
   * The HAQA terminal's pseudoterminal, (re)created when there is none or it was closed; not shown. Transient (out of
   * VS Code's terminal persistence): its pseudoterminal lives in the extension host a window reload ends, so it must
   * not be brought back; the next run or Resume creates a live one.
   */
  terminal(): TrialPty {
    if (!this.term || this.term.terminal.exitStatus !== undefined) {
      const p = new TrialPty(this.runner, () => this.current()?.cancelTrial() ?? false, this.ptyNotice);
      this.term = {
        pty: p,
        terminal: vscode.window.createTerminal({
          name: 'HAQA',
          pty: p,
          iconPath: new vscode.ThemeIcon('beaker'),
          isTransient: true,
        }),
      };
    }
    return this.term.pty;
  }

  /** The HAQA terminal, shown. */
  showTerminal(preserveFocus?: boolean): TrialPty {
    const pty = this.terminal();
    this.term?.terminal.show(preserveFocus);
    return pty;
  }

  /**
   * The status bar: the session whose panel is in front, from this window's run of it, else from disk (a panel restored
   * after a reload, a session opened from the tree); with no panel in front, the newest live run, else the last run.
   */
  updateStatus(): void {
    const status = this.status;
    const active = this.panels.active;
    const front = active !== undefined ? this.runs.get(active) : undefined;
    const stored = active !== undefined && !front ? this.panels.panels.get(active) : undefined;
    if (stored && this.storedStatus(stored.root, stored.sessionId)) return;
    const r = front ?? this.current() ?? [...this.runs.values()].pop();
    if (!r?.store) {
      status.hide();
      return;
    }
    // A finished run's trials can change after it (Re-run pools into them, Delete Trial forgets one): read them.
    const trials = this.currentTrials(r.store);
    // Waiting for the person's word on a proposal runs nothing: no spinner then.
    const waiting = r.status === 'running' && !!r.pending;
    const icon = waiting
      ? '$(bell-dot)'
      : r.status === 'running'
        ? '$(loading~spin)'
        : r.status === 'paused'
          ? '$(debug-pause)'
          : '$(beaker)';
    const line = statusLine(r.objective, trials, r.request.spec.budget);
    status.text = redact(`${icon} ${line.text}${waiting ? ' · awaiting review' : ''}`);
    status.tooltip = redact(
      `Session ${r.id}: ${waiting ? `awaiting your review of proposal #${r.pending!.id}` : r.status}` +
        `${r.stopReason ? ` (${r.stopReason})` : ''}.${line.verdict}\nClick to open it.`,
    );
    status.command = {
      command: Commands.openSession,
      title: 'Open',
      arguments: [{ root: r.request.root, sessionId: r.id }],
    };
    status.show();
  }

  /**
   * The status bar for a session this window does not run, as its store has it: the same line as a run's, and what
   * became of it (interrupted: it was running when its window went, or its process died; stopped, failed, completed).
   * A click resumes a session that did not complete (as the panel's Resume does) and opens one that did. False when the
   * session cannot be read (deleted meanwhile).
   */
  private storedStatus(root: string, sessionId: string): boolean {
    let store: SessionStore;
    let trials: TrialRecord[];
    try {
      store = SessionStore.open(root, sessionId);
      trials = store.readTrials().trials;
    } catch {
      return false;
    }
    const { meta } = store;
    // session.json says `running` both while a process runs it (it holds the lock) and after one died mid-run.
    const elsewhere = meta.status === 'running' && !!lockOwner(store.dir);
    const state = elsewhere ? 'running elsewhere' : meta.status === 'running' ? 'interrupted' : meta.status;
    const icon = elsewhere
      ? '$(loading~spin)'
      : state === 'completed'
        ? '$(beaker)'
        : state === 'failed'
          ? '$(error)'
          : '$(debug-pause)';
    const line = statusLine(meta.spec.objective, trials, meta.spec.budget);
    const resumable = state !== 'completed' && !elsewhere;
    this.status.text = redact(`${icon} ${line.text} · ${state}`);
    this.status.tooltip = redact(
      `Session ${sessionId}: ${state}${meta.stopReason ? ` (${meta.stopReason})` : ''}, not running in this window.` +
        `${line.verdict}\nClick to ${resumable ? 'resume' : 'open'} it.`,
    );
    this.status.command = {
      command: resumable ? Commands.resumeSession : Commands.openSession,
      title: resumable ? 'Resume' : 'Open',
      arguments: [{ root, sessionId }],
    };
    this.status.show();
    return true;
  }

  /** Logs an error and shows it with its fix. */
  fail(e: unknown): void {
    const msg = redact(`HAQA: ${describeError(e, 'vscode')}`);
    this.log.error(msg);
    void vscode.window.showErrorMessage(msg);
  }

  /** A command body that reports its error (fail) and resolves to undefined instead of rejecting. */
  /** Registers a command whose failures are shown with their fix (see guard). */
  command<A extends unknown[], R>(id: CommandId, fn: (...a: A) => Promise<R>): vscode.Disposable {
    return vscode.commands.registerCommand(id, this.guard(fn));
  }

  guard<A extends unknown[], R>(fn: (...a: A) => Promise<R>): (...a: A) => Promise<R | undefined> {
    return async (...a: A): Promise<R | undefined> => {
      try {
        return await fn(...a);
      } catch (e) {
        this.fail(e);
        return undefined;
      }
    };
  }

  /** Builds llama.cpp's tools with progress and Cancel; false when cancelled. */
  async buildTools(): Promise<boolean> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'HAQA: building llama.cpp', cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        this.showTerminal(true);
        const backend = defaultBackend();
        try {
          const m = await buildToolchain({
            backend,
            runner: this.runner,
            signal: ac.signal,
            onProgress: (s) => {
              progress.report({ message: s });
              this.log.info(s);
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
  }

  /** True when llama.cpp's tools are there, else offers to build them. */
  async ensureToolchain(): Promise<boolean> {
    if (locateTools({ binDir: readSettings().binDir })) return true;
    const a = await vscode.window.showWarningMessage(
      "HAQA needs llama.cpp's tools (llama-quantize, llama-bench, llama-perplexity), which are not on this machine.",
      {
        modal: true,
        detail:
          `HAQA builds them once from the source in node-llama-cpp into ${toolchainRoot()} ` +
          `(about 6-12 minutes; ${defaultBackend()} backend). Or set haqa.llamacpp.binDir to a folder that has them.`,
      },
      'Build llama.cpp',
    );
    return a === 'Build llama.cpp' ? this.buildTools() : false;
  }

  /** Everything that starts a process (trials, builds, servers) asks first: an untrusted workspace runs none. */
  requireTrust(): void {
    if (!vscode.workspace.isTrusted)
      throw new HaqaError(
        'HAQA runs no trials in an untrusted workspace (it would start llama.cpp processes on its files)',
        'trust this workspace (Workspaces: Manage Workspace Trust) and run it again',
        'input',
      );
  }

  /**
   * Starts (or, with `resume`, continues) a session in this window: panel, tree, status bar, and the HAQA terminal,
   * created but not revealed (it would push the panel's table and charts out of view; HAQA: Show Terminal and the
   * panel's Terminal button show it).
   */
  async startRun(req: StartRequest, resume?: SessionStore): Promise<SessionRun> {
    this.requireTrust();
    const settings = readSettings();
    const pty = this.terminal();
    const run = new SessionRun(req, this.runner, settings, await getApiKey(this.extension.secrets), this.log, (line) =>
      pty.line(line),
    );
    run.onDidChange(() => {
      this.tree.refresh();
      this.updateStatus();
    });
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'HAQA: preparing the session (model, tools)' },
      () =>
        run.start((r) => {
          this.runs.set(r.id!, r);
          this.tree.refresh();
          this.updateStatus();
          this.panels.show(req.root, r.id!);
          this.panels.attachRun(r.id!);
        }, resume),
    );
    void run.finished().then((s) => {
      this.updateStatus();
      this.tree.refresh();
      if (!s) return;
      const b = s.best;
      const outcome = b
        ? ` Verdict: ${verdictBadge(s.verdict, s.trials, speedOf(s.objective, true))} — ${s.verdict.reason}.`
        : ' No feasible trial.';
      void vscode.window
        .showInformationMessage(
          redact(`HAQA: session ${s.sessionId} ${s.status} (${s.stopReason}).${outcome}`),
          ...(b ? ['Accept Configuration'] : []),
        )
        .then((a) => {
          if (a)
            void vscode.commands.executeCommand(Commands.acceptConfiguration, {
              root: req.root,
              sessionId: s.sessionId,
              trial: b?.index,
            });
        });
    });
    return run;
  }

  /** Resolves a command target to a session (and trial). */
  resolveTarget(t: Target): SessionRef | undefined {
    if (t && 'kind' in t)
      return t.kind === 'session'
        ? { root: t.root, sessionId: t.meta.id }
        : { root: t.root, sessionId: t.sessionId, trial: t.kind === 'trial' ? t.trial.index : t.index };
    if (t && 'sessionId' in t) return t;
    const r = [...this.runs.values()].pop();
    if (r?.id) return { root: r.request.root, sessionId: r.id };
    for (const root of this.roots()) {
      const m = SessionStore.list(root).pop();
      if (m) return { root, sessionId: m.id };
    }
    return undefined;
  }

  /** resolveTarget, or an error saying there is no session. */
  need(t: Target): SessionRef {
    const r = this.resolveTarget(t);
    if (!r) throw new HaqaError('no HAQA session in this workspace', 'run "HAQA: Optimize Model" first', 'input');
    return r;
  }

  /** A session's store and prepared state: this window's run's, else prepared again from its spec. */
  async preparedFor(root: string, sessionId: string): Promise<{ store: SessionStore; prepared: Prepared }> {
    const run = this.runs.get(sessionId);
    if (run?.prepared && run.store) return { store: run.store, prepared: run.prepared };
    const store = SessionStore.open(root, sessionId);
    const prepared = await prepareSession(store.meta.spec, {
      binDir: readSettings().binDir,
      runner: this.runner,
      onProgress: (m) => this.log.info(m),
    });
    return { store, prepared };
  }

  /** A session's trials: from this window's run while it runs, else from disk (which re-runs and deletions change). */
  currentTrials(store: SessionStore): TrialRecord[] {
    const run = this.runs.get(store.id);
    return run?.live ? run.trials : store.readTrials().trials;
  }

  /** Trial #index of a session, or its best trial; an error when there is none. */
  trialOf(store: SessionStore, index?: number): TrialRecord {
    const trials = this.currentTrials(store);
    const t =
      index !== undefined ? trials.find((x) => x.index === index) : bestTrial(store.meta.spec.objective, trials);
    if (!t)
      throw new HaqaError(
        index !== undefined
          ? `session ${store.id} has no trial #${index}`
          : `session ${store.id} has no feasible trial yet`,
        'pick a finished trial in the HAQA view',
        'input',
      );
    return t;
  }

  /** On deactivation: stops this window's runs and closes the HAQA terminal's pseudoterminal. */
  dispose(): void {
    if (this.contextTimer) clearTimeout(this.contextTimer);
    for (const r of this.runs.values()) r.stop();
    this.term?.pty.dispose();
  }
}
