/**
 * What a trial will cost before it runs, in seconds, from what this session measured so far: a configuration whose
 * model file is already made (or cached on disk) costs only its benchmark; a new quantization recipe costs
 * llama-quantize first, an importance matrix llama-imatrix once, and with accuracy on, a new (recipe, KV cache) pair
 * one llama-perplexity run. Strategies divide what they expect from a configuration by this, so runtime knobs on
 * existing files come before new recipes when that is cheaper for the same expected gain (issue 16).
 */
import { ALL_LAYERS, quantRecipe, usesSourceAsIs } from './knobs';
import { fmtSeconds } from './format';
import type { Config, TrialRecord } from './types';

/**
 * Relative work of llama-quantize per source byte, by target type (Q4_0 = 1). Measured once on this project's CI
 * machine (2 cores, a 1.1 GB F16 Llama, llama.cpp 80fb11a; BENCHMARKS.md "What a trial costs"): the legacy types only
 * round, the K-types search their scales per block, IQ4_XS searches a grid of them. F16 is not measured (a copy).
 */
export const QUANTIZE_WORK: Record<string, number> = {
  F16: 0.5,
  Q8_0: 1,
  Q6_K: 2.1,
  Q5_K_M: 2.6,
  Q5_K_S: 4,
  Q4_K_M: 3.4,
  Q4_K_S: 3.7,
  IQ4_XS: 28,
  Q4_0: 1,
  Q3_K_M: 5.5,
  Q3_K_S: 2.2,
  Q2_K: 4.8,
};

/**
 * Source bytes llama-quantize turns into Q4_0 or Q8_0 per second and per core before anything was measured (the same
 * measurement: 1.1 GB in about 9 s on 2 cores; on the H200 machine's 16 cores, a 13.5 GB 7B took 19 s at best, about
 * 44 MB/s per core). Only the first new file of a session, and a replay's modeled ones, are priced by it.
 */
export const PRIOR_BYTES_PER_CORE_SECOND = 55e6;

/** llama-quantize's seconds by the prior rate: a source of `sourceBytes` into `quant` on `cores` cores. */
export const priorQuantizeSeconds = (sourceBytes: number, cores: number, quant: unknown): number =>
  (sourceBytes / (PRIOR_BYTES_PER_CORE_SECOND * Math.max(1, cores))) * work(quant);
/** A benchmark's seconds before any was measured (also the session estimate's, estimate.ts). */
export const PRIOR_BENCH_SECONDS = 10;

/** The seconds a trial's steps took, the cached ones (nothing run) left out; a replay's are modeled. */
export const stepSeconds = (t: Pick<TrialRecord, 'steps'>): number =>
  (t.steps ?? []).reduce((a, s) => a + (s.cached ? 0 : s.seconds), 0);

/** The model file a configuration needs, as a key: the same key, the same artifact. */
export const recipeKey = (c: Config): string => JSON.stringify(quantRecipe(c));
const imatrixKey = (c: Config): string | undefined =>
  c.imatrix !== undefined && c.imatrix !== 'none' ? `${String(c.imatrix)}/${String(c.imatrix_chunks)}` : undefined;
/** Accuracy is measured once per file and KV cache types (runtime knobs reuse it). */
const accuracyKey = (c: Config): string =>
  `${recipeKey(c)}|${String(c.cache_type_k ?? 'f16')}|${String(c.cache_type_v ?? 'f16')}`;

export interface TrialCost {
  /** Expected seconds, every part together. */
  seconds: number;
  /** The parts, e.g. [{ step: 'quantize', seconds: 40 }, { step: 'bench', seconds: 3 }]. */
  parts: { step: string; seconds: number }[];
  /** True when the trial needs a model file not made yet. */
  newFile: boolean;
  /** One phrase, e.g. "reuses the Q4_0 file: about 3 s" or "a new Q6_K file: about 45 s". */
  text: string;
}

