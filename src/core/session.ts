import { llmUsage, type LlmUsage } from './agent/journal';
import { errorMessage, isHaqaError } from './errors';
import { findingsFor, objectiveMetrics } from './priors';
import { best, paretoFront, score, violations, type ObjectiveSpec } from './objective';
import type { ProcessRunner } from './process/runner';
import type { SessionStore } from './store';
import { measuredKeys, type ResolvedStrategy, type Proposal, type StrategyContext, type StrategyEvent } from './strategies';
import type { Toolchain, TrialOutcome } from './toolchains/toolchain';
import type { Config, HardwareProfile, ModelInfo, TrialRecord, Workload } from './types';

export type SessionEvent =
  | { type: 'info'; message: string }
  | { type: 'rejected'; config: unknown; reasons: string[] }
  | { type: 'agent'; event: Exclude<StrategyEvent, { type: 'info' } | { type: 'rejected' }> }
  | { type: 'trial-start'; index: number; config: Config; rationale?: string; expectedEffect?: string; counterintuitive?: string; source?: string; counted: number; budget: number }
  | { type: 'progress'; index: number; message: string }
  | { type: 'trial-end'; trial: TrialRecord; counted: number; budget: number; etaMs?: number }
  | { type: 'end'; summary: SessionSummary };

export interface SessionSummary {
  sessionId: string;
  sessionPath: string;
  strategy: { requested: string; used: string; note?: string };
  status: 'completed' | 'stopped' | 'failed';
  stopReason: string;
  objective: ObjectiveSpec;
  trials: TrialRecord[];
  best?: TrialRecord;
  pareto: TrialRecord[];
  /** Token use and cost of the LLM agent, when it ran. */
  llm?: LlmUsage;
  /** The agent's explanations of measured counterintuitive trials, by trial index. */
  explanations?: Record<number, string>;
}

/** What a session's journal adds to its summary: the agent's token use and its explanations. */
export function journalSummary(journal: Record<string, unknown>[]): Pick<SessionSummary, 'llm' | 'explanations'> {
  return { llm: llmUsage(journal), explanations: journalExplanations(journal) };
}

/** The agent's explanations in a session journal, by trial (the latest wins). */
export function journalExplanations(journal: Record<string, unknown>[]): Record<number, string> | undefined {
  const out: Record<number, string> = {};
  for (const r of journal) if (r.type === 'explanation' && typeof r.trial === 'number' && typeof r.why === 'string') out[r.trial] = r.why;
  return Object.keys(out).length ? out : undefined;
}

export interface OptimizeOptions {
  toolchain: Toolchain;
  hardware: HardwareProfile;
  model: ModelInfo;
  strategy: ResolvedStrategy;
  objective: ObjectiveSpec;
  budget: number;
  timeBudgetMs?: number;
  seed: number;
  workload?: Workload;
  store: SessionStore;
  runner: ProcessRunner;
  signal?: AbortSignal;
  onEvent?: (e: SessionEvent) => void;
}

/** Consecutive proposal rounds without a single valid configuration before the session gives up. */
const MAX_EMPTY_ROUNDS = 3;

/**
 * The loop: propose → validate → run → score → append. Resumable: it starts from what the store holds, never runs a
 * configuration that is already measured, and each trial is on disk before the next begins.
 */
