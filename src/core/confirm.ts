/**
 * Confirmation before the verdict. When a session ends on its own (budget, time budget, a stop decision, an exhausted
 * space), the trials in contention for best (the contention set, at least the top 3) are measured again, interleaved
 * — A B C … A′ per round, never one configuration back to back — with the first of them as an anchor measured again at
 * the end of each round. When the anchor's two runs differ beyond noise (the comparison rule) and by more than a limit
 * (thermal throttling, a background job), the round is discarded and repeated after a pause. The runs of kept rounds are pooled into their trial's samples,
 * and the verdict is taken on the pooled figures. A trial the pooled figures bring into contention without having been
 * measured again gets a second phase of rounds, beside the pooled best, so no verdict rests on a single run. Every run is appended to trials.jsonl as a `confirm` record (never a
 * trial: it does not count toward the budget), and a discarded round as a `confirm-discard` record.
 */
import type { ObjectiveSpec } from './objective';
import type { SessionStore } from './store';
import { thrownOutcome, type Toolchain } from './toolchains/toolchain';
import type { Config, Stat, TrialMetrics, TrialRecord } from './types';
import { compare, objectiveStat, statOfSamples, verdict } from './verdict';

export interface ConfirmOptions {
  /** Rounds to keep (each measures every candidate once, plus the anchor again). */
  rounds: number;
  /** Most candidates measured (the contention set first, then the next fastest, up to at least 3). */
  maxCandidates: number;
  /** Largest relative change of the anchor within a round before the round is discarded. */
  driftLimit: number;
  /** Pause before a discarded round is repeated (cool-down). */
  pauseMs: number;
  /** Discarded rounds tolerated before confirmation gives up (the verdict then uses what was kept). */
  maxDiscards: number;
}

export const DEFAULT_CONFIRM: ConfirmOptions = {
  rounds: 2,
  maxCandidates: 4,
  driftLimit: 0.1,
  pauseMs: 5000,
  maxDiscards: 2,
};

/** One confirmation run as trials.jsonl records it. */
export interface ConfirmRecord {
  type: 'confirm';
  /** The trial whose configuration this run measured again. */
  of: number;
  round: number;
  /** True for the anchor's second run at the end of its round. */
  anchor?: boolean;
  /** True for a run the user asked for (Re-run Trial), pooled like a confirmation run. */
  rerun?: boolean;
  status: 'done' | 'failed' | 'cancelled' | 'skipped';
  metrics: TrialMetrics;
  cause?: string;
  startedAt: string;
  durationMs: number;
}

export interface ConfirmDiscard {
  type: 'confirm-discard';
  round: number;
  /** Relative change of the anchor within the round. */
  drift: number;
}

export type ConfirmEntry = ConfirmRecord | ConfirmDiscard;

/** The trials a confirmation measures again: the contention set, then the next fastest, up to the bounds. */
export function confirmCandidates(o: ObjectiveSpec, trials: TrialRecord[], max: number): TrialRecord[] {
  const v = verdict(o, trials);
  if (v.best === undefined) return [];
  const contention = [v.best, ...v.tied, ...v.unresolved];
  const byMean = trials
    .filter((t) => t.status === 'done' && objectiveStat(o, t.metrics) !== undefined)
    .sort((a, b) => objectiveStat(o, b.metrics)!.mean - objectiveStat(o, a.metrics)!.mean)
    .map((t) => t.index);
  const order = [...new Set([...contention, ...byMean.slice(0, 3)])].slice(0, Math.max(max, 2));
  const picked = order.map((i) => trials.find((t) => t.index === i)!);
  return picked.length >= 2 ? picked : [];
}

/** True when a measurement kept its per-repetition samples (what pooling needs; old records have mean ± sd only). */
export const hasSamples = (m: TrialMetrics) => !!(m.decode?.samples?.length || m.prefill?.samples?.length);

const merge = (a: Stat | undefined, runs: (Stat | undefined)[]): Stat | undefined => {
  if (!a) return a;
  const extra = runs.flatMap((s) => s?.samples ?? []);
  if (!extra.length || !a.samples?.length) return a;
  return statOfSamples([...a.samples, ...extra]);
};

