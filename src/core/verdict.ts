/**
 * The project's one comparison rule, and the verdict built on it. Two measurements differ on a metric only when
 * Welch's t-test separates them at the stated confidence (two-sided, 95 % by default) *and* the difference is at
 * least a practical margin (1 % by default). Everything that says "faster", "best" or "counterintuitive" asks this
 * module: the session's verdict, the Pareto marks, the findings against naive priors.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { TOOL_DEFAULTS } from './knobs';
import type { ObjectiveSpec } from './objective';
import type { Config, Stat, TrialMetrics, TrialRecord } from './types';

export interface ComparisonRule {
  /** Confidence of the two-sided test (0.95: a 5 % chance of calling noise a difference). */
  confidence: number;
  /** Smallest relative difference that counts (0.01 = 1 %), however certain the test. */
  margin: number;
}

export const DEFAULT_RULE: ComparisonRule = { confidence: 0.95, margin: 0.01 };

/** How the rule is named in a verdict and in the agent's prompt. */
export const describeRule = (r: ComparisonRule = DEFAULT_RULE) =>
  `Welch's t-test at ${Math.round(r.confidence * 100)} % and a margin of ${+(r.margin * 100).toFixed(2)} %`;

interface Moments {
  mean: number;
  variance: number;
  n: number;
}

/** A measurement made of its per-repetition figures: mean, sample sd (n − 1), n and the samples themselves. */
export function statOfSamples(samples: number[]): Stat {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const sd = Math.sqrt(samples.reduce((a, x) => a + (x - mean) ** 2, 0) / (samples.length - 1));
  return { mean, sd, n: samples.length, samples };
}

/** Mean, variance and count of a measurement: from its samples when it kept them, else from mean ± sd (n). */
function moments(s: Stat): Moments {
  const xs = s.samples?.filter((x) => Number.isFinite(x)) ?? [];
  const m = xs.length >= 2 ? statOfSamples(xs) : s;
  return { mean: m.mean, variance: m.sd ** 2, n: m.n };
}

export interface Comparison {
  /** 1: a is faster, -1: b is faster, 0: not separated (tied). */
  order: 1 | -1 | 0;
  /** a's mean over b's. */
  ratio: number;
  /** Welch's t, its degrees of freedom and the critical value at the rule's confidence (NaN when untestable). */
  t: number;
  df: number;
  critical: number;
}

/**
 * Compares two measurements of the same metric (higher is better) by the rule. A measurement with fewer than two
 * repetitions has no variance: it is never separated from anything (tied), unless both are exact (sd 0, n ≥ 2).
 */
export function compare(a: Stat, b: Stat, rule: ComparisonRule = DEFAULT_RULE): Comparison {
  const x = moments(a);
  const y = moments(b);
  const ratio = y.mean > 0 ? x.mean / y.mean : x.mean > 0 ? Infinity : 1;
  const practical = Math.abs(ratio - 1) >= rule.margin;
  const tied = (t = NaN, df = NaN, critical = NaN): Comparison => ({ order: 0, ratio, t, df, critical });
  if (x.n < 2 || y.n < 2) return tied();
  const vx = x.variance / x.n;
  const vy = y.variance / y.n;
  const se = Math.sqrt(vx + vy);
  const sign: 1 | -1 = x.mean >= y.mean ? 1 : -1;
  if (se === 0)
    return practical && x.mean !== y.mean ? { order: sign, ratio, t: Infinity, df: NaN, critical: 0 } : tied();
  const t = (x.mean - y.mean) / se;
  // Welch–Satterthwaite degrees of freedom.
  const df = (vx + vy) ** 2 / (vx ** 2 / (x.n - 1) + vy ** 2 / (y.n - 1));
  const critical = tQuantile(1 - (1 - rule.confidence) / 2, df);
  return Math.abs(t) > critical && practical ? { order: sign, ratio, t, df, critical } : tied(t, df, critical);
}

/** Trials that can be chosen: measured and within every constraint. */
export function feasible(trials: TrialRecord[]): TrialRecord[] {
  return trials.filter((t) => t.status === 'done');
}

/** True when `a` is faster than `b` by the rule. */
export const faster = (a: Stat, b: Stat, rule?: ComparisonRule) => compare(a, b, rule).order === 1;

