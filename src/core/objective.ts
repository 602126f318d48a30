import type { TrialMetrics, TrialRecord } from './types';
import { feasible } from './verdict';

export type ObjectiveKind = 'decode' | 'prefill' | 'balanced';

export interface ObjectiveSpec {
  kind: ObjectiveKind;
  /** For `balanced`: the weight of decode in a weighted geometric mean of decode and prefill t/s (default 0.5). */
  decodeWeight?: number;
  maxSizeBytes?: number;
  /** Host and device memory together (the measured peak, and llama.cpp's projection before a trial). */
  maxMemBytes?: number;
  /** Memory on each GPU (the card you deploy to may be smaller than the one HAQA runs on). */
  maxVramBytes?: number;
  /** Accuracy limits: perplexity drift from the source model in %, mean KL divergence to it. */
  maxDeltaPplPct?: number;
  maxKld?: number;
}

/** True when the objective limits accuracy (so trials must measure it). */
export const needsAccuracy = (o: ObjectiveSpec) => o.maxDeltaPplPct !== undefined || o.maxKld !== undefined;

/**
 * Maximised score of a measurement: decode t/s, prefill t/s, or decode^w · prefill^(1-w). Undefined when
 * unmeasured.
 */
export function score(o: ObjectiveSpec, m: TrialMetrics): number | undefined {
  const d = m.decode?.mean;
  const p = m.prefill?.mean;
  switch (o.kind) {
    case 'decode':
      return d;
    case 'prefill':
      return p;
    case 'balanced': {
      if (d === undefined || p === undefined) return undefined;
      const w = o.decodeWeight ?? 0.5;
      return d ** w * p ** (1 - w);
    }
  }
}

export function describeObjective(o: ObjectiveSpec): string {
  const what =
    o.kind === 'balanced'
      ? `decode^${o.decodeWeight ?? 0.5} × prefill^${1 - (o.decodeWeight ?? 0.5)} (t/s)`
      : `${o.kind} t/s`;
  const lim: string[] = [];
  if (o.maxSizeBytes) lim.push(`file ≤ ${(o.maxSizeBytes / 2 ** 20).toFixed(0)} MiB`);
  if (o.maxMemBytes) lim.push(`memory ≤ ${(o.maxMemBytes / 2 ** 20).toFixed(0)} MiB`);
  if (o.maxVramBytes) lim.push(`memory ≤ ${(o.maxVramBytes / 2 ** 20).toFixed(0)} MiB per GPU`);
  if (o.maxDeltaPplPct !== undefined) lim.push(`ΔPPL ≤ ${o.maxDeltaPplPct} %`);
  if (o.maxKld !== undefined) lim.push(`mean KLD ≤ ${o.maxKld}`);
  return `maximise ${what}${lim.length ? ` subject to ${lim.join(', ')}` : ''}`;
}

/** Constraint violations of a measurement (empty = feasible). */
export function violations(o: ObjectiveSpec, m: TrialMetrics): string[] {
  const v: string[] = [];
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (o.maxSizeBytes !== undefined && m.fileSizeBytes !== undefined && m.fileSizeBytes > o.maxSizeBytes) {
    v.push(`file size ${mib(m.fileSizeBytes)} > max ${mib(o.maxSizeBytes)}`);
  }
  const mem = (m.peakHostMemBytes ?? 0) + (m.peakDeviceMemBytes ?? 0);
  if (o.maxMemBytes !== undefined && mem > o.maxMemBytes) v.push(`peak memory ${mib(mem)} > max ${mib(o.maxMemBytes)}`);
  // Per GPU: the GPU that took the most (older records hold only the sum over GPUs, an upper bound of it).
  const device = m.peakDeviceMemMaxBytes ?? m.peakDeviceMemBytes;
  if (o.maxVramBytes !== undefined && device !== undefined && device > o.maxVramBytes)
    v.push(`peak GPU memory ${mib(device)} > max ${mib(o.maxVramBytes)} per GPU`);
  const a = m.accuracy;
  if (needsAccuracy(o) && !a) v.push('accuracy was not measured (an accuracy limit is set)');
  if (a && o.maxDeltaPplPct !== undefined && a.dPplPct > o.maxDeltaPplPct)
    v.push(`ΔPPL ${a.dPplPct.toFixed(2)} % > max ${o.maxDeltaPplPct} %`);
  if (a && o.maxKld !== undefined && a.kld > o.maxKld) v.push(`mean KLD ${a.kld.toFixed(4)} > max ${o.maxKld}`);
  return v;
}

/**
 * The feasible trial with the highest objective mean: a strategy's incumbent. It is not the session's answer: that is
 * the verdict (verdict.ts), which calls a trial best only beyond noise and breaks ties by accuracy and size.
 */
export function leader(o: ObjectiveSpec, trials: TrialRecord[]): TrialRecord | undefined {
  let top: TrialRecord | undefined;
  let topScore = -Infinity;
  for (const t of feasible(trials)) {
    const s = score(o, t.metrics);
    if (s !== undefined && s > topScore) {
      top = t;
      topScore = s;
    }
  }
  return top;
}

export { feasible, paretoFront } from './verdict';