/**
 * The trials with the samples of their kept confirmation runs pooled in (mean, sd and n recomputed), and
 * `confirmedRuns` set. Runs of discarded rounds and failed runs are left out.
 */
export function poolConfirmations(trials: TrialRecord[], entries: ConfirmEntry[]): TrialRecord[] {
  if (!entries.length) return trials;
  const discarded = new Set(entries.filter((e) => e.type === 'confirm-discard').map((e) => e.round));
  const runs = new Map<number, ConfirmRecord[]>();
  for (const e of entries)
    if (e.type === 'confirm' && e.status === 'done' && !discarded.has(e.round))
      runs.set(e.of, [...(runs.get(e.of) ?? []), e]);
  return trials.map((t) => {
    const rs = runs.get(t.index);
    // Pooling needs the trial's own samples (records of old HAQA versions have mean ± sd only): without them a run
    // cannot join, and is not counted as if it had.
    if (!rs?.length || !hasSamples(t.metrics)) return t;
    const metrics = {
      ...t.metrics,
      decode: merge(
        t.metrics.decode,
        rs.map((r) => r.metrics.decode),
      ),
      prefill: merge(
        t.metrics.prefill,
        rs.map((r) => r.metrics.prefill),
      ),
    };
    return { ...t, metrics, confirmedRuns: rs.length };
  });
}

