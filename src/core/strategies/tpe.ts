import { score } from '../objective';
import type { Knob } from '../space';
import { countsTowardBudget, type Config, type TrialRecord } from '../types';
import { rng, type Rng } from './rng';
import { costWeight } from '../cost';
import { bestTrial } from '../verdict';
import { configDiff, describeChanges } from '../configDiff';
import {
  costModel,
  measuredKeys,
  randomUnmeasured,
  type Proposal,
  type Strategy,
  type StrategyContext,
} from './strategy';

export interface TpeOptions {
  /** Random trials before the model is used (only counting what this strategy sees in history). */
  startup: number;
  /** Fraction of observations that form the "good" group. */
  gamma: number;
  /** Candidates drawn from the good density per proposal. */
  candidates: number;
  /** Weight of the prior in each density (uniform, or shaped by the hardware-aware priors). */
  priorWeight: number;
  /** Shape the good density's prior by what the hardware and the trials so far say (priorShapes); else uniform. */
  hardwarePriors: boolean;
  /**
   * Rank candidates whose expected cost is dear (cost.ts; DEAR) by expected improvement per second, the cost weighing
   * less as the budget is spent; else by expected improvement alone.
   */
  costAware: boolean;
}

const DEFAULTS: TpeOptions = {
  startup: 5,
  gamma: 0.25,
  candidates: 48,
  priorWeight: 1,
  hardwarePriors: false,
  costAware: false,
};

/** A cost above this many typical benchmarks counts in the ranking (see propose). */
export const DEAR = 5;

/** The share of a shaped prior left spread over every value: nothing is ruled out. */
const FLOOR = 0.05;

/**
 * Where the model-based stage should look before it has evidence, per knob (weights over its values; undefined =
 * uniform): every layer on the GPU once a trial with every layer ran (partial offload only where memory requires it:
 * the boundaries llama.cpp's fit proposed), every expert on the GPU once that ran, and threads near the physical cores
 * (decode peaks there). A floor keeps every value possible.
 */
export function priorShapes(ctx: StrategyContext, history: TrialRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const shape = (k: Knob, weight: (v: unknown) => number) => {
    const w = k.values.map(weight);
    const total = w.reduce((a, b) => a + b, 0);
    if (!(total > 0)) return;
    out.set(
      k.name,
      w.map((x) => (1 - FLOOR) * (x / total) + FLOOR / k.values.length),
    );
  };
  const ran = history.filter((t) => t.status === 'done');
  const fitted = history.flatMap((t) => [
    ...(t.metrics.fitted ? [t.metrics.fitted] : []),
    ...(t.metrics.fittedSmallerKv ?? []),
  ]);
  const gl = ctx.space.knob('gpu_layers');
  if (gl) {
    const all = gl.values[gl.values.length - 1];
    const whole = ran.some((t) => t.config.gpu_layers === all);
    const bounds = new Set(fitted.map((f) => f.gpu_layers));
    if (whole || bounds.size) shape(gl, (v) => (v === all && whole ? 1 : 0) + (bounds.has(Number(v)) ? 1 : 0));
  }
  const moe = ctx.space.knob('n_cpu_moe');
  if (moe) {
    const none = ran.some((t) => t.config.n_cpu_moe === 0 && t.config.gpu_layers === gl?.values[gl.values.length - 1]);
    const bounds = new Set(fitted.map((f) => f.n_cpu_moe ?? 0));
    if (none || bounds.size) shape(moe, (v) => (v === 0 && none ? 1 : 0) + (bounds.has(Number(v)) ? 1 : 0));
  }
  const th = ctx.space.knob('threads');
  const cores = ctx.hardware.cpu.cores;
  if (th && cores > 0) shape(th, (v) => Math.exp(-2 * Math.log2(Number(v) / cores) ** 2));
  return out;
}

/**
 * Probability over a knob's values from observed values: a Gaussian over positions for ordinal knobs, a sharp
 * categorical otherwise.
 */
function density(k: Knob, observed: unknown[], priorWeight: number, prior?: number[]): number[] {
  const m = k.values.length;
  const p = k.values.map((_, i) => priorWeight * (prior ? prior[i] : 1 / m));
  for (const x of observed) {
    const j = k.values.indexOf(x as never);
    if (j < 0) continue;
    if (m === 1) {
      p[0] += 1;
      continue;
    }
    let w: number[];
    if (k.ordinal) {
      w = k.values.map((_, i) => Math.exp(-0.5 * (i - j) ** 2));
    } else {
      w = k.values.map((_, i) => (i === j ? 0.8 : 0.2 / (m - 1)));
    }
    const s = w.reduce((a, b) => a + b, 0);
    w.forEach((v, i) => {
      p[i] += v / s;
    });
  }
  const total = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / total);
}

function sample(r: Rng, probs: number[]): number {
  let u = r();
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i];
    if (u <= 0) return i;
  }
  return probs.length - 1;
}

/**
 * Tree-structured Parzen Estimator over discrete knobs: split the observations into good (top γ by score) and bad
 * (the rest, failures and infeasible trials included), draw candidates from the good density and keep those with
 * the highest l(x)/g(x). Seeded per step, so the same history always gives the same proposal.
 */