/**
 * The objective's measurement of a trial as one statistic: decode or prefill as measured; for `balanced`,
 * decode^w · prefill^(1−w) with its spread carried by the delta method (relative variances add, weighted).
 */
export function objectiveStat(o: ObjectiveSpec, m: TrialMetrics): Stat | undefined {
  if (o.kind === 'decode') return m.decode;
  if (o.kind === 'prefill') return m.prefill;
  const d = m.decode;
  const p = m.prefill;
  if (!d || !p || d.mean <= 0 || p.mean <= 0) return undefined;
  const w = o.decodeWeight ?? 0.5;
  const mean = d.mean ** w * p.mean ** (1 - w);
  const dm = moments(d);
  const pm = moments(p);
  const rel = w ** 2 * (dm.variance / dm.mean ** 2) + (1 - w) ** 2 * (pm.variance / pm.mean ** 2);
  return { mean, sd: mean * Math.sqrt(rel), n: Math.min(dm.n, pm.n) };
}

/**
 * How much slower than the leader a trial may plausibly be (the upper end of the rule's confidence interval on the
 * leader's lead) and still count as tied with it. Not separated is not enough: three noisy repetitions separate
 * almost nothing, and choosing the smallest or most accurate of such "ties" would trade speed the user never agreed
 * to. A trial not separated from the leader but not shown within this bound either is *unresolved*.
 */
export const TIE_WITHIN = 0.05;
/** Peak memories within this share of the least among tied trials break no tie (see verdict). */
export const MEMORY_TIE = 0.05;

/**
 * The most `b` may plausibly be slower than `a` (a the faster by mean), relative to a's mean: the upper end of the
 * two-sided confidence interval of a − b at the rule's confidence. Infinity when either has fewer than two
 * repetitions (no interval).
 */
export function plausibleShortfall(a: Stat, b: Stat, rule: ComparisonRule = DEFAULT_RULE): number {
  const x = moments(a);
  const y = moments(b);
  if (x.n < 2 || y.n < 2 || !(x.mean > 0)) return Infinity;
  const vx = x.variance / x.n;
  const vy = y.variance / y.n;
  const se = Math.sqrt(vx + vy);
  if (se === 0) return (x.mean - y.mean) / x.mean;
  const df = (vx + vy) ** 2 / (vx ** 2 / (x.n - 1) + vy ** 2 / (y.n - 1));
  return (x.mean - y.mean + tQuantile(1 - (1 - rule.confidence) / 2, df) * se) / x.mean;
}

/** A trial as a verdict's reason names it: `#index quant`. */
export const trialLabel = (t: TrialRecord): string => `#${t.index} ${String(t.config.quant ?? '')}`.trim();

export interface Verdict {
  /** The trial to deploy, or undefined when no trial is feasible. */
  best?: number;
  /**
   * Trials tied with the chosen one — none beats them by the rule and each is shown within `tieWithin` of the leader
   * — in the order of the tie-break.
   */
  tied: number[];
  /**
   * Trials no other beats by the rule but not shown within `tieWithin` of the leader either (too noisy to tell): not
   * chosen by the tie-break; confirmation measures them again.
   */
  unresolved: number[];
  /** The bound a tie must be shown within (TIE_WITHIN). */
  tieWithin: number;
  /** The rule, in words. */
  method: string;
  margin: number;
  /** Confirmation runs that went into the verdict (repeated measurements of the leaders). */
  confirmations: number;
  /** One sentence: who won and why, or who tied and how the tie was broken. */
  reason: string;
}

export interface VerdictOptions {
  rule?: ComparisonRule;
  /** Defaults: among tied trials, fewer changes from them wins (after accuracy and size); llama.cpp's by default. */
  defaults?: Config;
  /** A short label per trial for the reason (default: `#index quant`). */
  label?: (t: TrialRecord) => string;
  confirmations?: number;
  /** The bound a tie must be shown within (default TIE_WITHIN). */
  tieWithin?: number;
}

const changes = (c: Config, d?: Config) =>
  d ? Object.keys(d).filter((k) => c[k] !== undefined && c[k] !== d[k]).length : 0;

