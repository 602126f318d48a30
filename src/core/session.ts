import { llmUsage, type LlmUsage } from './agent/journal';
import { HaqaError, errorMessage, isHaqaError } from './errors';
import { findingsFor, objectiveMetrics } from './priors';
import { paretoFront, score, violations, type ObjectiveSpec } from './objective';
import { judge, type Verdict } from './verdict';
import { DEFAULT_CONFIRM, confirmVerdict, hasSamples, type ConfirmOptions } from './confirm';
import { formatDuration } from './format';
import { REFERENCE_SOURCE, compareWithReference, referenceProposal, type ReferenceComparison } from './reference';
import { PATIENCE, stopEarlyReason } from './stopping';
import type { ProcessRunner } from './process/runner';
import type { SessionStore } from './store';
import {
  measuredKeys,
  type ResolvedStrategy,
  type Proposal,
  type StrategyContext,
  type StrategyEvent,
} from './strategies';
import { thrownOutcome, type Toolchain, type TrialOutcome } from './toolchains/toolchain';
import {
  countsTowardBudget,
  type Config,
  type HardwareProfile,
  type ModelInfo,
  type TrialRecord,
  type Workload,
} from './types';

export type SessionEvent =
  | { type: 'info'; message: string }
  | { type: 'rejected'; config: unknown; reasons: string[] }
  | { type: 'agent'; event: Exclude<StrategyEvent, { type: 'info' } | { type: 'rejected' }> }
  | {
      type: 'trial-start';
      index: number;
      config: Config;
      rationale?: string;
      expectedEffect?: string;
      counterintuitive?: string;
      source?: string;
      counted: number;
      budget: number;
    }
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
  /** The verdict's chosen trial (see verdict). */
  best?: TrialRecord;
  /** The answer, beyond noise: the chosen trial, those tied with it, the rule and why. */
  verdict: Verdict;
  pareto: TrialRecord[];
  /** Token use and cost of the LLM agent, when it ran. */
  llm?: LlmUsage;
  /** The agent's explanations of measured counterintuitive trials, by trial index. */
  explanations?: Record<number, string>;
  /** The verdict against llama.cpp's own placement (--fit), measured when the model does not fit its GPUs whole. */
  reference?: ReferenceComparison;
}

/** What a session's journal adds to its summary: the agent's token use and its explanations. */
export function journalSummary(journal: Record<string, unknown>[]): Pick<SessionSummary, 'llm' | 'explanations'> {
  return { llm: llmUsage(journal), explanations: journalExplanations(journal) };
}

/** The agent's explanations in a session journal, by trial (the latest wins). */
export function journalExplanations(journal: Record<string, unknown>[]): Record<number, string> | undefined {
  const out: Record<number, string> = {};
  for (const r of journal)
    if (r.type === 'explanation' && typeof r.trial === 'number' && typeof r.why === 'string') out[r.trial] = r.why;
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
  /**
   * Review before each trial runs (the extension's `haqa.review` = each): accept, run an override instead, or skip.
   * An override is validated here again; an invalid one is rejected and the proposal is not run.
   */
  review?: (proposal: Proposal & { index: number }) => Promise<ReviewDecision>;
  /** A signal that cancels only the trial about to run (Ctrl+C in the terminal); the session itself goes on. */
  trialSignal?: (index: number) => AbortSignal | undefined;
  /**
   * Confirmation before the verdict (confirm.ts), when the session ends on its own: on with the defaults unless false;
   * a test may change the rounds, the drift limit or the pause.
   */
  confirm?: Partial<ConfirmOptions> | false;
  /** A test's stand-in for the pause before a repeated confirmation round. */
  confirmSleep?: (ms: number) => Promise<void>;
  /**
   * Measure llama.cpp's own placement (--fit) as the budget's last trial when the model does not fit its GPUs whole
   * (reference.ts). On unless false.
   */
  reference?: boolean;
  /**
   * End before the budget once the best has stood through PATIENCE trials each beaten beyond noise (stopping.ts). Only
   * when true: launchSession passes the spec's `--stop-early` (off unless asked for).
   */
  stopEarly?: boolean;
}

