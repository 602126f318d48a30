import { QUANT_TYPES, UNQUANTIZED_FILE_TYPES } from '../../ggml';
import { ALL_LAYERS } from '../../knobs';
import { SearchSpace, type Constraint, type Knob } from '../../space';
import type { HardwareProfile, ModelInfo } from '../../types';

export const KV_TYPES = ['f16', 'q8_0', 'q4_0'];
export { ALL_LAYERS, quantRecipe } from '../../knobs';

/** Quant types whose block size divides every weight row of the model. */
export function validQuantTypes(model: ModelInfo): string[] {
  const rows = model.rowSizes.length ? model.rowSizes : [model.embeddingLength];
  return QUANT_TYPES.filter((q) => rows.every((r) => r % q.block === 0)).map((q) => q.name);
}

export function threadCandidates(hw: HardwareProfile): number[] {
  const set = new Set<number>([1, hw.cpu.cores, hw.cpu.threads]);
  for (let t = 2; t < hw.cpu.threads; t *= 2) set.add(t);
  if (hw.cpu.cores > 2) set.add(hw.cpu.cores - 1);
  return [...set].filter((t) => t >= 1 && t <= hw.cpu.threads).sort((a, b) => a - b);
}

export const QUANTIZED_V_NEEDS_FA: Constraint = {
  id: 'quantized-v-cache-needs-flash-attn',
  description: 'a quantized V cache (cache_type_v other than f16) needs flash_attn = true',
  check: (c) =>
    c.cache_type_v !== 'f16' && c.flash_attn !== true
      ? `cache_type_v = ${String(c.cache_type_v)} needs flash_attn = true`
      : undefined,
};

export const CPU_MOE_NEEDS_OFFLOAD: Constraint = {
  id: 'cpu-moe-needs-gpu-layers',
  description: 'n_cpu_moe keeps experts of offloaded layers on the CPU, so above 0 it needs gpu_layers above 0',
  check: (c) =>
    Number(c.n_cpu_moe ?? 0) > 0 && Number(c.gpu_layers ?? 0) === 0
      ? `n_cpu_moe = ${String(c.n_cpu_moe)} with gpu_layers = 0 (nothing is offloaded)`
      : undefined,
};

export const SPLIT_ONLY_WHEN_SPLITTING: Constraint = {
  id: 'tensor-split-needs-a-split-mode',
  description: "tensor_split only matters when the model is split (split_mode layer or row); with none it stays 'auto'",
  check: (c) =>
    c.split_mode === 'none' && c.tensor_split !== undefined && c.tensor_split !== 'auto'
      ? `tensor_split = ${String(c.tensor_split)} with split_mode = none (one GPU)`
      : undefined,
};

/** How to share the weights between several GPUs: llama.cpp's own (by free memory), even, and 2:1 either way for two. */
export function tensorSplits(n: number): string[] {
  const even = Array(n).fill('1').join(',');
  return ['auto', even, ...(n === 2 ? ['2,1', '1,2'] : [])];
}

/**
 * How each backend of the llama.cpp HAQA builds (80fb11a) can split a model over several GPUs (-sm) besides layer and
 * none: CUDA, measured on two H200s (BENCHMARKS.md), no longer exports row-split buffers (`-sm row`: "device CUDA0
 * does not support split buffers", the model does not load) and has tensor parallelism instead (`-sm tensor`, which
 * needs flash attention). From the source, not measured: ROCm builds from CUDA's; SYCL exports row-split buffers and
 * the tensor-parallel calls; Vulkan and Metal split by layer only.
 */
const SPLIT_MODES: Record<string, string[]> = { cuda: ['tensor'], rocm: ['tensor'], sycl: ['row', 'tensor'] };

export const TENSOR_SPLIT_NEEDS_FA: Constraint = {
  id: 'tensor-split-needs-flash-attn',
  description: 'split_mode = tensor needs flash_attn = true (llama.cpp refuses the context otherwise)',
  check: (c) =>
    c.split_mode === 'tensor' && c.flash_attn !== true ? 'split_mode = tensor needs flash_attn = true' : undefined,
};

/**
 * -ncmoe k reaches the experts of layers 0..k-1; with -ngl g the first L+1-g layers are on the CPU already, so a k up
 * to that count changes nothing: only 0 stands for it, and the space has one key per run.
 */
export function cpuMoeHasEffect(layers: number): Constraint {
  return {
    id: 'n-cpu-moe-reaches-offloaded-layers',
    description: 'n_cpu_moe above 0 must reach past the layers gpu_layers leaves on the CPU (0 otherwise)',
    check: (c) => {
      const k = Number(c.n_cpu_moe ?? 0);
      const g = Number(c.gpu_layers ?? 0);
      const onCpu = g >= layers + 1 ? 0 : layers + 1 - g;
      return k > 0 && g > 0 && k <= onCpu
        ? `n_cpu_moe = ${k} with gpu_layers = ${g}: the first ${onCpu} layers are on the CPU already (use 0)`
        : undefined;
    },
  };
}

