import { ALL_LAYERS } from '../knobs';
import { leader, score } from '../objective';
import { estimatedFileBytes, quantType } from '../ggml';
import type { Knob } from '../space';
import { countsTowardBudget, type Config, type ConfigValue, type TrialRecord } from '../types';
import { rng } from './rng';
import {
  costModel,
  fittedProposals,
  measuredKeys,
  oneKnobMoves,
  randomUnmeasured,
  type Proposal,
  type Strategy,
  type StrategyContext,
} from './strategy';
import { TpeStrategy } from './tpe';
import { knobValue } from '../configDiff';
import { closingPlan, PATIENCE, stoodBest } from '../stopping';
import { bestTrial } from '../verdict';
import { fmtSeconds } from '../format';

/** The domain value closest to `target` (numerically for ints), or the knob default. */
function snap(k: Knob | undefined, target: ConfigValue): ConfigValue | undefined {
  if (!k) return undefined;
  if (k.values.includes(target)) return target;
  if (k.kind === 'int' && typeof target === 'number') {
    return [...k.values].sort((a, b) => Math.abs(Number(a) - target) - Math.abs(Number(b) - target))[0];
  }
  return k.default;
}

/**
 * Hardware-aware priors. Decode is memory-bandwidth bound: fewer bytes per weight → more tokens/s, threads help up
 * to the physical cores. Prefill is compute bound: simple block formats (Q4_0, Q8_0) have the fastest CPU matmul
 * kernels and, on a GPU, F16 tensor-core paths often beat dequantizing kernels.
 */