/**
 * The model files the artifact cache holds for this space's recipes (earlier sessions made them), so strategies price
 * them at no quantization; undefined when the toolchain cannot tell or the recipes are too many to look up.
 */
async function filesInCache(tc: Toolchain, space: Toolchain['space']): Promise<Set<string> | undefined> {
  if (!tc.cachedFiles) return undefined;
  let combos: Config[] = [{}];
  for (const k of space.knobs.filter((x) => x.stage === 'quantize')) {
    combos = combos.flatMap((c) => k.values.map((v) => ({ ...c, [k.name]: v })));
    if (combos.length > 5000) return undefined;
  }
  try {
    return await tc.cachedFiles(combos);
  } catch {
    return undefined;
  }
}

export type ReviewDecision = { action: 'accept' } | { action: 'override'; config: Config } | { action: 'skip' };

/** A proposal as the user overrode it: the config they chose, its validation against the space and history. */
export function checkOverride(space: Toolchain['space'], history: TrialRecord[], config: unknown): string[] {
  const reasons = space.validate(config);
  if (!reasons.length && measuredKeys(space, history).has(space.key(config as Config)))
    reasons.push('this configuration is already measured in this session');
  return reasons;
}

export interface RecordInput {
  index: number;
  config: Config;
  outcome: TrialOutcome;
  /** Who proposed it and why (a strategy's proposal, the user's override, a re-run). */
  proposal: Pick<Proposal, 'rationale' | 'expectedEffect' | 'counterintuitive' | 'source'>;
  /** The session's strategy: the proposer when the proposal names none. */
  strategy: string;
  startedAt: Date;
  space: Toolchain['space'];
  objective: ObjectiveSpec;
  /** The trials before this one (for the findings). */
  history: TrialRecord[];
}

/**
 * The one way a toolchain's outcome becomes a trial record, for the session loop and for Re-run Trial alike: a
 * measurement over a limit is infeasible (kept, never best), one without the objective's metric failed, and the
 * findings compare it with the history. (Accuracy reuse happens below, in the toolchain's per-artifact cache.)
 */
export function recordTrial(r: RecordInput): TrialRecord {
  const out = r.outcome;
  const rec: TrialRecord = {
    type: 'trial',
    index: r.index,
    key: r.space.key(r.config),
    config: r.config,
    status: out.status,
    metrics: out.metrics,
    cause: out.cause,
    rationale: r.proposal.rationale,
    expectedEffect: r.proposal.expectedEffect,
    counterintuitive: r.proposal.counterintuitive,
    strategy: r.proposal.source ?? r.strategy,
    startedAt: r.startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    durationMs: Date.now() - r.startedAt.getTime(),
    steps: out.steps,
  };
  if (rec.status === 'done') {
    const v = violations(r.objective, rec.metrics);
    if (v.length) {
      rec.status = 'infeasible';
      rec.cause = v.join('; ');
    } else if (score(r.objective, rec.metrics) === undefined) {
      rec.status = 'failed';
      rec.cause = `no ${r.objective.kind} measurement in the output`;
    }
  }
  if (rec.status !== 'skipped') {
    const findings = findingsFor(rec, r.history, objectiveMetrics(r.objective.kind));
    if (findings.length) rec.findings = findings;
  }
  return rec;
}

/**
 * Re-run Trial: measures a trial's configuration again. A measured (done) trial whose new run agrees in status gets the
 * run's samples pooled into its own figures (a `confirm` record marked `rerun`, as confirmation runs are), so a second
 * measurement sharpens the same configuration instead of adding a twin row. Anything else — a trial that failed or was
 * over a limit, a run that now fails or crosses a limit, a toolchain that answers with the same recorded figures —
 * is recorded as a new trial by the session loop's one rule (recordTrial). Returns the trial that holds the result
 * and whether the run was pooled.
 */
