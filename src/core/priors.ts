/**
 * Naive priors and the measurements that contradict them. A trial is counterintuitive when it and an earlier trial
 * differ in exactly one knob and the measured speed goes against what the prior predicts beyond noise, by the project's
 * one comparison rule (verdict.ts: Welch's t-test at 95 % and a 1 % margin). Every strategy gets these findings; the
 * LLM agent also explains them.
 */
import { quantType } from './ggml';
import type { Config, ConfigValue, Finding, SpeedMetric, Stat, TrialRecord } from './types';
import { compare } from './verdict';

export type { Finding, SpeedMetric } from './types';

interface Prior {
  id: string;
  knob: string;
  metrics: SpeedMetric[];
  /** Which of the two values the prior expects to be faster; undefined when it has no opinion on the pair. */
  faster(a: ConfigValue, b: ConfigValue): ConfigValue | undefined;
  /** The expectation in words, for the faster value f and the slower s. */
  expect(f: ConfigValue, s: ConfigValue): string;
  explanation(metric: SpeedMetric): string;
}

const num = (v: ConfigValue) => Number(v);
const byNumber = (more: boolean) => (a: ConfigValue, b: ConfigValue) =>
  num(a) === num(b) ? undefined : num(a) > num(b) === more ? a : b;

export const PRIORS: Prior[] = [
  {
    id: 'fewer-bits-faster',
    knob: 'quant',
    metrics: ['decode', 'prefill'],
    faster: (a, b) => {
      const qa = quantType(String(a))?.bpw;
      const qb = quantType(String(b))?.bpw;
      if (qa === undefined || qb === undefined || qa === qb) return undefined;
      return qa < qb ? a : b;
    },
    expect: (f, s) => `fewer bits per weight (${String(f)}) should run faster than ${String(s)}`,
    explanation: (m) =>
      m === 'decode'
        ? 'decode is only memory-bound while the weights dominate the traffic; on this model and hardware ' +
          'dequantizing the lower-bit blocks costs more compute than the bytes it saves'
        : 'prefill is compute-bound: F16/Q8_0 and the simple block formats use the fastest matrix kernels, ' +
          'lower-bit formats pay for dequantization in every tile',
  },
  {
    id: 'more-threads-faster',
    knob: 'threads',
    metrics: ['decode', 'prefill'],
    faster: byNumber(true),
    expect: (f, s) => `${String(f)} threads should run faster than ${String(s)}`,
    explanation: () =>
      'threads beyond the physical cores share the same memory bandwidth and caches, ' +
      'and every extra thread adds synchronisation per token',
  },
  {
    id: 'flash-attention-faster',
    knob: 'flash_attn',
    metrics: ['decode', 'prefill'],
    faster: (a, b) => (a === b ? undefined : a === true ? a : b),
    expect: () => 'flash attention on should run faster than off',
    explanation: () =>
      'the fused attention kernel pays off at long contexts; at this depth its setup costs about as much as the ' +
      "attention it replaces, and this backend's kernel may not be the tuned one",
  },
  ...(['cache_type_k', 'cache_type_v'] as const).map((knob): Prior => ({
    id: 'quantized-kv-faster',
    knob,
    metrics: ['decode'],
    faster: (a, b) => {
      const bits = (v: ConfigValue) => (({ f16: 16, q8_0: 8.5, q4_0: 4.5 }) as Record<string, number>)[String(v)] ?? 16;
      return bits(a) === bits(b) ? undefined : bits(a) < bits(b) ? a : b;
    },
    expect: (f, s) =>
      `a smaller ${knob === 'cache_type_k' ? 'K' : 'V'} cache (${String(f)}) should decode faster than ${String(s)}`,
    explanation: () =>
      'a quantized KV cache saves memory, but every attention step dequantizes it; ' +
      'at short contexts the KV traffic is small, so the extra compute dominates',
  })),
  {
    id: 'full-offload-faster',
    knob: 'gpu_layers',
    metrics: ['decode', 'prefill'],
    faster: byNumber(true),
    expect: (f, s) => `${String(f)} GPU layers should run faster than ${String(s)}`,
    explanation: () =>
      'layers split across CPU and GPU move activations over PCIe every token; ' +
      'for a small model the CPU path can be quicker than the transfers',
  },
];

/** True when `lo` is below `hi` by the project's one comparison rule (verdict.ts): beyond noise, by the margin. */
export function beyondNoise(lo: Stat, hi: Stat): boolean {
  return compare(hi, lo).order === 1;
}

function onlyDifference(a: Config, b: Config): string | undefined {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  let diff: string | undefined;
  for (const k of keys) {
    if (a[k] === b[k]) continue;
    if (diff !== undefined) return undefined;
    diff = k;
  }
  return diff;
}

const fmt = (s: Stat) => `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)}`;
const measured = (t: TrialRecord) => t.status === 'done' || t.status === 'infeasible';

/** The speeds an objective cares about: a decode objective is not surprised by prefill. */
export function objectiveMetrics(kind: 'decode' | 'prefill' | 'balanced'): SpeedMetric[] {
  return kind === 'balanced' ? ['decode', 'prefill'] : [kind];
}

/**
 * The priors that `trial` contradicts against earlier measured trials, on the given metrics (largest effects first,
 * at most `limit`).
 */
export function findingsFor(
  trial: TrialRecord,
  earlier: TrialRecord[],
  metrics: SpeedMetric[] = ['decode', 'prefill'],
  limit = 3,
): Finding[] {
  if (!measured(trial)) return [];
  const out: Finding[] = [];
  for (const o of earlier) {
    if (o.index === trial.index || !measured(o)) continue;
    const knob = onlyDifference(o.config, trial.config);
    if (!knob) continue;
    for (const p of PRIORS) {
      if (p.knob !== knob) continue;
      const f = p.faster(o.config[knob], trial.config[knob]);
      if (f === undefined) continue;
      const fastT = f === trial.config[knob] ? trial : o;
      const slowT = fastT === trial ? o : trial;
      for (const metric of p.metrics.filter((m) => metrics.includes(m))) {
        const fast = fastT.metrics[metric];
        const slow = slowT.metrics[metric];
        if (!fast || !slow || !beyondNoise(fast, slow)) continue;
        const before = o.metrics[metric]!;
        const after = trial.metrics[metric]!;
        const expected = p.expect(f, slowT.config[knob]);
        const won = String(slowT.config[knob]);
        const gainPct = ((slow.mean / fast.mean - 1) * 100).toFixed(0);
        const evidence =
          `${expected}, but ${metric} measured ${fmt(fast)} t/s with ${String(f)} (trial #${fastT.index}) vs ` +
          `${fmt(slow)} t/s with ${won} (trial #${slowT.index}): ${won} is ${gainPct} % faster, beyond noise`;
        out.push({
          prior: p.id,
          metric,
          against: o.index,
          knob,
          from: o.config[knob],
          to: trial.config[knob],
          change: after.mean / before.mean - 1,
          evidence,
          explanation: p.explanation(metric),
        });
      }
    }
  }
  return out.sort((a, b) => Math.abs(b.change) - Math.abs(a.change)).slice(0, limit);
}

/** Every finding of a session, each attached to the later trial of its pair. */
export function allFindings(
  trials: TrialRecord[],
  metrics: SpeedMetric[] = ['decode', 'prefill'],
): { trial: number; finding: Finding }[] {
  const out: { trial: number; finding: Finding }[] = [];
  trials.forEach((t, i) => {
    for (const f of findingsFor(t, trials.slice(0, i), metrics)) out.push({ trial: t.index, finding: f });
  });
  return out;
}
