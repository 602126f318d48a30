/**
 * When a session may end before its budget: the verdict's best has not moved for `patience` trials, every one of them
 * was beaten beyond noise (or failed, or was refused), and every configuration one knob away from the best has been
 * tried — with --stop-early the builtin strategy measures those neighbours itself once the patience holds (its closing
 * check). Opt-in (`--stop-early on`): on the recorded grids (BENCHMARKS.md) builtin then stops in 39 of 40 runs, at
 * 11-24.5 trials, with the verdict within noise of the grid's optimum in 38 of the 39; the patience alone (the rule
 * before the neighbours) stopped at 7 trials and was wrong in every CPU prefill run.
 */
import type { ObjectiveSpec } from './objective';
import { countsTowardBudget, type TrialRecord } from './types';
import { verdict } from './verdict';
import type { SearchSpace } from './space';
import { measuredKeys, oneKnobMoves } from './strategies/strategy';

/** Trials the best must have stood through, each beaten beyond noise. */
export const PATIENCE = 4;
/** Trials measured before stopping early is considered (a first design plus the patience). */
export const MIN_TRIALS_BEFORE_STOP = PATIENCE + 3;

/**
 * The verdict's best when it has stood through `patience` trials, each beaten beyond noise (or failed, or refused), after
 * at least MIN_TRIALS_BEFORE_STOP; else undefined.
 */
export function stoodBest(o: ObjectiveSpec, trials: TrialRecord[], patience = PATIENCE): TrialRecord | undefined {
  const counted = trials.filter(countsTowardBudget);
  if (counted.length < Math.max(MIN_TRIALS_BEFORE_STOP, patience + 1)) return undefined;
  const v = verdict(o, counted);
  if (v.best === undefined) return undefined;
  const recent = counted.slice(-patience);
  if (recent.some((t) => t.index === v.best)) return undefined;
  // A recent trial tied with the best, or too noisy to tell, may be close to something better: go on.
  if (recent.some((t) => v.tied.includes(t.index) || v.unresolved.includes(t.index))) return undefined;
  return counted.find((t) => t.index === v.best);
}

/** The best's one-knob neighbours not yet tried (valid, not measured): what the closing check measures. */
export function untriedNeighbours(space: SearchSpace, best: TrialRecord, trials: TrialRecord[]) {
  const tried = measuredKeys(space, trials);
  return oneKnobMoves(space, best.config).filter((m) => !tried.has(space.key(m.config)));
}

/**
 * The reason to stop now, or undefined to go on: the best stood through the patience (stoodBest) and, with the
 * search space, every configuration one knob away from it has been tried — the best is a local optimum of what was
 * measured, not just the last to lead.
 */
export function stopEarlyReason(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  patience = PATIENCE,
  space?: SearchSpace,
): string | undefined {
  const best = stoodBest(o, trials, patience);
  if (!best) return undefined;
  if (space && untriedNeighbours(space, best, trials).length) return undefined;
  return (
    `stopped early: the best, #${best.index}, has not moved in the last ${patience} trials, each beaten beyond noise` +
    (space ? ', and every configuration one knob away from it is measured' : '') +
    ' (--stop-early off runs the whole budget)'
  );
}