export const UBATCH_LE_BATCH: Constraint = {
  id: 'ubatch-not-above-batch',
  description: 'ubatch must not exceed batch',
  check: (c) =>
    Number(c.ubatch) > Number(c.batch) ? `ubatch ${String(c.ubatch)} > batch ${String(c.batch)}` : undefined,
};

/** Per-tensor type overrides offered as one knob (`--tensor-type NAME=TYPE`, comma-separated here). */
export const TENSOR_OVERRIDES = ['none', 'attn_v=q8_0', 'ffn_down=q8_0', 'attn_v=q8_0,ffn_down=q8_0'];
/** Importance-matrix chunk counts (512 tokens each) of the calibration text. */
export const IMATRIX_CHUNKS = [32, 128];

export const IMATRIX_CHUNKS_ONLY_WITH_IMATRIX: Constraint = {
  id: 'imatrix-chunks-only-with-imatrix',
  description:
    'imatrix_chunks only varies with an importance matrix ' + `(with imatrix = none it stays ${IMATRIX_CHUNKS[0]})`,
  check: (c) =>
    c.imatrix === 'none' && c.imatrix_chunks !== undefined && c.imatrix_chunks !== IMATRIX_CHUNKS[0]
      ? `imatrix_chunks = ${String(c.imatrix_chunks)} without an importance matrix`
      : undefined,
};

/** The quantization recipe beyond the type: imatrix, output / embedding types, per-tensor overrides. */
export function recipeKnobs(calibrations: string[]): Knob[] {
  return [
    {
      name: 'imatrix',
      buysAccuracy: 'same-size',
      kind: 'enum',
      values: ['none', ...calibrations],
      default: 'none',
      stage: 'quantize',
      ordinal: false,
      meaning:
        'importance matrix from llama-imatrix on a calibration text (--imatrix); ' +
        'protects the weights that matter, most useful at 2-4 bits',
    },
    {
      name: 'imatrix_chunks',
      buysAccuracy: 'same-size',
      kind: 'int',
      values: IMATRIX_CHUNKS,
      default: IMATRIX_CHUNKS[0],
      stage: 'quantize',
      ordinal: true,
      meaning: 'chunks of 512 calibration tokens the importance matrix is computed on (more: better estimate, slower)',
    },
    {
      name: 'output_type',
      buysAccuracy: 'precision',
      kind: 'enum',
      values: ['default', 'q8_0', 'f16'],
      default: 'default',
      stage: 'quantize',
      ordinal: false,
      meaning:
        'type of the output (lm_head) tensor (--output-tensor-type); ' +
        'higher precision here costs little size and often buys accuracy',
    },
    {
      name: 'embd_type',
      buysAccuracy: 'precision',
      kind: 'enum',
      values: ['default', 'q8_0', 'f16'],
      default: 'default',
      stage: 'quantize',
      ordinal: false,
      meaning: 'type of the token-embedding tensor (--token-embedding-type)',
    },
    {
      name: 'tensor_overrides',
      buysAccuracy: 'precision',
      kind: 'enum',
      values: TENSOR_OVERRIDES,
      default: 'none',
      stage: 'quantize',
      ordinal: false,
      meaning: 'per-tensor types (--tensor-type NAME=TYPE): keep the most sensitive tensors (attn_v, ffn_down) at q8_0',
    },
  ];
}

