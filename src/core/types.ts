/** Shared engine types: the bottom layer. This file imports nothing (a lint rule keeps it so). */

export interface GpuInfo {
  name: string;
  vramBytes: number;
  computeCapability: string;
  driver: string;
  /** llama.cpp's name for the device (CUDA0, Vulkan0, MTL0 …), when the llama.cpp build listed it. */
  device?: string;
  /** Its free memory when the session started (from the build's device list). */
  freeBytes?: number;
  /** The llama.cpp backend that drives it (cuda, vulkan, metal, rocm …). */
  backend?: string;
}

export interface HardwareProfile {
  cpu: { model: string; cores: number; threads: number; flags: string[] };
  memoryBytes: number;
  gpus: GpuInfo[];
  os: string;
  arch: string;
}

export interface ModelInfo {
  path: string;
  name: string;
  arch: string;
  parameterCount: number;
  layers: number;
  embeddingLength: number;
  feedForwardLength: number;
  headCount: number;
  headCountKv: number;
  vocabSize: number;
  contextLength: number;
  /** A mixture of experts: experts per layer and used per token (absent or 0: a dense model). */
  expertCount?: number;
  expertUsedCount?: number;
  /** MoE models whose first layers are dense (DeepSeek, GLM-4.5, Kimi-K2: `leading_dense_block_count`). */
  leadingDenseLayers?: number;
  /** llama.cpp file type name, e.g. F16, Q4_K_M. */
  fileType: string;
  /** All its files together. */
  sizeBytes: number;
  /** A split model's files in order (`path` is the first); absent for a whole file. */
  shards?: string[];
  /** Column counts of every weight matrix (ne[0]); decides which block quantizations apply. */
  rowSizes: number[];
}

/** One configuration: knob name → plain value. */
export type ConfigValue = string | number | boolean;
export type Config = Record<string, ConfigValue>;

/** A workload: what one request looks like. */
export interface Workload {
  promptTokens: number;
  genTokens: number;
  /**
   * Tokens already in the KV cache when prefill and decode are timed (llama-bench -d). With a `context`, half of it
   * unless given: the mean depth of a conversation that fills the context, where per-token time (linear in depth)
   * averages out. A depth above 0 measures depth 0 too (TrialMetrics.atDepth0), for reference.
   */
  depth: number;
  repetitions: number;
  /** The context the deployment serves (llama-server -c); absent: enough for the workload, at least 4096. */
  context?: number;
}

/** A plain JSON object (not null, not an array): what every reader of a session file checks first. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export const DEFAULT_WORKLOAD: Workload = { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 };

export interface Stat {
  mean: number;
  sd: number;
  n: number;
  /** The per-repetition figures (llama-bench's samples_ts), when the measurement kept them. */
  samples?: number[];
}

export interface TrialMetrics {
  prefill?: Stat;
  decode?: Stat;
  fileSizeBytes?: number;
  peakHostMemBytes?: number;
  /** What the run added on all GPUs together (nvidia-smi's samples). */
  peakDeviceMemBytes?: number;
  /** What it added on the GPU that took the most. */
  peakDeviceMemMaxBytes?: number;
  /** Accuracy hook: filled by the accuracy issue (PPL, KLD). */
  accuracy?: Record<string, number>;
  /**
   * Measured at depth 0 when the workload's depth is above 0 (prefill and decode above are at that depth, and are what
   * is judged): what the same configuration does on an empty context.
   */
  atDepth0?: { prefill?: Stat; decode?: Stat };
  /** llama.cpp's projection of the memory this configuration holds at the served context (llama-fit-params). */
  projected?: MemoryProjection;
  /**
   * Where llama.cpp's own fit (llama-fit-params) places this configuration when it does not fit as proposed: its
   * arguments, and the same in HAQA's knobs. A trial refused by the projection carries it: the boundary to try next.
   */
  fitted?: FittedPlacement;
  /**
   * A refusal whose projection is mostly KV cache (a long context): llama.cpp's fit of the same settings with each
   * smaller K/V cache type, so the search can measure them at their boundary instead of being refused again.
   */
  fittedSmallerKv?: FittedPlacement[];
}