export async function rerunTrial(o: {
  store: SessionStore;
  toolchain: Toolchain;
  objective: ObjectiveSpec;
  trial: TrialRecord;
  runner: ProcessRunner;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}): Promise<{ trial: TrialRecord; pooled: boolean }> {
  const { trials, lastIndex } = o.store.readTrials();
  const index = lastIndex + 1;
  const poolable = o.trial.status === 'done' && o.toolchain.measuresAgain !== false && hasSamples(o.trial.metrics);
  const round = poolable ? o.store.readConfirmations().reduce((m, e) => Math.max(m, e.round), 0) + 1 : 0;
  const tag = `rerun-${String(round).padStart(2, '0')}-${String(o.trial.index).padStart(3, '0')}`;
  const startedAt = new Date();
  let outcome: TrialOutcome;
  try {
    outcome = await o.toolchain.runTrial(o.trial.config, {
      runner: o.runner,
      logDir: o.store.logsDir,
      trialIndex: poolable ? o.trial.index : index,
      ...(poolable ? { logTag: tag } : {}),
      signal: o.signal,
      onProgress: o.onProgress,
    });
  } catch (e) {
    outcome = thrownOutcome(e);
  }
  // The machine failed, not the configuration (a full disk, a session folder that cannot be written): nothing to record.
  if (outcome.halt) throw new HaqaError(`the re-run could not run: ${outcome.halt}`, 'fix that, then re-run', 'input');
  const rec = recordTrial({
    index,
    config: o.trial.config,
    outcome,
    proposal: { rationale: `re-run of trial #${o.trial.index}`, source: 'user' },
    strategy: 'user',
    startedAt,
    space: o.toolchain.space,
    objective: o.objective,
    history: trials,
  });
  if (poolable && rec.status === 'done' && hasSamples(outcome.metrics)) {
    o.store.appendConfirmation({
      type: 'confirm',
      of: o.trial.index,
      round,
      rerun: true,
      status: 'done',
      metrics: outcome.metrics,
      startedAt: startedAt.toISOString(),
      durationMs: rec.durationMs,
    });
    const pooled = o.store.readTrials().trials.find((t) => t.index === o.trial.index)!;
    return { trial: pooled, pooled: true };
  }
  // Measured to be pooled but it is a new trial after all (it failed or crossed a limit): its logs take its name.
  if (poolable) o.store.renameLogs(`${tag}-`, `trial-${String(index).padStart(3, '0')}-`);
  o.store.appendTrial(rec);
  return { trial: rec, pooled: false };
}

/** Consecutive proposal rounds without a single valid configuration before the session gives up. */
const MAX_EMPTY_ROUNDS = 3;

/**
 * The loop: propose → validate → run → score → append. Resumable: it starts from what the store holds, never
 * runs a configuration that is already measured, and each trial is on disk before the next begins.
 */
