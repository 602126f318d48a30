/**
 * One optimization session run by this window: the core loop (runOptimize) with the extension's review gate, pause,
 * stop and per-trial cancel, and the state every view (tree, webview, status bar, terminal) draws from. Sessions that
 * only exist on disk are read through `storedState`.
 */
import * as vscode from 'vscode';
import { describeUsage, llmUsage } from '../core/agent/journal';
import { errorMessage, isHaqaError } from '../core/errors';
import { describeHardware } from '../core/hardware';
import { describeObjective, paretoFront, type ObjectiveSpec } from '../core/objective';
import { verdict } from '../core/verdict';
import { launchSession, type LaunchedSession } from '../core/launch';
import type { Prepared } from '../core/prepare';
import type { ProcessRunner } from '../core/process/runner';
import {
  checkOverride,
  journalExplanations,
  type ReviewDecision,
  type SessionEvent,
  type SessionSummary,
} from '../core/session';
import { SessionStore, type SessionMeta } from '../core/store';
import { recordedLlm, type SessionSpec } from '../core/spec';
import type { Config, TrialRecord } from '../core/types';
import type { HostMessage, ProposalView, RunningView, SessionState, SessionStatus } from '../../webview/protocol';
import { llmSettingsFrom, type HaqaSettings, type ReviewMode } from './settings';

/** A session to start in this window: what it is (the spec), where it goes, how proposals are reviewed. */
export interface StartRequest {
  root: string;
  spec: SessionSpec;
  review: ReviewMode;
}

type Pending = ProposalView & { resolve: (d: ReviewDecision) => void };

export class SessionRun {
  private readonly changed = new vscode.EventEmitter<HostMessage>();
  /** Increments for the views (the webview's protocol messages). */
  readonly onDidChange = this.changed.event;
  status: SessionStatus = 'preparing';
  stopReason?: string;
  review: ReviewMode;
  trials: TrialRecord[] = [];
  pending?: Pending;
  running?: RunningView;
  prepared?: Prepared;
  store?: SessionStore;
  summary?: SessionSummary;
  private readonly ac = new AbortController();
  private trialAc?: AbortController;
  private paused?: { promise: Promise<void>; release: () => void };
  private readonly done: Promise<SessionSummary | undefined>;
  private resolveDone!: (s: SessionSummary | undefined) => void;