/**
 * The session's answer. The leader is the feasible trial with the highest objective; tied with it is every feasible
 * trial that no other feasible trial beats by the rule and that is shown at most `tieWithin` slower than the leader
 * (plausibleShortfall). Among the tied (leader included) the most accurate wins (lower mean KLD, else lower ΔPPL), then
 * the smaller file, then the smaller peak memory (by more than MEMORY_TIE), then fewer changes from the defaults, then the earlier trial.
 * Trials not beaten but too noisy to be shown within the bound are `unresolved`: named, never chosen over the leader.
 */
export function verdict(o: ObjectiveSpec, trials: TrialRecord[], opts: VerdictOptions = {}): Verdict {
  const rule = opts.rule ?? DEFAULT_RULE;
  const label = opts.label ?? trialLabel;
  const pooledRuns = trials.reduce((n, t) => n + (t.confirmedRuns ?? 0), 0);
  const base = {
    method: describeRule(rule),
    margin: rule.margin,
    tieWithin: opts.tieWithin ?? TIE_WITHIN,
    confirmations: opts.confirmations ?? pooledRuns,
  };
  const scored = feasible(trials)
    .map((t) => ({ t, s: objectiveStat(o, t.metrics) }))
    .filter((x): x is { t: TrialRecord; s: Stat } => x.s !== undefined && Number.isFinite(x.s.mean));
  if (!scored.length) return { ...base, tied: [], unresolved: [], reason: 'no feasible trial' };
  const leader = scored.reduce((a, b) => (b.s.mean > a.s.mean ? b : a));
  // In contention: every trial that no other feasible trial beats by the rule (the leader always is). Measuring against
  // the leader alone would let a noisy leader pull in a trial that a steadier one beats beyond noise. The members are
  // pairwise unseparated: if one beat another, the other would be out.
  const contention = scored.filter((x) => !scored.some((y) => y !== x && compare(y.s, x.s, rule).order === 1));
  // Tied: in contention *and* shown to be at most `tieWithin` slower than the leader. The rest of the contention set is
  // unresolved: the tie-break never trades the leader for a trial whose figure could be far below it.
  const tieWithin = opts.tieWithin ?? TIE_WITHIN;
  const group = contention.filter((x) => x === leader || plausibleShortfall(leader.s, x.s, rule) <= tieWithin);
  const unresolved = contention.filter((x) => !group.includes(x)).sort((a, b) => b.s.mean - a.s.mean);
  const acc = (t: TrialRecord) => t.metrics.accuracy;
  // Peak memory is one reading per trial, with no noise estimate: two within MEMORY_TIE of the group's least count as
  // the same, or a few MiB of compute buffer (a smaller micro-batch) would walk the answer away from llama.cpp's
  // defaults one tie at a time (a 7B on an H200: 5671 vs 5717 MiB, −0.8 %).
  const mem = (x: { t: TrialRecord }) => (x.t.metrics.peakHostMemBytes ?? 0) + (x.t.metrics.peakDeviceMemBytes ?? 0);
  const leastMem = Math.min(...group.map(mem));
  const memKey = (x: { t: TrialRecord }) => (mem(x) <= leastMem * (1 + MEMORY_TIE) ? 0 : mem(x));
  const allKld = group.every((x) => acc(x.t)?.kld !== undefined);
  const allDppl = group.every((x) => acc(x.t)?.dPplPct !== undefined);
  const key = (x: { t: TrialRecord }): number[] => [
    allKld ? acc(x.t)!.kld : allDppl ? acc(x.t)!.dPplPct : 0,
    x.t.metrics.fileSizeBytes ?? Infinity,
    memKey(x),
    changes(x.t.config, opts.defaults ?? TOOL_DEFAULTS),
    x.t.index,
  ];
  const byKey = (a: number[], b: number[]) => a.reduce((r, v, i) => r || v - b[i], 0);
  const ordered = [...group].sort((a, b) => byKey(key(a), key(b)));
  const chosen = ordered[0];
  const what = o.kind === 'balanced' ? 'score' : o.kind;
  const names = (xs: { t: TrialRecord }[]) => {
    const n = xs.map((x) => label(x.t));
    return n.length <= 2 ? n.join(' and ') : `${n.slice(0, -1).join(', ')} and ${n[n.length - 1]}`;
  };
  const open = unresolved.length
    ? `; ${names(unresolved)} ${unresolved.length === 1 ? 'is' : 'are'} not separated from it by the rule, but not ` +
      `shown within ${+(tieWithin * 100).toFixed(1)} % of it either (too noisy to tell: measure again)`
    : '';
  const unresolvedIdx = unresolved.map((x) => x.t.index);
  if (group.length === 1) {
    if (unresolved.length)
      return {
        ...base,
        best: chosen.t.index,
        tied: [],
        unresolved: unresolvedIdx,
        reason: `${label(chosen.t)} has the highest ${what}${open}`,
      };
    const second = scored
      .filter((x) => x !== leader)
      .reduce<typeof leader | undefined>((a, b) => (!a || b.s.mean > a.s.mean ? b : a), undefined);
    const by = second
      ? `, ${((leader.s.mean / second.s.mean - 1) * 100).toFixed(1)} % ahead of ${label(second.t)}`
      : '';
    return {
      ...base,
      best: chosen.t.index,
      tied: [],
      unresolved: [],
      reason: `${label(chosen.t)} has the highest ${what}${by}, beyond noise`,
    };
  }
  const means = group.map((x) => x.s.mean);
  const spread = ((Math.max(...means) - Math.min(...means)) / leader.s.mean) * 100;
  const list = names(ordered);
  const [k0, k1] = [key(ordered[0]), key(ordered[1])];
  const why =
    k0[0] !== k1[0] && (allKld || allDppl)
      ? 'most accurate of the tied'
      : k0[1] !== k1[1]
        ? 'smallest file of the tied'
        : k0[2] !== k1[2]
          ? 'least memory of the tied'
          : k0[3] !== k1[3]
            ? 'fewest changes from the defaults of the tied'
            : 'the earliest of the tied';
  return {
    ...base,
    best: chosen.t.index,
    tied: ordered.slice(1).map((x) => x.t.index),
    unresolved: unresolvedIdx,
    reason: `${list} ${what} within noise of each other (±${(spread / 2).toFixed(1)} %); ${label(chosen.t)} chosen: ${why}${open}`,
  };
}