/** llama.cpp's fit of a configuration: its flags (-ngl, -ts, -ot) and the same placement in knob values. */
export interface FittedPlacement {
  gpu_layers: number;
  n_cpu_moe?: number;
  flags: string[];
  /** For a smaller K/V cache type than the trial's (the same settings otherwise): what llama.cpp fits with it. */
  cacheType?: string;
}

/** A projection's total bytes on one device or the host. */
export const projectedBytes = (p: { modelBytes: number; contextBytes: number; computeBytes: number }) =>
  p.modelBytes + p.contextBytes + p.computeBytes;

/** The measured peak of host and GPU memory together, or undefined when the trial has none. */
export const peakMemBytes = (m: TrialMetrics): number | undefined =>
  m.peakHostMemBytes !== undefined ? m.peakHostMemBytes + (m.peakDeviceMemBytes ?? 0) : undefined;

/** Bytes a configuration holds at a context, per device and on the host, as llama.cpp projects them. */
export interface MemoryProjection {
  context: number;
  host: { modelBytes: number; contextBytes: number; computeBytes: number };
  devices: { name: string; modelBytes: number; contextBytes: number; computeBytes: number }[];
}

/** `cancelled`: stopped while running (not counted, may be proposed again); `skipped`: the user declined it in review
 * (not counted, never proposed again). */
export type TrialStatus = 'done' | 'failed' | 'infeasible' | 'cancelled' | 'skipped';

/**
 * Whether a trial ran and was measured (done, or over a limit after it ran): what can be accepted, deployed or tried.
 * A trial refused before it ran (over a limit by llama.cpp's memory projection) has no speed and is not.
 */
export const wasMeasured = (t: { status: TrialStatus; metrics: TrialMetrics }) =>
  (t.status === 'done' || t.status === 'infeasible') &&
  (t.metrics.decode !== undefined || t.metrics.prefill !== undefined);

/** Whether a trial counts toward the budget (it ran to an outcome). */
export const countsTowardBudget = (t: { status: TrialStatus }) => t.status !== 'cancelled' && t.status !== 'skipped';

export interface TrialRecord {
  type: 'trial';
  index: number;
  key: string;
  config: Config;
  status: TrialStatus;
  metrics: TrialMetrics;
  /** Human-readable failure cause (failed) or violated constraints (infeasible). */
  cause?: string;
  rationale?: string;
  /** What the proposer expected this configuration to do. */
  expectedEffect?: string;
  /** Set when the proposer flagged the choice as counterintuitive: its reason. */
  counterintuitive?: string;
  /** Measured contradictions of naive priors against earlier trials (see priors.ts). */
  findings?: Finding[];
  /** Which strategy proposed this trial (after a fallback, the built-in one). */
  strategy: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Runs measured again and pooled into these metrics: confirmation runs and Re-runs (see confirm.ts); absent when none. */
  confirmedRuns?: number;
  /** Per-step seconds, e.g. quantize, bench. */
  steps?: { name: string; seconds: number; cached?: boolean; log?: string; note?: string }[];
}

/** A measured contradiction of a naive prior (see priors.ts). */
export interface Finding {
  /** Id of the prior that the measurement contradicts. */
  prior: string;
  metric: SpeedMetric;
  /** The earlier trial this one was compared with. */
  against: number;
  knob: string;
  /** The knob's value in the earlier trial and in this one. */
  from: ConfigValue;
  to: ConfigValue;
  /** Relative change of the metric from the earlier trial to this one (−0.12 = 12 % slower). */
  change: number;
  /** The measured evidence, one sentence with the numbers. */
  evidence: string;
  /** Why it can happen (built-in text; the agent may add its own in the session journal). */
  explanation: string;
}

export type SpeedMetric = 'decode' | 'prefill';
