/**
 * Where one trial stands against the session's verdict (verdict.ts), in words: the verdict itself, tied with it
 * within noise, beaten beyond noise (and by whom), over a limit, or not measured. The accept flow says it when a
 * trial is accepted; the status bar names the verdict and its tie in a few characters.
 */
import {
  compare,
  DEFAULT_RULE,
  feasible,
  objectiveStat,
  trialLabel,
  type ComparisonRule,
  type Verdict,
} from './verdict';

export { trialLabel };
import type { ObjectiveSpec } from './objective';
import type { Stat, TrialRecord } from './types';

export type StandingKind = 'verdict' | 'tied' | 'unresolved' | 'beaten' | 'infeasible' | 'unmeasured';

export interface Standing {
  kind: StandingKind;
  /** One sentence, e.g. "#4 Q8_0 is not the verdict: #2 Q4_K_M decodes 26.3 % faster, beyond noise". */
  sentence: string;
}

/** "decodes 12.0 % faster", "prefills …", or for the balanced objective "scores 12.0 % higher". */
function ahead(o: ObjectiveSpec, ratio: number): string {
  const pct = `${((ratio - 1) * 100).toFixed(1)} %`;
  return o.kind === 'balanced' ? `scores ${pct} higher` : `${o.kind}s ${pct} faster`;
}

/**
 * How trial #index stands against the verdict `v` (taken on the same trials and rule). A beaten trial names the trial
 * that beats it beyond noise: the verdict's when it does, else the fastest one that does (the verdict was then chosen
 * among trials tied with that one).
 */
export function standing(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  v: Verdict,
  index: number,
  rule: ComparisonRule = DEFAULT_RULE,
): Standing {
  const t = trials.find((x) => x.index === index);
  const best = v.best === undefined ? undefined : trials.find((x) => x.index === v.best);
  const label = t ? trialLabel(t) : `#${index}`;
  const theVerdict = best ? `the verdict is ${trialLabel(best)}` : `no trial is the verdict (${v.reason})`;
  if (t && best && t.index === best.index) return { kind: 'verdict', sentence: `${label} is the verdict: ${v.reason}` };
  if (t && best && v.tied.includes(t.index))
    return {
      kind: 'tied',
      sentence: `${label} is tied with the verdict ${trialLabel(best)} (within noise); verdict: ${v.reason}`,
    };
  if (t && best && v.unresolved.includes(t.index))
    return {
      kind: 'unresolved',
      sentence:
        `${label} is not the verdict: the rule cannot separate it from ${trialLabel(best)}, nor show it within ` +
        `${+(v.tieWithin * 100).toFixed(1)} % of it (too noisy to tell: Re-run it to measure again); verdict: ${v.reason}`,
    };
  if (!t || (t.status !== 'done' && t.status !== 'infeasible'))
    return { kind: 'unmeasured', sentence: `${label} is not the verdict: it was not measured; ${theVerdict}` };
  if (t.status === 'infeasible')
    return {
      kind: 'infeasible',
      sentence: `${label} is not the verdict: it is over the session's limits${t.cause ? ` (${t.cause})` : ''}; ${theVerdict}`,
    };
  const mine = objectiveStat(o, t.metrics);
  const what = o.kind === 'balanced' ? 'score' : o.kind;
  if (!mine) return { kind: 'unmeasured', sentence: `${label} is not the verdict: it has no ${what}; ${theVerdict}` };
  const rivals = feasible(trials)
    .filter((x) => x.index !== t.index)
    .map((x) => ({ x, s: objectiveStat(o, x.metrics) }))
    .filter((r): r is { x: TrialRecord; s: Stat } => r.s !== undefined && compare(r.s, mine, rule).order === 1)
    .sort((a, b) => (a.x.index === v.best ? -1 : b.x.index === v.best ? 1 : b.s.mean - a.s.mean));
  const by = rivals[0];
  if (!by) return { kind: 'beaten', sentence: `${label} is not the verdict: ${theVerdict}` };
  const rest = by.x.index === v.best ? '' : `; ${theVerdict}`;
  return {
    kind: 'beaten',
    sentence: `${label} is not the verdict: ${trialLabel(by.x)} ${ahead(o, by.s.mean / mine.mean)}, beyond noise${rest}`,
  };
}

/**
 * The verdict in a few characters, e.g. "★ #2 Q4_K_M 101.0 t/s (≈ #3, #1)": the chosen trial, what `detail` says of it,
 * and the trials tied with it (the first `max`, then "+N"); "no feasible trial" when there is none.
 */
export function verdictBadge(
  v: Verdict,
  trials: TrialRecord[],
  detail: (t: TrialRecord) => string = () => '',
  max = 3,
): string {
  const best = v.best === undefined ? undefined : trials.find((t) => t.index === v.best);
  if (!best) return 'no feasible trial';
  const shown = v.tied.slice(0, max).map((i) => `#${i}`);
  const more = v.tied.length > max ? ` +${v.tied.length - max}` : '';
  const what = detail(best);
  return `★ ${trialLabel(best)}${what ? ` ${what}` : ''}${shown.length ? ` (≈ ${shown.join(', ')}${more})` : ''}`;
}