/** The verdict on the trials and the trial it chose (undefined when none is feasible). */
export function judge(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  opts?: VerdictOptions,
): { verdict: Verdict; best?: TrialRecord } {
  const v = verdict(o, trials, opts);
  return { verdict: v, best: v.best === undefined ? undefined : trials.find((t) => t.index === v.best) };
}

/** The trial the verdict chose (see `verdict`), or undefined when none is feasible. */
export function bestTrial(o: ObjectiveSpec, trials: TrialRecord[], opts?: VerdictOptions): TrialRecord | undefined {
  return judge(o, trials, opts).best;
}

/**
 * Pareto front among feasible trials over speed ↑ (by the rule: a trial is only slower when the rule separates it),
 * file size ↓ and, where every one of them measured accuracy, mean KL divergence ↓. A trial is dropped when another
 * is not slower, not larger, not less accurate, and better in one of them.
 */
export function paretoFront(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  rule: ComparisonRule = DEFAULT_RULE,
): TrialRecord[] {
  const pts = feasible(trials)
    .map((t) => ({
      t,
      s: objectiveStat(o, t.metrics),
      size: t.metrics.fileSizeBytes ?? Infinity,
      kld: t.metrics.accuracy?.kld,
    }))
    .filter((p): p is typeof p & { s: Stat } => p.s !== undefined);
  const withAcc = pts.length > 0 && pts.every((p) => p.kld !== undefined);
  // b is at least as fast as a when it is faster by the rule, or tied with it as the verdict means it: not separated
  // *and* shown within TIE_WITHIN. Not separated alone is not enough: a noisy smaller trial would push the verdict's
  // own choice off the front.
  const dominates = (b: (typeof pts)[number], a: (typeof pts)[number]) => {
    const speed = compare(b.s, a.s, rule).order;
    // (Single repetitions cannot be shown within anything: their means decide.)
    const shortfall = plausibleShortfall(a.s, b.s, rule);
    const asFast =
      speed === 1 || (speed === 0 && (Number.isFinite(shortfall) ? shortfall <= TIE_WITHIN : b.s.mean >= a.s.mean));
    const kb = withAcc ? b.kld! : 0;
    const ka = withAcc ? a.kld! : 0;
    return asFast && b.size <= a.size && kb <= ka && (speed === 1 || b.size < a.size || kb < ka);
  };
  return pts.filter((a) => !pts.some((b) => b !== a && dominates(b, a))).map((p) => p.t);
}
