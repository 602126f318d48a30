/**
 * When a session may end before its budget: the verdict's best has not moved for `patience` trials, none of them beat
 * it or came too close to tell (a tie is allowed only from a configuration one knob away from the best: that move was
 * measured not to pay), and every configuration one knob away from the best that could change the answer has been
 * tried — with --stop-early the builtin strategy measures those neighbours itself once the patience holds (its closing
 * check). Two kinds of neighbour are not required (issue 16, "stop when done"):
 * - a move that only buys accuracy (an importance matrix; a recipe knob to a higher precision) when the session does
 *   not measure accuracy: it cannot make the file smaller, and the kernels it runs are the same or larger;
 * - a neighbour that needs a new model file dearer than the patience itself cost (the seconds of the trials the best
 *   stood through): checking it would cost more than the evidence the session already paid for. The stop reason names
 *   each one left out, with its cost.
 * Opt-in (`--stop-early on`); BENCHMARKS.md ("Stopping early") has what it does on the recorded grids.
 */
import type { ObjectiveSpec } from './objective';
import { countsTowardBudget, type Config, type ConfigValue, type TrialRecord } from './types';
import { verdict } from './verdict';
import { SearchSpace } from './space';
import { costModel, measuredKeys, oneKnobMoves, type StrategyContext } from './strategies/strategy';
import { configDiff, knobValue } from './configDiff';
import { stepSeconds, type CostModel } from './cost';
import { fmtSeconds } from './format';

/** Trials the best must have stood through, each beaten beyond noise (or a one-knob neighbour tied with it). */
export const PATIENCE = 4;
/** Trials measured before stopping early is considered (a first design plus the patience). */
export const MIN_TRIALS_BEFORE_STOP = PATIENCE + 3;

/** What the stop rule may know of the session beyond its trials: the search space, and where given, the cost facts. */
export type StopScope =
  SearchSpace | Pick<StrategyContext, 'space' | 'model' | 'hardware' | 'toolchain' | 'cachedFiles'>;

/**
 * The verdict's best when it has stood through `patience` trials after at least MIN_TRIALS_BEFORE_STOP: none of them is
 * the best, none is too noisy to tell from it, and any tied with it is one knob away from it (that knob measured not
 * to pay); else undefined.
 */
export function stoodBest(o: ObjectiveSpec, trials: TrialRecord[], patience = PATIENCE): TrialRecord | undefined {
  const counted = trials.filter(countsTowardBudget);
  if (counted.length < Math.max(MIN_TRIALS_BEFORE_STOP, patience + 1)) return undefined;
  const v = verdict(o, counted);
  if (v.best === undefined) return undefined;
  const best = counted.find((t) => t.index === v.best)!;
  const recent = counted.slice(-patience);
  if (recent.some((t) => t.index === v.best)) return undefined;
  // Too noisy to tell, or tied from further away: something better may be near it, go on.
  if (recent.some((t) => v.unresolved.includes(t.index))) return undefined;
  if (recent.some((t) => v.tied.includes(t.index) && configDiff(t.config, best.config).length !== 1)) return undefined;
  return best;
}

/** A one-knob neighbour of the best, with what measuring it would cost. */
export interface Neighbour {
  knob: string;
  value: ConfigValue;
  config: Config;
  /** Expected seconds, and the phrase saying why ("reuses the Q4_0 file: about 3 s"). */
  seconds?: number;
  cost?: string;
  /** True when it needs a model file not made yet. */
  newFile?: boolean;
}

/** The best's untried one-knob neighbours (valid, not measured): what the closing check must measure, and what not. */
export interface ClosingPlan {
  measure: Neighbour[];
  /** Not required, each with the reason. */
  skipped: (Neighbour & { why: string })[];
}

/**
 * True when moving `knob` to `value` only buys accuracy: an importance matrix (same tensor types, so the same size and
 * kernels) or a recipe knob moved to a later, more precise value (space.ts lists those values by precision).
 */
