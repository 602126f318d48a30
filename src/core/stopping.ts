/**
 * When a session may end before its budget: the verdict's best has not moved for `patience` trials and every one of
 * them was beaten beyond noise (or failed, or was refused) — the strategy keeps proposing what is clearly worse.
 * Opt-in (`--stop-early on`): on the recorded grids (BENCHMARKS.md) it ends the builtin strategy at 7 trials with the
 * right answer on the H200 decode grid, but on the noisy 2-core CPU grids it stops before the optimum in most seeds:
 * "beaten beyond noise" is not yet "nothing better is expected", which needs the strategy's own model.
 */
import type { ObjectiveSpec } from './objective';
import { countsTowardBudget, type TrialRecord } from './types';
import { verdict } from './verdict';

/** Trials the best must have stood through, each beaten beyond noise. */
export const PATIENCE = 4;
/** Trials measured before stopping early is considered (a first design plus the patience). */
export const MIN_TRIALS_BEFORE_STOP = PATIENCE + 3;

/** The reason to stop now, or undefined to go on. */
export function stopEarlyReason(o: ObjectiveSpec, trials: TrialRecord[], patience = PATIENCE): string | undefined {
  const counted = trials.filter(countsTowardBudget);
  if (counted.length < Math.max(MIN_TRIALS_BEFORE_STOP, patience + 1)) return undefined;
  const v = verdict(o, counted);
  if (v.best === undefined) return undefined;
  const recent = counted.slice(-patience);
  if (recent.some((t) => t.index === v.best)) return undefined;
  // A recent trial tied with the best, or too noisy to tell, may be close to something better: go on.
  if (recent.some((t) => v.tied.includes(t.index) || v.unresolved.includes(t.index))) return undefined;
  return (
    `stopped early: the best, #${v.best}, has not moved in the last ${patience} trials, each beaten beyond noise ` +
    '(--stop-early off runs the whole budget)'
  );
}