export interface CostOptions {
  /** Bytes of the source model (all shards). */
  sourceBytes: number;
  /** The machine's physical cores (llama-quantize uses them all). */
  cores: number;
  /** Whether trials measure accuracy. */
  accuracy: boolean;
  /** Recipe keys whose file exists already (the artifact cache, from earlier sessions). */
  cached?: Set<string>;
  /** The source's own type (F16, BF16, …): a plain recipe of it is the source file itself, nothing to make. */
  sourceType?: string;
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const work = (quant: unknown) => QUANTIZE_WORK[String(quant)] ?? 2;

/** Knobs that decide where the weights run, and so how long a benchmark takes, most telling first. */
const PLACEMENT: [string, number][] = [
  ['gpu_layers', 8],
  ['n_cpu_moe', 8],
  ['quant', 4],
  ['threads', 2],
  ['flash_attn', 1],
  ['cache_type_k', 1],
  ['ubatch', 1],
];

export class CostModel {
  private readonly made = new Set<string>();
  private readonly imatrices = new Set<string>();
  private readonly measuredAccuracy = new Set<string>();
  private readonly quantizeRate?: number;
  private readonly imatrixSeconds?: number;
  private readonly accuracySeconds?: number;
  private readonly baseSeconds?: number;
  private readonly fitSeconds: number;
  private readonly benches: { config: Config; seconds: number }[] = [];
  private readonly quantizes: number[] = [];

  constructor(
    history: TrialRecord[],
    private readonly o: CostOptions,
  ) {
    for (const k of o.cached ?? []) this.made.add(k);
    const rates: number[] = [];
    const imatrix: number[] = [];
    const accuracy: number[] = [];
    const base: number[] = [];
    const fit: number[] = [];
    for (const t of history) {
      const steps = t.steps ?? [];
      const step = (name: string) => steps.find((s) => s.name === name);
      const q = step('quantize');
      if (q) {
        this.made.add(recipeKey(t.config));
        if (!q.cached && q.seconds > 0) {
          rates.push(q.seconds / work(t.config.quant));
          this.quantizes.push(q.seconds);
        }
      }
      const im = step('imatrix');
      const ik = imatrixKey(t.config);
      if (im && ik) {
        this.imatrices.add(ik);
        if (!im.cached && im.seconds > 0) imatrix.push(im.seconds);
      }
      const a = step('accuracy');
      if (a) {
        this.measuredAccuracy.add(accuracyKey(t.config));
        if (!a.cached && a.seconds > 0) accuracy.push(a.seconds);
      }
      const b = step('accuracy-base');
      if (b && b.seconds > 0) base.push(b.seconds);
      for (const s of steps) if ((s.name === 'fit' || s.name === 'fit-choice') && s.seconds > 0) fit.push(s.seconds);
      const bench = step('bench');
      if (bench && t.status === 'done') this.benches.push({ config: t.config, seconds: bench.seconds });
    }
    this.quantizeRate = median(rates);
    this.imatrixSeconds = median(imatrix);
    this.accuracySeconds = median(accuracy);
    this.baseSeconds = median(base);
    this.fitSeconds = median(fit) ?? 0;
  }

  /** Seconds llama-quantize is expected to take for this type. */
  quantizeSeconds(quant: unknown): number {
    return this.quantizeRate !== undefined
      ? this.quantizeRate * work(quant)
      : priorQuantizeSeconds(this.o.sourceBytes, this.o.cores, quant);
  }

  /** Whether the configuration's model file is made already (in this session or in the cache). */
  fileMade(c: Config): boolean {
    return this.made.has(recipeKey(c));
  }

  /**
   * The benchmark's seconds: the median of the measured trials that share the most of where the weights run
   * (layers on the GPU, experts on the CPU, then the type and threads), scaled by the types' sizes.
   */
  benchSeconds(c: Config): number {
    if (this.benches.length === 0) return PRIOR_BENCH_SECONDS;
    let best = -1;
    let near: { config: Config; seconds: number }[] = [];
    // Two partial offloads are alike (some layers on the CPU) even at different counts.
    const partial = (v: unknown) => typeof v === 'number' && v > 0 && v !== ALL_LAYERS;
    for (const b of this.benches) {
      const s = PLACEMENT.reduce(
        (a, [k, w]) =>
          a + (b.config[k] === c[k] ? w : k === 'gpu_layers' && partial(b.config[k]) && partial(c[k]) ? w * 0.75 : 0),
        0,
      );
      if (s > best) {
        best = s;
        near = [b];
      } else if (s === best) near.push(b);
    }
    return median(near.map((b) => b.seconds)) ?? PRIOR_BENCH_SECONDS;
  }