/** The knobs llama.cpp offers for this hardware and model, with the rules llama.cpp imposes. */
export function llamaCppSpace(
  hw: HardwareProfile,
  model: ModelInfo,
  opts: { calibrations?: string[] } = {},
): SearchSpace {
  const unquantized = UNQUANTIZED_FILE_TYPES.has(model.fileType);
  const quants = unquantized ? validQuantTypes(model) : [model.fileType];
  const threads = threadCandidates(hw);
  const knobs: Knob[] = [
    {
      name: 'quant',
      kind: 'enum',
      values: quants,
      default: quants.includes('Q4_K_M') ? 'Q4_K_M' : quants[0],
      stage: 'quantize',
      ordinal: true,
      meaning: UNQUANTIZED_FILE_TYPES.has(model.fileType)
        ? 'weight quantization type (llama-quantize); fewer bits: smaller file, usually faster decode, lower accuracy'
        : `weight type: the model is already ${model.fileType}, ` +
          'so only runtime knobs are searched (re-quantizing loses accuracy)',
    },
    {
      name: 'threads',
      kind: 'int',
      values: threads,
      default: hw.cpu.cores,
      stage: 'runtime',
      ordinal: true,
      meaning: 'CPU threads for computation (-t); decode is memory-bound and often peaks at the physical core count',
    },
  ];
  // Re-quantizing an already-quantized file loses accuracy, so its recipe is fixed.
  if (unquantized) knobs.push(...recipeKnobs(opts.calibrations ?? ['builtin']));
  if (hw.gpus.length > 0) {
    const L = model.layers;
    // Any layer count: where a model does not fit, the boundary is wherever llama.cpp's projection puts it.
    const counts = Array.from({ length: L + 1 }, (_, i) => i);
    knobs.push({
      name: 'gpu_layers',
      kind: 'int',
      values: [...counts, ALL_LAYERS],
      default: ALL_LAYERS,
      stage: 'runtime',
      ordinal: true,
      meaning:
        `layers (of ${L}) offloaded to the GPU (-ngl), counted from the last; ${ALL_LAYERS} = all, the output layer ` +
        'included; where the model does not fit, llama.cpp projects the boundary',
    });
    // A mixture of experts: most of its weights are experts, few of which run per token, so keeping the experts of
    // some layers in host memory frees most of the GPU memory for a small cost in decode.
    if (model.expertCount) {
      knobs.push({
        name: 'n_cpu_moe',
        kind: 'int',
        values: counts,
        default: 0,
        stage: 'runtime',
        ordinal: true,
        meaning:
          `MoE layers (of ${L}) whose ${model.expertCount} experts stay in host memory (-ncmoe); frees GPU memory ` +
          `for the rest at some decode speed (${model.expertUsedCount ?? '?'} experts run per token)`,
      });
    }
  }
  // Several GPUs: how the model is split over them.
  if (hw.gpus.length >= 2) {
    const backend = hw.gpus[0].backend ?? 'cuda';
    knobs.push(
      {
        name: 'split_mode',
        kind: 'enum',
        values: ['layer', ...(SPLIT_MODES[backend] ?? []), 'none'],
        default: 'layer',
        stage: 'runtime',
        ordinal: false,
        meaning:
          `how the model is split over the ${hw.gpus.length} GPUs (-sm): layer = whole layers and their KV per GPU ` +
          '(pipelined), row = each weight by rows, tensor = weights and KV split for tensor parallelism (flash ' +
          'attention on), none = the first GPU only',
      },
      {
        name: 'tensor_split',
        kind: 'enum',
        values: tensorSplits(hw.gpus.length),
        default: 'auto',
        stage: 'runtime',
        ordinal: false,
        meaning: "share of the model per GPU (-ts); auto = llama.cpp's own, by each GPU's free memory",
      },
    );
  }
  knobs.push(
    {
      name: 'flash_attn',
      kind: 'bool',
      values: [false, true],
      default: true,
      stage: 'runtime',
      ordinal: false,
      meaning: 'fused flash attention kernel (-fa); required for a quantized V cache',
    },
    {
      name: 'batch',
      kind: 'int',
      values: [256, 512, 2048],
      default: 2048,
      stage: 'runtime',
      ordinal: true,
      meaning: 'logical batch size for prompt processing (-b); affects prefill, not decode',
    },
    {
      name: 'ubatch',
      kind: 'int',
      values: [128, 256, 512],
      default: 512,
      stage: 'runtime',
      ordinal: true,
      meaning: 'physical micro-batch size (-ub); larger helps prefill on wide hardware, costs compute buffer memory',
    },
    {
      name: 'cache_type_k',
      kind: 'enum',
      values: KV_TYPES,
      default: 'f16',
      stage: 'runtime',
      ordinal: true,
      meaning: 'KV cache type for K (-ctk); quantized halves or quarters KV memory, may cost speed and accuracy',
    },
    {
      name: 'cache_type_v',
      kind: 'enum',
      values: KV_TYPES,
      default: 'f16',
      stage: 'runtime',
      ordinal: true,
      meaning: 'KV cache type for V (-ctv); quantized types need flash attention',
    },
  );
  return new SearchSpace(knobs, [
    QUANTIZED_V_NEEDS_FA,
    UBATCH_LE_BATCH,
    ...(model.expertCount && hw.gpus.length > 0 ? [CPU_MOE_NEEDS_OFFLOAD, cpuMoeHasEffect(model.layers)] : []),
    ...(hw.gpus.length >= 2 ? [SPLIT_ONLY_WHEN_SPLITTING, TENSOR_SPLIT_NEEDS_FA] : []),
    ...(unquantized ? [IMATRIX_CHUNKS_ONLY_WITH_IMATRIX] : []),
  ]);
}