export async function runOptimize(o: OptimizeOptions): Promise<SessionSummary> {
  const emit = (e: SessionEvent) => { try { o.onEvent?.(e); } catch { /* a listener's failure is not the session's */ } };
  const { space } = o.toolchain;
  const loaded = o.store.loadTrials();
  if (loaded.tornBytes) emit({ type: 'info', message: `set aside a torn last line (${loaded.tornBytes} bytes) of an interrupted append` });
  if (loaded.badLines) emit({ type: 'info', message: `${loaded.badLines} unreadable line(s) in trials.jsonl skipped` });
  const history: TrialRecord[] = loaded.trials;
  const counted = () => history.filter((t) => t.status !== 'cancelled').length;
  if (history.length) emit({ type: 'info', message: `resuming with ${counted()} measured trial(s)` });
  if (o.strategy.note) emit({ type: 'info', message: o.strategy.note });
  o.store.updateMeta({ status: 'running', stopReason: undefined });

  const onStrategyEvent = (e: StrategyEvent) => {
    if (e.type === 'info') { emit(e); return; }
    if (e.type === 'rejected') emit({ type: 'rejected', config: e.config, reasons: e.reasons });
    else emit({ type: 'agent', event: e });
    try {
      o.store.appendJournal(e.type === 'llm-call' ? { type: e.type, ...e.call } : { ...e });
    } catch (err) { emit({ type: 'info', message: `could not write the agent journal: ${errorMessage(err)}` }); }
  };
  const toolchainInfo = o.toolchain.info();
  const ctx: StrategyContext = {
    space, hardware: o.hardware, model: o.model, objective: o.objective, seed: o.seed, budget: o.budget,
    workload: o.workload ?? (toolchainInfo.workload as Workload | undefined), toolchain: toolchainInfo, signal: o.signal, onEvent: onStrategyEvent,
  };
  const started = Date.now();
  const durations: number[] = [];
  let stopReason = 'budget reached';
  let status: SessionSummary['status'] = 'completed';
  let emptyRounds = 0;

  while (counted() < o.budget) {
    if (o.signal?.aborted) { stopReason = 'stopped by the user'; status = 'stopped'; break; }
    if (o.timeBudgetMs !== undefined && Date.now() - started >= o.timeBudgetMs) { stopReason = 'time budget reached'; break; }
    let proposals: Proposal[];
    try {
      proposals = await o.strategy.strategy.propose(ctx, history, 1);
    } catch (e) {
      if (o.signal?.aborted) { stopReason = 'stopped by the user'; status = 'stopped'; break; }
      stopReason = `strategy failed: ${errorMessage(e)}${isHaqaError(e) ? ` (fix: ${e.fix})` : ''}`; status = 'failed'; break;
    }
    if (o.signal?.aborted) { stopReason = 'stopped by the user'; status = 'stopped'; break; }
    if (proposals.length === 0) { stopReason = o.strategy.strategy.stopReason ?? 'search space exhausted: every valid configuration is measured'; break; }
    const measured = measuredKeys(space, history);
    const valid: Proposal[] = [];
    for (const p of proposals) {
      const reasons = space.validate(p.config);
      if (!reasons.length && measured.has(space.key(p.config))) reasons.push('duplicate of a measured configuration');
      if (reasons.length) emit({ type: 'rejected', config: p.config, reasons });
      else valid.push({ ...p, config: space.canonical(p.config) });
    }
    if (!valid.length) {
      if (++emptyRounds >= MAX_EMPTY_ROUNDS) { stopReason = 'the strategy proposed no valid configuration'; status = 'failed'; break; }
      continue;
    }
    emptyRounds = 0;
    for (const p of valid) {
      if (counted() >= o.budget) break;
      const index = history.length + 1;
      emit({ type: 'trial-start', index, config: p.config, rationale: p.rationale, expectedEffect: p.expectedEffect, counterintuitive: p.counterintuitive, source: p.source, counted: counted(), budget: o.budget });
      const startedAt = new Date();
      let out: TrialOutcome;
      try {
        out = await o.toolchain.runTrial(p.config, {
          runner: o.runner, logDir: o.store.logsDir, trialIndex: index, signal: o.signal,
          onProgress: (message) => emit({ type: 'progress', index, message }),
        });
      } catch (e) {
        out = { status: 'failed', metrics: {}, cause: `internal error: ${errorMessage(e)}`, steps: [] };
      }
      const rec: TrialRecord = {
        type: 'trial', index, key: space.key(p.config), config: p.config, status: out.status, metrics: out.metrics, cause: out.cause,
        rationale: p.rationale, expectedEffect: p.expectedEffect, counterintuitive: p.counterintuitive,
        strategy: p.source ?? o.strategy.strategy.name, startedAt: startedAt.toISOString(), endedAt: new Date().toISOString(),
        durationMs: Date.now() - startedAt.getTime(), steps: out.steps,
      };
      if (rec.status === 'done') {
        const v = violations(o.objective, rec.metrics);
        if (v.length) { rec.status = 'infeasible'; rec.cause = v.join('; '); }
        else if (score(o.objective, rec.metrics) === undefined) { rec.status = 'failed'; rec.cause = `no ${o.objective.kind} measurement in the output`; }
      }
      const findings = findingsFor(rec, history, objectiveMetrics(o.objective.kind));
      if (findings.length) rec.findings = findings;
      o.store.appendTrial(rec);
      history.push(rec);
      if (rec.status !== 'cancelled') durations.push(rec.durationMs);
      const mean = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : undefined;
      emit({ type: 'trial-end', trial: rec, counted: counted(), budget: o.budget, etaMs: mean !== undefined ? mean * (o.budget - counted()) : undefined });
    }
  }

  const summary: SessionSummary = {
    sessionId: o.store.id, sessionPath: o.store.dir,
    strategy: { requested: o.strategy.requested, used: o.strategy.strategy.name, note: o.strategy.note },
    status, stopReason, objective: o.objective, trials: history,
    best: best(o.objective, history), pareto: paretoFront(o.objective, history), ...journalSummary(o.store.readJournal()),
  };
  o.store.updateMeta({ status, stopReason });
  emit({ type: 'end', summary });
  return summary;
}