  constructor(
    readonly request: StartRequest,
    private readonly runner: ProcessRunner,
    private readonly settings: HaqaSettings,
    private readonly apiKey: string | undefined,
    private readonly log: vscode.LogOutputChannel,
    private readonly say: (line: string) => void,
  ) {
    this.review = request.review;
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  get id(): string | undefined {
    return this.store?.id;
  }
  get objective(): ObjectiveSpec {
    return this.request.spec.objective;
  }
  get live(): boolean {
    return ['preparing', 'running', 'paused'].includes(this.status);
  }
  /** Resolves when the session ends (undefined when it never started). */
  finished(): Promise<SessionSummary | undefined> {
    return this.done;
  }

  /**
   * Prepares (model, tools, toolchain), creates the session under the root and runs it; resolves when it is
   * created.
   */
  async start(onCreated: (run: SessionRun) => void, resume?: SessionStore): Promise<void> {
    const r = this.request;
    let session: LaunchedSession | undefined;
    try {
      // The agent's endpoint comes from this machine's settings (a resumed session too), never from a session file.
      const llm = llmSettingsFrom(this.settings);
      const recorded = llm ? recordedLlm(llm) : undefined;
      const spec: SessionSpec = { ...(resume?.meta.spec ?? r.spec), budget: r.spec.budget, llm: recorded };
      session = await launchSession(spec, {
        root: r.root,
        runner: this.runner,
        apiKey: this.apiKey,
        resume,
        lockOwner: resume ? 'VS Code: Resume Session' : 'VS Code: Optimize Model',
        tools: { binDir: this.settings.binDir, onProgress: (m) => this.log.info(m), signal: this.ac.signal },
      });
      this.prepared = session.prepared;
      this.store = session.store;
      if (resume) this.trials = resume.readTrials().trials;
      this.status = 'running';
      const { strategy } = session;
      this.log.info(
        `session ${this.store.id}: ${describeObjective(spec.objective)}; ` +
          `strategy ${strategy.requested} → ${strategy.strategy.name}; budget ${spec.budget}`,
      );
      onCreated(this);
      void this.loop(session);
    } catch (e) {
      session?.release();
      this.status = 'failed';
      this.stopReason = errorMessage(e);
      this.resolveDone(undefined);
      throw e;
    }
  }

  private async loop(session: LaunchedSession): Promise<void> {
    let summary: SessionSummary | undefined;
    try {
      summary = await session.run({
        signal: this.ac.signal,
        onEvent: (e) => this.onEvent(e),
        review: (proposal) => this.reviewGate(proposal),
        trialSignal: () => {
          this.trialAc = new AbortController();
          return this.trialAc.signal;
        },
      });
      this.status = summary.status;
      this.stopReason = summary.stopReason;
    } catch (e) {
      this.status = 'failed';
      this.stopReason = `${errorMessage(e)}${isHaqaError(e) ? ` (fix: ${e.fixFor('vscode')})` : ''}`;
      this.log.error(`session ${this.id}: ${this.stopReason}`);
    }
    this.summary = summary;
    this.pending = undefined;
    this.running = undefined;
    this.changed.fire({ type: 'pending' });
    this.changed.fire({ type: 'running' });
    this.changed.fire({ type: 'status', status: this.status, stopReason: this.stopReason, review: this.review });
    this.resolveDone(summary);
  }

  private onEvent(e: SessionEvent): void {
    switch (e.type) {
      case 'info':
        this.log.info(e.message);
        this.say(`haqa: ${e.message}`);
        break;
      case 'rejected':
        this.log.warn(`rejected proposal ${JSON.stringify(e.config)?.slice(0, 300)}: ${e.reasons.join('; ')}`);
        break;
      case 'agent':
        this.log.info(`agent: ${JSON.stringify(e.event).slice(0, 500)}`);
        break;
      case 'trial-start': {
        this.running = { index: e.index, config: e.config, rationale: e.rationale };
        const why = e.rationale ? `\n  why: ${e.rationale}` : '';
        this.say(`[${e.counted + 1}/${e.budget}] trial #${e.index} ${JSON.stringify(e.config)}${why}`);
        this.changed.fire({ type: 'running', running: this.running });
        break;
      }
      case 'progress':
        if (this.running) {
          this.running = { ...this.running, message: e.message };
          this.changed.fire({ type: 'running', running: this.running });
        }
        break;
      case 'trial-end': {
        this.trials.push(e.trial);
        this.running = undefined;
        const t = e.trial;
        const decode = t.metrics.decode ? `: decode ${t.metrics.decode.mean.toFixed(1)} t/s` : '';
        this.say(`  ${t.status}${decode}${t.cause ? ` (${t.cause})` : ''}`);
        this.log.info(`trial #${t.index} ${t.status}${t.cause ? `: ${t.cause}` : ''}`);
        this.changed.fire({ type: 'running' });
        this.changed.fire({
          type: 'trial',
          trial: t,
          ...verdictMarks(this.objective, this.trials),
        });
        if (
          t.status === 'skipped' &&
          t.cause?.startsWith('cancelled by the user while running') &&
          !this.ac.signal.aborted
        ) {
          this.pause();
          void vscode.window
            .showWarningMessage(`HAQA: trial #${t.index} cancelled; the session is paused.`, 'Resume', 'Stop')
            .then((a) => {
              if (a === 'Resume') this.resume();
              else if (a === 'Stop') this.stop();
            });
        }
        break;
      }
      case 'end':
        // The confirmation runs are pooled into the trials: the panel, the tree and the status bar show the figures
        // (and the verdict) of the summary, not those from before the confirmation.
        this.trials = e.summary.trials;
        this.changed.fire({ type: 'state', state: this.state() });
        break;
    }
  }

  private async reviewGate(p: {
    index: number;
    config: Config;
    rationale?: string;
    expectedEffect?: string;
    counterintuitive?: string;
    source?: string;
  }): Promise<ReviewDecision> {
    while (this.paused && !this.ac.signal.aborted) await this.paused.promise;
    if (this.ac.signal.aborted) return { action: 'skip' };
    if (this.review === 'auto') return { action: 'accept' };
    return new Promise<ReviewDecision>((resolve) => {
      this.pending = {
        id: p.index,
        config: p.config,
        rationale: p.rationale,
        expectedEffect: p.expectedEffect,
        counterintuitive: p.counterintuitive,
        source: p.source,
        resolve,
      };
      const { resolve: _r, ...view } = this.pending;
      this.changed.fire({ type: 'pending', pending: view });
      this.changed.fire({ type: 'status', status: this.status, review: this.review });
    });
  }

  /**
   * The user's word on the pending proposal. An override is validated first; its reasons come back when it is not
   * valid.
   */
  decide(id: number, d: ReviewDecision | { action: 'accept-all' }): string[] {
    const p = this.pending;
    if (!p || p.id !== id) return [`proposal #${id} is no longer pending`];
    if (d.action === 'override') {
      const reasons = checkOverride(this.prepared!.toolchain.space, this.trials, d.config);
      if (reasons.length) return reasons;
    }
    if (d.action === 'accept-all') {
      this.review = 'auto';
      // Kept with the session: a resume (after a reload, say) does not ask again.
      this.store?.updateMeta({ acceptAll: true });
    }
    this.pending = undefined;
    this.changed.fire({ type: 'pending' });
    this.changed.fire({ type: 'status', status: this.status, review: this.review });
    p.resolve(d.action === 'accept-all' ? { action: 'accept' } : d);
    return [];
  }

  pause(): void {
    if (!this.live || this.paused) return;
    let release!: () => void;
    const promise = new Promise<void>((r) => {
      release = r;
    });
    this.paused = { promise, release };
    this.status = 'paused';
    this.changed.fire({ type: 'status', status: this.status, review: this.review });
  }

  resume(): void {
    if (!this.paused) return;
    const p = this.paused;
    this.paused = undefined;
    if (this.live) this.status = 'running';
    p.release();
    this.changed.fire({ type: 'status', status: this.status, review: this.review });
  }

  stop(): void {
    this.ac.abort();
    this.resume();
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      p.resolve({ action: 'skip' });
    }
  }