export async function runOptimize(o: OptimizeOptions): Promise<SessionSummary> {
  const emit = (e: SessionEvent) => {
    try {
      o.onEvent?.(e);
    } catch {
      /* a listener's failure is not the session's */
    }
  };
  const { space } = o.toolchain;
  const loaded = o.store.loadTrials();
  if (loaded.tornBytes)
    emit({ type: 'info', message: `set aside a torn last line (${loaded.tornBytes} bytes) of an interrupted append` });
  if (loaded.badLines) emit({ type: 'info', message: `${loaded.badLines} unreadable line(s) in trials.jsonl skipped` });
  const history: TrialRecord[] = loaded.trials;
  let lastIndex = loaded.lastIndex;
  const counted = () => history.filter(countsTowardBudget).length;
  if (history.length) emit({ type: 'info', message: `resuming with ${counted()} measured trial(s)` });
  if (o.strategy.note) emit({ type: 'info', message: o.strategy.note });
  o.store.updateMeta({ status: 'running', stopReason: undefined });

  const onStrategyEvent = (e: StrategyEvent) => {
    if (e.type === 'info') {
      emit(e);
      return;
    }
    if (e.type === 'rejected') emit({ type: 'rejected', config: e.config, reasons: e.reasons });
    else emit({ type: 'agent', event: e });
    try {
      o.store.appendJournal(e.type === 'llm-call' ? { type: e.type, ...e.call } : { ...e });
    } catch (err) {
      emit({ type: 'info', message: `could not write the agent journal: ${errorMessage(err)}` });
    }
  };
  const toolchainInfo = o.toolchain.info();
  const ctx: StrategyContext = {
    space,
    hardware: o.hardware,
    model: o.model,
    objective: o.objective,
    seed: o.seed,
    budget: o.budget,
    workload: o.workload ?? (toolchainInfo.workload as Workload | undefined),
    toolchain: toolchainInfo,
    signal: o.signal,
    onEvent: onStrategyEvent,
    stopEarly: o.stopEarly === true,
  };
  ctx.cachedFiles = await filesInCache(o.toolchain, space);
  const started = Date.now();
  /** Milliseconds of the time budget left (Infinity without one). */
  const timeLeft = () => (o.timeBudgetMs === undefined ? Infinity : o.timeBudgetMs - (Date.now() - started));
  const durations: number[] = [];
  let stopReason = 'budget reached';
  let status: SessionSummary['status'] = 'completed';
  let emptyRounds = 0;
  let halted: string | undefined;
  let reference = o.store.meta.reference;
  let referenceAsked = false;
  let referenceFlags: string[] | undefined;
  /** Why the search is done before its budget (stopping.ts); the reference, when due, is still measured first. */
  let earlyStop: string | undefined;
  /** The budget's last trial is llama.cpp's own placement, asked once per run (reference.ts). */
  const referenceDue = () =>
    !referenceAsked &&
    !reference &&
    o.reference !== false &&
    !!o.toolchain.fitPlacement &&
    (counted() >= o.budget - 1 || earlyStop !== undefined);

  while (counted() < o.budget) {
    if (o.signal?.aborted) {
      stopReason = 'stopped by the user';
      status = 'stopped';
      break;
    }
    if (timeLeft() <= 0) {
      stopReason = 'time budget reached';
      break;
    }
    let proposals: Proposal[] | undefined;
    // The budget's last trial measures llama.cpp's own placement when the model does not fit whole (once).
    if (referenceDue()) {
      referenceAsked = true;
      try {
        const r = await referenceProposal(
          { space, toolchain: o.toolchain, objective: o.objective, context: ctx.workload?.context },
          history,
          {
            runner: o.runner,
            logDir: o.store.logsDir,
            trialIndex: lastIndex + 1,
            logTag: `trial-${String(lastIndex + 1).padStart(3, '0')}-reference`,
            signal: o.signal,
            onProgress: (message) => emit({ type: 'progress', index: lastIndex + 1, message }),
          },
        );
        if (r.kind === 'propose') {
          proposals = [r.proposal];
          referenceFlags = r.flags;
        } else if (r.kind === 'measured') {
          reference = { index: r.trial.index, flags: r.flags };
          o.store.updateMeta({ reference });
          emit({ type: 'info', message: `llama.cpp's --fit choice (${r.flags.join(' ')}) is trial #${r.trial.index}` });
        } else if (r.why) emit({ type: 'info', message: `no llama.cpp --fit reference: ${r.why}` });
      } catch (e) {
        emit({ type: 'info', message: `no llama.cpp --fit reference: ${errorMessage(e)}` });
      }
    }
    if (earlyStop && !proposals) {
      stopReason = earlyStop;
      break;
    }
    try {
      proposals ??= await o.strategy.strategy.propose(ctx, history, 1);
    } catch (e) {
      if (o.signal?.aborted) {
        stopReason = 'stopped by the user';
        status = 'stopped';
        break;
      }
      stopReason = `strategy failed: ${errorMessage(e)}${isHaqaError(e) ? ` (fix: ${e.fixFor('any')})` : ''}`;
      status = 'failed';
      break;
    }
    if (o.signal?.aborted) {
      stopReason = 'stopped by the user';
      status = 'stopped';
      break;
    }
    if (proposals.length === 0) {
      stopReason = o.strategy.strategy.stopReason ?? 'search space exhausted: every valid configuration is measured';
      break;
    }
    const measured = measuredKeys(space, history);
    const valid: Proposal[] = [];
    for (const p of proposals) {
      const reasons = space.validate(p.config);
      if (!reasons.length && measured.has(space.key(p.config))) reasons.push('duplicate of a measured configuration');
      if (reasons.length) emit({ type: 'rejected', config: p.config, reasons });
      else valid.push({ ...p, config: space.canonical(p.config) });
    }
    if (!valid.length) {
      if (++emptyRounds >= MAX_EMPTY_ROUNDS) {
        stopReason = 'the strategy proposed no valid configuration';
        status = 'failed';
        break;
      }
      continue;
    }
    emptyRounds = 0;
    for (let p of valid) {
      if (counted() >= o.budget) break;
      // A strategy that proposed several: the last trial of the budget goes back to the reference first.
      if (referenceDue() && p.source !== REFERENCE_SOURCE) break;
      const index = lastIndex + 1;
      if (o.review) {
        let d: ReviewDecision;
        try {
          d = await o.review({ ...p, index });
        } catch (e) {
          if (o.signal?.aborted) break;
          throw e;
        }
        if (o.signal?.aborted) break;
        if (d.action === 'skip') {
          const rec = recordTrial({
            index,
            config: p.config,
            outcome: { status: 'skipped', metrics: {}, cause: 'skipped by the user', steps: [] },
            proposal: p,
            strategy: o.strategy.strategy.name,
            startedAt: new Date(),
            space,
            objective: o.objective,
            history,
          });
          o.store.appendTrial(rec);
          lastIndex = index;
          history.push(rec);
          emit({ type: 'trial-end', trial: rec, counted: counted(), budget: o.budget });
          continue;
        }
        if (d.action === 'override') {
          const reasons = checkOverride(space, history, d.config);
          if (reasons.length) {
            emit({ type: 'rejected', config: d.config, reasons });
            continue;
          }
          const was = p;
          const proposedBy = `${was.source ?? o.strategy.strategy.name}: ${space.key(was.config)}`;
          const reason = was.rationale ? `; the proposal's reason: ${was.rationale}` : '';
          p = {
            config: space.canonical(d.config),
            source: 'user',
            rationale: `overridden by the user (proposed by ${proposedBy})${reason}`,
          };
        }
      }
      // The proposal (an LLM call) or the review may have used up what was left: no trial starts after the budget.
      if (timeLeft() <= 0) {
        stopReason = 'time budget reached';
        break;
      }
      emit({
        type: 'trial-start',
        index,
        config: p.config,
        rationale: p.rationale,
        expectedEffect: p.expectedEffect,
        counterintuitive: p.counterintuitive,
        source: p.source,
        counted: counted(),
        budget: o.budget,
      });
      const startedAt = new Date();
      let out: TrialOutcome;
      let timeUp: AbortSignal | undefined;
      try {
        const own = o.trialSignal?.(index);
        // The time budget also bounds a trial that is running when it runs out (a hung tool included).
        const left = timeLeft();
        timeUp = Number.isFinite(left) ? AbortSignal.timeout(Math.max(1, left)) : undefined;
        const signals = [o.signal, own, timeUp].filter((x): x is AbortSignal => x !== undefined);
        const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
        out = await o.toolchain.runTrial(p.config, {
          runner: o.runner,
          logDir: o.store.logsDir,
          trialIndex: index,
          signal,
          onProgress: (message) => emit({ type: 'progress', index, message }),
        });
      } catch (e) {
        out = thrownOutcome(e);
      }
      // Cancelled on its own while the session goes on (Ctrl+C): the user declined it, so it is never proposed again.
      // (Cancelled because the session stopped, it stays `cancelled` and a resume runs it again.)
      // The machine failed, not the configuration (a full disk): kept as cancelled (not counted, run again on
      // resume), and the session stops with the reason.
      if (out.halt) {
        halted = out.halt;
        out = {
          ...out,
          status: 'cancelled',
          cause:
            out.cause && out.cause !== out.halt
              ? `${out.cause} (the session stopped: ${out.halt})`
              : `the session stopped: ${out.halt}`,
        };
      } else if (out.status === 'cancelled' && timeUp?.aborted && !o.signal?.aborted)
        out = {
          ...out,
          cause: 'the time budget ran out while it ran (a resume with a larger --time-budget runs it again)',
        };
      else if (out.status === 'cancelled' && !o.signal?.aborted)
        out = { ...out, status: 'skipped', cause: `cancelled by the user while running (${out.cause ?? 'cancelled'})` };
      const rec = recordTrial({
        index,
        config: p.config,
        outcome: out,
        proposal: p,
        strategy: o.strategy.strategy.name,
        startedAt,
        space,
        objective: o.objective,
        history,
      });
      o.store.appendTrial(rec);
      lastIndex = index;
      history.push(rec);
      if (p.source === REFERENCE_SOURCE && referenceFlags && countsTowardBudget(rec)) {
        reference = { index, flags: referenceFlags };
        o.store.updateMeta({ reference });
      }
      if (countsTowardBudget(rec)) durations.push(rec.durationMs);
      const mean = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : undefined;
      emit({
        type: 'trial-end',
        trial: rec,
        counted: counted(),
        budget: o.budget,
        etaMs: mean !== undefined ? mean * (o.budget - counted()) : undefined,
      });
      if (halted) break;
      if (o.stopEarly === true && !earlyStop && p.source !== REFERENCE_SOURCE && counted() < o.budget) {
        earlyStop = stopEarlyReason(o.objective, history, PATIENCE, ctx);
        if (earlyStop) {
          emit({ type: 'info', message: earlyStop });
          break;
        }
      }
    }
    if (halted) {
      stopReason = halted;
      status = 'failed';
      break;
    }
  }

  let judged = history;
  if (status === 'completed' && o.confirm !== false && !o.signal?.aborted) {
    const t0 = Date.now();
    const kept = await confirmVerdict(
      {
        toolchain: o.toolchain,
        store: o.store,
        objective: o.objective,
        runner: o.runner,
        signal: o.signal,
        onInfo: (message) => emit({ type: 'info', message }),
        sleep: o.confirmSleep,
      },
      history,
      { ...DEFAULT_CONFIRM, ...o.confirm },
    );
    judged = o.store.readTrials().trials; // pooled with every confirmation run, once
    if (kept)
      emit({ type: 'info', message: `confirmation: ${kept} run(s) pooled in ${formatDuration(Date.now() - t0)}` });
  }

  const judgement = judge(o.objective, judged);
  const compared = compareWithReference(o.objective, judged, judgement.best, reference);
  const summary: SessionSummary = {
    sessionId: o.store.id,
    sessionPath: o.store.dir,
    strategy: { requested: o.strategy.requested, used: o.strategy.strategy.name, note: o.strategy.note },
    status,
    stopReason,
    objective: o.objective,
    trials: judged,
    ...judgement,
    pareto: paretoFront(o.objective, judged),
    ...journalSummary(o.store.readJournal()),
    ...(compared ? { reference: compared } : {}),
  };
  o.store.updateMeta({ status, stopReason });
  emit({ type: 'end', summary });
  return summary;
}