export function firstDesign(ctx: StrategyContext, history: TrialRecord[]): Proposal[] {
  const { space, hardware: hw, objective } = ctx;
  const K = (n: string) => space.knob(n);
  const quants = (K('quant')?.values ?? []).map(String);
  const hasGpu = hw.gpus.length > 0 && !!K('gpu_layers');
  // What the GPUs can hold for this session: each one's free memory (from the build's device list), within the
  // per-GPU limit when one is set. A GPU of unknown memory (0: a replay) holds what the limit allows, else anything.
  const vram = hw.gpus.reduce(
    (a, g) => a + Math.min(g.freeBytes ?? (g.vramBytes || Infinity), objective.maxVramBytes ?? Infinity),
    0,
  );
  const fits = (q: string) => estimatedFileBytes(ctx.model, q) < 0.85 * vram;
  // A dense model larger than the GPUs: as many layers as fit by its size, which llama.cpp's projection then checks
  // (and, if it does not fit, its fit answers with the boundary).
  const layersThatFit = (q: string) =>
    Math.max(0, Math.floor((ctx.model.layers * 0.85 * vram) / estimatedFileBytes(ctx.model, q)));
  const sizeOk = (q: string) => !objective.maxSizeBytes || estimatedFileBytes(ctx.model, q) <= objective.maxSizeBytes;
  const memOk = (q: string) =>
    !objective.maxMemBytes || estimatedFileBytes(ctx.model, q) * 1.1 <= objective.maxMemBytes;
  const base = (quant: string): Config => {
    const c: Config = {};
    for (const k of space.knobs) c[k.name] = k.default;
    c.quant = quant;
    const set = (name: string, v: ConfigValue) => {
      const s = snap(K(name), v);
      if (s !== undefined) c[name] = s;
    };
    set('threads', hw.cpu.cores);
    if (K('gpu_layers'))
      set('gpu_layers', !hasGpu ? 0 : fits(quant) || !!K('n_cpu_moe') ? ALL_LAYERS : layersThatFit(quant));
    // A mixture of experts that does not fit: every layer on the GPU but their experts in host memory (the usual
    // "experts to the CPU" answer), which the search then trades against fewer experts on the CPU and smaller quants.
    if (K('n_cpu_moe')) set('n_cpu_moe', hasGpu && !fits(quant) ? ctx.model.layers : 0);
    set('flash_attn', true);
    const maxOf = (n: string) => Math.max(...(K(n)?.values ?? [0]).map(Number));
    set('batch', maxOf('batch'));
    set('ubatch', Math.min(maxOf('ubatch'), Number(c.batch)));
    set('cache_type_k', 'f16');
    set('cache_type_v', 'f16');
    // Below 4 bits an importance matrix is the cheapest accuracy there is (same size, same speed).
    const imatrix = K('imatrix');
    if (imatrix && imatrix.values.length > 1 && (quantType(quant)?.bpw ?? 16) < 4) c.imatrix = imatrix.values[1];
    return c;
  };
  const smallest = [...quants].reverse().find((q) => q !== 'F16');
  const flags = hw.cpu.flags;
  const simd = flags.includes('avx2') ? 'AVX2' : flags.includes('neon') || flags.includes('asimd') ? 'NEON' : 'SIMD';
  const why: Record<string, string> = {
    Q4_K_M: 'Q4_K_M: the usual quality/speed sweet spot, a strong first reference',
    // Where the weights run decides the reason: CPU kernels repack Q4_0; a GPU gains from its cheap dequantization.
    Q4_0: hasGpu
      ? 'Q4_0: simplest 4-bit blocks, the cheapest to dequantize on the GPU; often the fastest decode there'
      : `Q4_0: simplest 4-bit blocks; llama.cpp repacks them for ${simd} kernels, often the fastest CPU decode`,
    Q8_0: 'Q8_0: near-lossless, cheap to dequantize; the fast path when compute, not bandwidth, is the limit',
    F16: 'F16: no dequantization at all; on a GPU its prefill often beats quantized kernels',
  };
  let order: string[];
  if (objective.kind === 'prefill') order = hasGpu ? ['F16', 'Q8_0', 'Q4_0', 'Q4_K_M'] : ['Q4_0', 'Q8_0', 'Q4_K_M'];
  else order = ['Q4_0', 'Q4_K_M', ...(smallest ? [smallest] : []), 'Q8_0'];
  if (smallest) why[smallest] ??= `${smallest}: fewest bytes per token, the decode ceiling when decode is memory-bound`;
  const design: Proposal[] = [];
  for (const q of [...new Set(order)]) {
    if (!quants.includes(q) || !sizeOk(q) || !memOk(q)) continue;
    const c = base(q);
    const offload = !hasGpu
      ? ''
      : fits(q)
        ? ', all layers on the GPU'
        : K('n_cpu_moe')
          ? ', all layers on the GPU with their experts in host memory (-ncmoe: it does not fit the GPU whole)'
          : Number(c.gpu_layers) > 0
            ? `, ${String(c.gpu_layers)} of ${ctx.model.layers} layers on the GPU (as many as fit by size)`
            : ', CPU (no layer fits the GPU by size)';
    const imatrix =
      c.imatrix && c.imatrix !== 'none' ? `, importance matrix (${String(c.imatrix)}) because it is below 4 bits` : '';
    // Threads matter only for what runs on the CPU: said so where nothing does.
    const whole = hasGpu && fits(q) && !K('n_cpu_moe');
    const threads = whole
      ? 'every layer on the GPU (threads only feed it: set to the physical cores)'
      : `threads = ${hw.cpu.cores} physical cores`;
    design.push({
      config: c,
      rationale: `${why[q]}; ${threads}, flash attention on, f16 KV${whole ? '' : offload}${imatrix}`,
    });
  }
  if (design.length === 0 && quants.length)
    design.push({
      config: base(quants[quants.length - 1]),
      rationale: 'the smallest type: nothing else meets the size/memory limits by estimate',
    });

  // Runtime probes around the best quant measured so far.
  const top = leader(objective, history);
  if (top) {
    const b = { ...top.config };
    const gl = K('gpu_layers');
    // Where the weights run decides what is worth probing: threads only matter for what runs on the CPU.
    const wholeOnGpu =
      hasGpu && !!gl && b.gpu_layers === gl.values[gl.values.length - 1] && !(Number(b.n_cpu_moe ?? 0) > 0);
    const fa: [string, ConfigValue, string] = [
      'flash_attn',
      !b.flash_attn,
      `flash attention ${b.flash_attn ? 'off' : 'on'}: the fused kernel is not faster on every backend`,
    ];
    const ub = K('ubatch');
    const smallerUb = ub?.values[ub.values.indexOf(b.ubatch) - 1];
    const probes: [string, ConfigValue, string][] = wholeOnGpu
      ? [
          fa,
          ...(smallerUb !== undefined
            ? ([
                [
                  'ubatch',
                  smallerUb,
                  `micro-batch ${String(smallerUb)}: every layer runs on the GPU, so threads do not matter; the ` +
                    'micro-batch sets the GPU kernels’ tile of the prompt',
                ],
              ] as [string, ConfigValue, string][])
            : []),
        ]
      : [
          ['threads', hw.cpu.threads, `threads = ${hw.cpu.threads} logical: does SMT help on this CPU?`],
          fa,
          [
            'threads',
            Math.max(1, hw.cpu.cores - 1),
            'one thread fewer: leaving a core to the OS can beat full occupancy',
          ],
        ];
    for (const [name, v, text] of probes) {
      const s = snap(K(name), v);
      if (s === undefined || s === b[name]) continue;
      design.push({ config: { ...b, [name]: s }, rationale: `${text} (on the fastest so far, ${String(b.quant)})` });
    }
  }
  const done = measuredKeys(space, history);
  const seen = new Set<string>();
  return design.filter((p) => {
    const key = space.key(p.config);
    if (seen.has(key) || done.has(key) || !space.isValid(p.config)) return false;
    seen.add(key);
    return true;
  });
}

/** Number of first-design points builtin spends before handing over to TPE. */
export const FIRST_DESIGN_SIZE = 5;

/** One-knob moves from the best trials, most influential knobs first. */
function neighbours(ctx: StrategyContext, history: TrialRecord[]): Proposal[] {
  const { space, objective } = ctx;
  const done = measuredKeys(space, history);
  const ranked = history
    .filter((t) => t.status === 'done')
    .map((t) => ({ t, s: score(objective, t.metrics) ?? -Infinity }))
    .sort((a, b) => b.s - a.s);
  const out: Proposal[] = [];
  for (const { t } of ranked) {
    for (const m of oneKnobMoves(space, t.config)) {
      if (done.has(space.key(m.config))) continue;
      out.push({
        config: m.config,
        rationale: `local search: ${m.knob} ${String(t.config[m.knob])} → ${String(m.value)} from trial #${t.index}`,
      });
    }
    if (out.length) return out;
  }
  return out;
}