  /** Ctrl+C: cancels the running trial only; false when none runs. */
  cancelTrial(): boolean {
    if (!this.running || !this.trialAc) return false;
    this.trialAc.abort();
    return true;
  }

  state(): SessionState {
    const p = this.prepared;
    const base = storedState(this.request.root, this.store!, this.trials);
    const { resolve: _r, ...pending } = this.pending ?? { resolve: undefined };
    return {
      ...base,
      status: this.status,
      stopReason: this.stopReason,
      review: this.review,
      live: this.live,
      hardware: p ? describeHardware(p.hardware) : base.hardware,
      knobs: p
        ? p.toolchain.space.knobs.map((k) => ({ name: k.name, values: k.values, meaning: k.meaning, stage: k.stage }))
        : base.knobs,
      pending: this.pending ? (pending as ProposalView) : undefined,
      running: this.running,
    };
  }
}

/** The marks every view draws: the verdict's trial, those tied with it (≈ best), the Pareto front, and why. */
export function verdictMarks(o: ObjectiveSpec, trials: TrialRecord[]) {
  const v = verdict(o, trials);
  return { best: v.best, tied: v.tied, pareto: paretoFront(o, trials).map((t) => t.index), verdict: v.reason };
}

/** The state of a session as stored on disk (what the panel shows for a session this window does not run). */
export function storedState(root: string, store: SessionStore, trials = store.readTrials().trials): SessionState {
  const meta: SessionMeta = store.meta;
  const o = meta.spec;
  const journal = store.readJournal();
  const usage = llmUsage(journal);
  const model = meta.model;
  const tc = meta.toolchain ?? {};
  const toolchain = [String(tc.toolchain ?? 'llama.cpp'), String(tc.commit ?? '').slice(0, 7), String(tc.backend ?? '')]
    .join(' ')
    .trim();
  const { requested, used } = meta.strategy;
  return {
    sessionId: store.id,
    root,
    model: model?.name ?? model?.path ?? '?',
    hardware: meta.hardware ? describeHardware(meta.hardware) : '',
    toolchain,
    objective: describeObjective(o.objective),
    objectiveKind: o.objective.kind,
    strategy: `${requested}${requested !== used ? ` → ${used}` : ''}`,
    status: meta.status === 'running' ? 'idle' : meta.status,
    stopReason:
      meta.stopReason ??
      (meta.status === 'running' ? 'interrupted: Resume carries it on (or "HAQA: Resume Session")' : undefined),
    review: 'auto',
    live: false,
    budget: o.budget,
    trials,
    ...verdictMarks(o.objective, trials),
    deployed: meta.deployed?.trial,
    knobs: [],
    explanations: journalExplanations(journal),
    llmUsage: usage ? describeUsage(usage) : undefined,
    limits: {
      maxSizeMiB: o.objective.maxSizeBytes !== undefined ? o.objective.maxSizeBytes / 2 ** 20 : undefined,
      maxDeltaPplPct: o.objective.maxDeltaPplPct,
      maxKld: o.objective.maxKld,
    },
  };
}