export class TpeStrategy implements Strategy {
  readonly name = 'tpe';
  private readonly o: TpeOptions;

  constructor(opts: Partial<TpeOptions> = {}) {
    this.o = { ...DEFAULTS, ...opts };
  }

  async propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    const r = rng(ctx.seed, 'tpe', history.length);
    const { space } = ctx;
    const done = measuredKeys(space, history);
    const observed = history.filter(countsTowardBudget);
    const out: Proposal[] = [];
    const picked = new Set<string>();
    if (observed.length < this.o.startup) {
      for (let i = 0; i < n; i++) {
        const c = randomUnmeasured(space, done, r, picked);
        if (!c) break;
        picked.add(space.key(c));
        out.push({
          config: c,
          rationale: `TPE start-up: random sample ${observed.length + i + 1} of ${this.o.startup}`,
        });
      }
      return out;
    }
    const scored = observed.map((t) => ({ t, s: t.status === 'done' ? score(ctx.objective, t.metrics) : undefined }));
    const ok = scored.filter((x): x is { t: TrialRecord; s: number } => x.s !== undefined).sort((a, b) => b.s - a.s);
    const nGood = Math.max(1, Math.ceil(this.o.gamma * observed.length));
    const good = ok.slice(0, nGood).map((x) => x.t);
    const goodSet = new Set(good);
    const bad = observed.filter((t) => !goodSet.has(t));
    const shapes = this.o.hardwarePriors ? priorShapes(ctx, history) : new Map<string, number[]>();
    const l = space.knobs.map((k) =>
      density(
        k,
        good.map((t) => t.config[k.name]),
        this.o.priorWeight,
        shapes.get(k.name),
      ),
    );
    const g = space.knobs.map((k) =>
      density(
        k,
        bad.map((t) => t.config[k.name]),
        this.o.priorWeight,
      ),
    );

    const cost = costModel(ctx, history);
    const alpha = costWeight(observed.length, ctx.budget);
    const typical = cost.typicalBenchSeconds();
    // What a choice is charged: what it must make (a file, a matrix, an accuracy run) plus a typical benchmark. Its own
    // predicted benchmark is left out: a faster configuration benchmarks faster, so charging it would steer the search
    // toward what is fast on the other metric, not toward what is cheap to learn.
    const charged = (c: Config) => {
      const est = cost.estimate(c);
      return est.seconds - (est.parts.find((p) => p.step === 'bench')?.seconds ?? 0) + typical;
    };
    // TPE ranks by l/g (its expected improvement grows with it); each proposal says what it costs. Cost-aware (an
    // option, off in builtin): a candidate whose cost is dear — more than DEAR typical benchmarks, a new file of a
    // large model — is ranked by l/g per cost^α above that, α cooling to 0 as the budget runs out. Off because on the
    // recorded grids it did not pay: l/g is no calibrated gain, and on the CPU grids, whose optimum lies in a file the
    // first design has not made, every weighting tried took more trials and, for prefill, twice the modeled time to a
    // verdict within noise of the optimum (BENCHMARKS.md, "What a trial costs").
    const cands: { c: Config; ei: number; acq: number }[] = [];
    const seen = new Set<string>();
    for (let tries = 0; cands.length < this.o.candidates && tries < this.o.candidates * 30; tries++) {
      const c: Config = {};
      let ei = 0;
      space.knobs.forEach((k, i) => {
        const j = sample(r, l[i]);
        c[k.name] = k.values[j];
        ei += Math.log(l[i][j]) - Math.log(g[i][j]);
      });
      const key = space.key(c);
      if (seen.has(key) || done.has(key) || !space.isValid(c)) continue;
      seen.add(key);
      cands.push({
        c,
        ei,
        acq: this.o.costAware ? ei - alpha * Math.log(Math.max(1, charged(c) / (DEAR * typical))) : ei,
      });
    }
    cands.sort((a, b) => b.acq - a.acq);
    // "The best so far" as the verdict says it (the comparison rule), not the highest mean.
    const top = bestTrial(ctx.objective, history);
    for (const { c, ei } of cands.slice(0, n)) {
      picked.add(space.key(c));
      const est = cost.estimate(c);
      const changes = top
        ? describeChanges(
            configDiff(
              top.config,
              c,
              space.knobs.map((k) => k.name),
            ),
          )
        : '';
      const near = top ? `${changes} from the best so far, #${top.index}` : 'a new region';
      const why = this.o.costAware
        ? `the most promising of ${cands.length} candidates per second it costs (${est.text})`
        : `the most promising of ${cands.length} candidates (${est.text})`;
      out.push({
        config: c,
        rationale: `TPE: ${near}; drawn near the top ${good.length} trials, ${why}; log l/g = ${ei.toFixed(2)}`,
      });
    }
    while (out.length < n) {
      const c = randomUnmeasured(space, done, r, picked);
      if (!c) break;
      picked.add(space.key(c));
      out.push({ config: c, rationale: 'TPE: no unmeasured candidate near the good trials; random sample' });
    }
    return out;
  }
}