/** Hardware-aware first design, then one-knob local search around the best. */
export class HeuristicStrategy implements Strategy {
  readonly name = 'heuristic';
  async propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    const out = fittedProposals(ctx.space, history).slice(0, n);
    for (const p of firstDesign(ctx, history)) {
      if (out.length >= n) break;
      if (!out.some((o) => ctx.space.key(o.config) === ctx.space.key(p.config))) out.push(p);
    }
    if (out.length < n) {
      const keys = new Set(out.map((p) => ctx.space.key(p.config)));
      for (const p of neighbours(ctx, history)) {
        if (out.length >= n) break;
        if (!keys.has(ctx.space.key(p.config))) {
          keys.add(ctx.space.key(p.config));
          out.push(p);
        }
      }
    }
    if (out.length < n) {
      const r = rng(ctx.seed, 'heuristic', history.length);
      const c = randomUnmeasured(
        ctx.space,
        measuredKeys(ctx.space, history),
        r,
        new Set(out.map((p) => ctx.space.key(p.config))),
      );
      if (c) out.push({ config: c, rationale: 'no untried neighbour of a good trial left: random sample' });
    }
    return out;
  }
}

/**
 * With --stop-early, once the best has stood through the patience: its one-knob neighbours the stop rule requires,
 * cheapest first, so the session can end on a local optimum of what it measured (stopping.ts) instead of waiting for
 * TPE to happen on them.
 */
function closingCheck(ctx: StrategyContext, history: TrialRecord[]): Proposal[] {
  const best = stoodBest(ctx.objective, history);
  if (!best) return [];
  return closingPlan(ctx, best, history).measure.map((m) => ({
    config: m.config,
    rationale:
      `closing check: the best, #${best.index}, has stood through ${PATIENCE} trials; the configurations one knob ` +
      `away from it are measured before the session ends: ${m.knob} ${knobValue(best.config[m.knob])} → ` +
      `${knobValue(m.value)} (${m.cost})`,
  }));
}

/**
 * Where a new model file costs more than PATIENCE benchmarks (a 7B on a GPU: a minute of llama-quantize against
 * seconds of llama-bench), the leader's untried one-knob neighbours that reuse a file already made, cheapest first,
 * before the model-based stage spends minutes on new files: runtime knobs on existing artifacts first (issue 16). A
 * move that only buys accuracy is left out where accuracy is not measured.
 */
function cheapNeighbours(ctx: StrategyContext, history: TrialRecord[]): Proposal[] {
  const cost = costModel(ctx, history);
  const file = cost.typicalQuantizeSeconds();
  const bench = cost.typicalBenchSeconds();
  if (file <= PATIENCE * bench) return [];
  const best = bestTrial(ctx.objective, history.filter(countsTowardBudget));
  if (!best) return [];
  // The closing check's neighbours (accuracy-only moves already out where accuracy is not measured), cheapest first,
  // less any that needs a new file.
  return closingPlan(ctx, best, history, PATIENCE, cost)
    .measure.filter((m) => !m.newFile)
    .map((m) => ({
      config: m.config,
      rationale:
        `runtime knobs on the files made before a new one (a new file costs about ${fmtSeconds(file)} here, a ` +
        `benchmark ${fmtSeconds(bench)}): ${m.knob} ${knobValue(best.config[m.knob])} → ${knobValue(m.value)} from ` +
        `the best so far, #${best.index} (${m.cost})`,
    }));
}

/** The default without an LLM: the heuristic first design, then TPE over everything measured. */
export class BuiltinStrategy implements Strategy {
  readonly name = 'builtin';
  private readonly tpe: TpeStrategy;

  /** costAware: the model-based stage weighs a dear trial's cost (off: measured not to pay on the recorded grids). */
  constructor(o: { costAware?: boolean } = {}) {
    this.tpe = new TpeStrategy({ startup: FIRST_DESIGN_SIZE, hardwarePriors: true, costAware: o.costAware ?? false });
  }

  async propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    // A refusal by the memory projection is answered at once: llama.cpp's boundary for the same settings, then (a long
    // context) a smaller KV cache.
    const fitted = fittedProposals(ctx.space, history);
    if (fitted.length) return fitted.slice(0, n);
    const closing = ctx.stopEarly ? closingCheck(ctx, history) : [];
    if (closing.length) return closing.slice(0, n);
    const observed = history.filter(countsTowardBudget).length;
    if (observed < FIRST_DESIGN_SIZE) {
      const design = firstDesign(ctx, history).slice(0, Math.min(n, FIRST_DESIGN_SIZE - observed));
      if (design.length) return design;
    }
    const cheap = cheapNeighbours(ctx, history);
    if (cheap.length) return cheap.slice(0, n);
    return this.tpe.propose(ctx, history, n);
  }
}