export interface ConfirmContext {
  toolchain: Toolchain;
  store: SessionStore;
  objective: ObjectiveSpec;
  runner: Parameters<Toolchain['runTrial']>[1]['runner'];
  signal?: AbortSignal;
  onInfo: (message: string) => void;
  onProgress?: (message: string) => void;
  /** Waits before a repeated round (a test passes its own). */
  sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/**
 * Runs the confirmation rounds and appends every run; returns how many runs were kept. Stops early, keeping what was
 * measured, when the session is stopped or the anchor keeps drifting.
 */
export async function confirmVerdict(
  c: ConfirmContext,
  trials: TrialRecord[],
  opts: ConfirmOptions = DEFAULT_CONFIRM,
): Promise<number> {
  const candidates = confirmCandidates(c.objective, trials, opts.maxCandidates);
  if (!candidates.length) return 0;
  if (c.toolchain.measuresAgain === false) {
    c.onInfo(`no confirmation: ${c.toolchain.name} answers a configuration with the same recorded figures every time`);
    return 0;
  }
  const sleep = c.sleep ?? ((ms: number) => wait(ms, c.signal));
  c.onInfo(
    `confirming the verdict: ${candidates.map((t) => `#${t.index}`).join(', ')} measured again, interleaved, ` +
      `${opts.rounds} round(s), anchor #${candidates[0].index} (drift limit ${Math.round(opts.driftLimit * 100)} %)`,
  );
  const prior = c.store.readConfirmations();
  let round = prior.reduce((m, e) => Math.max(m, e.round), 0);
  let kept = 0;
  let discards = 0;
  let halted: string | undefined;
  const run = async (t: TrialRecord, r: number, isAnchor: boolean): Promise<ConfirmRecord> => {
    const started = new Date();
    c.onProgress?.(`confirmation round ${r}: #${t.index}${isAnchor ? ' (anchor, again)' : ''}`);
    let out: Awaited<ReturnType<Toolchain['runTrial']>>;
    try {
      out = await c.toolchain.runTrial(t.config as Config, {
        runner: c.runner,
        logDir: c.store.logsDir,
        trialIndex: t.index,
        logTag: `confirm-${String(r).padStart(2, '0')}-${String(t.index).padStart(3, '0')}${isAnchor ? '-anchor' : ''}`,
        signal: c.signal,
        onProgress: c.onProgress,
      });
    } catch (e) {
      out = thrownOutcome(e);
    }
    // The machine failed (a full disk, a session folder that cannot be written): no measurement, and no more rounds.
    if (out.halt) halted ??= out.halt;
    const rec: ConfirmRecord = {
      type: 'confirm',
      of: t.index,
      round: r,
      ...(isAnchor ? { anchor: true } : {}),
      // Refused before it ran (projected over a limit, e.g. less free memory now): no measurement, as a failure is.
      status: out.status === 'infeasible' ? 'failed' : out.status,
      metrics: out.metrics,
      ...(out.cause ? { cause: out.cause } : {}),
      startedAt: started.toISOString(),
      durationMs: Date.now() - started.getTime(),
    };
    c.store.appendConfirmation(rec);
    return rec;
  };
  // One phase: `opts.rounds` kept rounds over `group`, its first member the anchor. False when the machine did not
  // hold still (too many discarded rounds) or the session was stopped.
  const phase = async (group: TrialRecord[]): Promise<boolean> => {
    const anchor = group[0];
    let keptRounds = 0;
    while (keptRounds < opts.rounds) {
      if (c.signal?.aborted) return false;
      round++;
      const recs: ConfirmRecord[] = [];
      for (const t of group) {
        if (c.signal?.aborted || halted) break;
        recs.push(await run(t, round, false));
      }
      if (halted) {
        c.onInfo(`confirmation stopped: ${halted}; the verdict uses what was kept`);
        return false;
      }
      if (c.signal?.aborted) return false;
      const again = await run(anchor, round, true);
      // The anchor drifted when its two runs differ by the comparison rule (beyond their own noise) and by more than
      // the limit: a shift of the machine, not the scatter of one run.
      const first = objectiveStat(c.objective, recs[0].metrics);
      const last = objectiveStat(c.objective, again.metrics);
      const drift = first && last && first.mean > 0 ? Math.abs(last.mean / first.mean - 1) : Infinity;
      const shifted = !first || !last || (compare(first, last).order !== 0 && drift > opts.driftLimit);
      if (shifted) {
        c.store.appendConfirmation({ type: 'confirm-discard', round, drift: Number.isFinite(drift) ? drift : -1 });
        const what = Number.isFinite(drift) ? `drifted ${(drift * 100).toFixed(1)} %` : 'could not be measured';
        c.onInfo(`confirmation round ${round} discarded: the anchor #${anchor.index} ${what} within the round`);
        if (++discards > opts.maxDiscards) {
          c.onInfo('confirmation stopped: the machine did not hold still; the verdict uses what was kept');
          return false;
        }
        await sleep(opts.pauseMs);
        continue;
      }
      keptRounds++;
      kept += recs.filter((r) => r.status === 'done').length + (again.status === 'done' ? 1 : 0);
    }
    return true;
  };
  if (!(await phase(candidates))) return kept;
  // The pooled figures may bring a trial that was not measured again into contention (the leader's first figure was
  // high by chance): the verdict must not rest on one run of it, so it is measured again too, once, beside the
  // pooled best as the anchor.
  const pooled = c.store.readTrials().trials;
  const v = verdict(c.objective, pooled);
  const measured = new Set(candidates.map((t) => t.index));
  const newcomers = [...(v.best !== undefined ? [v.best] : []), ...v.tied, ...v.unresolved].filter(
    (i) => !measured.has(i),
  );
  if (v.best === undefined || !newcomers.length) return kept;
  // Never one configuration back to back: a measured candidate goes beside them when the pooled best is a newcomer.
  const mate = candidates.map((t) => t.index).find((i) => i !== v.best);
  const order = [...new Set([v.best, ...newcomers, ...(mate !== undefined ? [mate] : [])])];
  const size = Math.max(opts.maxCandidates, 2);
  const left = order.slice(size).filter((i) => newcomers.includes(i));
  const group = order.slice(0, size).map((i) => pooled.find((t) => t.index === i)!);
  if (left.length)
    c.onInfo(`confirmation: ${left.map((i) => `#${i}`).join(', ')} not measured again (at most ${size} at a time)`);
  c.onInfo(
    `confirming again: ${newcomers.map((i) => `#${i}`).join(', ')} came within noise of the pooled best ` +
      `#${v.best}; measured again beside it`,
  );
  await phase(group);
  return kept;
}