  /** The median llama-quantize seconds of the files this session made (before any, the prior for Q4_K_M). */
  typicalQuantizeSeconds(): number {
    return median(this.quantizes) ?? this.quantizeSeconds('Q4_K_M');
  }

  /** The median benchmark's seconds so far (the prior before any). */
  typicalBenchSeconds(): number {
    return median(this.benches.map((b) => b.seconds)) ?? PRIOR_BENCH_SECONDS;
  }

  estimate(c: Config): TrialCost {
    const parts: { step: string; seconds: number }[] = [];
    const asIs = usesSourceAsIs(c, this.o.sourceType ?? 'F16');
    const newFile = !asIs && !this.fileMade(c);
    const ik = imatrixKey(c);
    if (newFile && ik && !this.imatrices.has(ik))
      parts.push({ step: 'imatrix', seconds: this.imatrixSeconds ?? 2 * this.quantizeSeconds('Q8_0') });
    if (newFile) parts.push({ step: 'quantize', seconds: this.quantizeSeconds(c.quant) });
    if (this.fitSeconds) parts.push({ step: 'fit', seconds: this.fitSeconds });
    parts.push({ step: 'bench', seconds: this.benchSeconds(c) });
    if (this.o.accuracy && !this.measuredAccuracy.has(accuracyKey(c))) {
      // The source's logits, once a session (unless an earlier one left them in the cache).
      if (this.measuredAccuracy.size === 0)
        parts.push({ step: 'accuracy-base', seconds: this.baseSeconds ?? this.quantizeSeconds('Q8_0') });
      parts.push({ step: 'accuracy', seconds: this.accuracySeconds ?? this.quantizeSeconds('Q8_0') });
    }
    const seconds = parts.reduce((a, p) => a + p.seconds, 0);
    const about = `about ${fmtSeconds(seconds)}`;
    const text = asIs
      ? `the source file as it is: ${about}`
      : newFile
        ? `a new ${String(c.quant)} file${ik && !this.imatrices.has(ik) ? ' and importance matrix' : ''}: ${about}`
        : `reuses the ${String(c.quant)} file: ${about}`;
    return { seconds, parts, newFile, text };
  }

  /** The facts a proposer (the LLM agent) is told: what was measured to cost what, what is made. */
  facts(): string[] {
    const out: string[] = [];
    if (this.quantizeRate !== undefined)
      out.push(
        `- a new model file costs llama-quantize about ${fmtSeconds(this.quantizeSeconds('Q4_0'))} for Q4_0 or Q8_0, ` +
          `${fmtSeconds(this.quantizeSeconds('Q4_K_M'))} for Q4_K_M (K and IQ types take longer); ` +
          'runtime knobs on a file already made cost only the benchmark',
      );
    if (this.imatrixSeconds !== undefined) out.push(`- an importance matrix took ${fmtSeconds(this.imatrixSeconds)}`);
    if (this.accuracySeconds !== undefined)
      out.push(`- accuracy took ${fmtSeconds(this.accuracySeconds)} per new file or KV cache type`);
    if (this.benches.length) {
      const s = this.benches.map((b) => b.seconds);
      out.push(`- a benchmark took ${fmtSeconds(Math.min(...s))} to ${fmtSeconds(Math.max(...s))}`);
    }
    const files = [...this.made].map((k) => Object.values(JSON.parse(k) as Record<string, unknown>).join(' '));
    if (files.length) out.push(`- model files made: ${files.join('; ')}`);
    return out;
  }
}

/**
 * How much a cost weighs in a choice as the budget is spent: fully at the start (many trials left to spend the time
 * saved), not at all on the last trial (cost-cooling, as in CArBO; Lee et al. 2020).
 */
export function costWeight(measured: number, budget: number): number {
  if (budget <= 0) return 0;
  return Math.max(0, Math.min(1, (budget - measured - 1) / budget));
}