export function buysOnlyAccuracy(space: SearchSpace, knob: string, from: ConfigValue, to: ConfigValue): boolean {
  const k = space.knob(knob);
  if (!k?.buysAccuracy) return false;
  if (k.buysAccuracy === 'same-size') return true;
  return k.values.indexOf(to) > k.values.indexOf(from);
}

/**
 * What the closing check measures around `best` (see the module's comment), cheapest first; `cost` when the caller has
 * built the session's cost model already.
 */
export function closingPlan(
  scope: StopScope,
  best: TrialRecord,
  trials: TrialRecord[],
  patience = PATIENCE,
  cost?: CostModel,
): ClosingPlan {
  const space = scope instanceof SearchSpace ? scope : scope.space;
  const tried = measuredKeys(space, trials);
  const moves = oneKnobMoves(space, best.config).filter((m) => !tried.has(space.key(m.config)));
  if (scope instanceof SearchSpace) return { measure: moves, skipped: [] };
  const accuracy = !!scope.toolchain?.accuracy;
  const model = cost ?? costModel(scope as StrategyContext, trials);
  const counted = trials.filter(countsTowardBudget);
  // The patience's price: what the trials the best stood through cost (at least one typical benchmark each), by their
  // steps' seconds only — measured in a live session, modeled in a replay —, never the record's wall time (durationMs):
  // in a replay that is the machine's load, not the recording's, and would make the plan depend on it.
  const premium = counted
    .slice(-patience)
    .reduce((a, t) => a + Math.max(stepSeconds(t), model.typicalBenchSeconds()), 0);
  const plan: ClosingPlan = { measure: [], skipped: [] };
  for (const m of moves) {
    const est = model.estimate(m.config);
    const n: Neighbour = { ...m, seconds: est.seconds, cost: est.text, newFile: est.newFile };
    if (!accuracy && buysOnlyAccuracy(space, m.knob, best.config[m.knob], m.value))
      plan.skipped.push({ ...n, why: 'buys accuracy only, which this session does not measure' });
    else if (est.newFile && est.seconds > premium)
      plan.skipped.push({
        ...n,
        why: `${est.text}, more than the ${patience} trials the best stood through (${fmtSeconds(premium)})`,
      });
    else plan.measure.push(n);
  }
  plan.measure.sort((a, b) => (a.seconds ?? 0) - (b.seconds ?? 0));
  return plan;
}

const move = (best: TrialRecord, n: Neighbour) => `${n.knob} ${knobValue(best.config[n.knob])} → ${knobValue(n.value)}`;

/**
 * The reason to stop now, or undefined to go on: the best stood through the patience (stoodBest) and, with the
 * search space, every configuration one knob away from it that could change the answer has been tried — the best is
 * a local optimum of what was measured, not just the last to lead.
 */
export function stopEarlyReason(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  patience = PATIENCE,
  scope?: StopScope,
): string | undefined {
  const best = stoodBest(o, trials, patience);
  if (!best) return undefined;
  const plan = scope ? closingPlan(scope, best, trials, patience) : undefined;
  if (plan?.measure.length) return undefined;
  const accuracyOnly = plan?.skipped.filter((s) => s.why.startsWith('buys accuracy')) ?? [];
  const dear = plan?.skipped.filter((s) => !accuracyOnly.includes(s)) ?? [];
  const left = [
    ...(dear.length
      ? [
          `${dear.length} left out that ${dear.length === 1 ? 'needs a new file' : 'need new files'} dearer than the ` +
            `patience (${dear.map((d) => `${move(best, d)}: ${d.cost}`).join('; ')})`,
        ]
      : []),
    ...(accuracyOnly.length
      ? [
          `${accuracyOnly.length} that only ${accuracyOnly.length === 1 ? 'buys' : 'buy'} accuracy, which is not measured`,
        ]
      : []),
  ];
  return (
    `stopped early: the best, #${best.index}, has not moved in the last ${patience} trials (each slower beyond noise, ` +
    'or one knob away and tied)' +
    (plan ? ', and every configuration one knob away from it is measured' : '') +
    (left.length ? `, but ${left.join(' and ')}` : '') +
    ' (--stop-early off runs the whole budget)'
  );
}
