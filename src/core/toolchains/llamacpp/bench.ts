import type { Config, Stat, TrialMetrics, Workload } from '../../types';
import { quantFromModelType } from '../../ggml';
import { implausibleStat } from '../../records';
import { ALL_LAYERS } from './space';

/** One row of `llama-bench -o json|jsonl` (the fields HAQA reads). */
export interface BenchRow {
  build_commit?: string;
  model_filename?: string;
  model_type: string;
  model_size: number;
  model_n_params?: number;
  n_batch: number;
  n_ubatch: number;
  n_threads: number;
  type_k: string;
  type_v: string;
  n_gpu_layers: number;
  /** MoE layers whose experts stayed in host memory (-ncmoe). */
  n_cpu_moe?: number;
  /** How the model was split over several GPUs (-sm): layer, row or none. */
  split_mode?: string;
  /** The split's shares (-ts) as llama-bench writes them, e.g. "2.00/1.00"; "0.00" is llama.cpp's own. */
  tensor_split?: string;
  flash_attn: boolean | number | string;
  n_prompt: number;
  n_gen: number;
  n_depth?: number;
  avg_ts: number;
  stddev_ts: number;
  samples_ts?: number[];
  cpu_info?: string;
  gpu_info?: string;
  backends?: string;
  /**
   * Not llama-bench's: the most GPU memory (MiB) the row's configuration added over the idle GPU while it ran, as a grid
   * recorder sampled it beside llama-bench (bench/gpu-peaks.ts). A replay reports it as the trial's peak, so
   * `--max-vram-mb` applies to replays as to real trials.
   */
  peak_gpu_mib?: number;
}

type TimedRow = Partial<
  Pick<BenchRow, 'avg_ts' | 'n_prompt' | 'n_gen' | 'n_depth' | 'samples_ts' | 'type_k' | 'type_v' | 'flash_attn'>
>;

/**
 * Seconds llama-bench spent on one row's test, from its own figures: every repetition plus the warm-up, each the row's
 * tokens at its mean speed, and its depth (-d) filled once at `pp`, the configuration's prefill speed (t/s), unless
 * llama-bench had it cached. llama-bench (80fb11a) keeps the last filled depth's state and restores it for every later
 * repetition and test that asks for the same depth into a compatible cache (same K and V types, same V layout, which
 * flash attention decides); so `prev`, the row whose depth state llama-bench held when this one started in the same
 * process (depthStateBefore), decides whether this row paid for the fill. Rows of different processes look cached to
 * it, which can only shorten the estimate.
 */
export function rowSeconds(r: TimedRow, pp: number | undefined, prev?: TimedRow): number {
  if (!r.avg_ts || r.avg_ts <= 0) return 0;
  const reps = (r.samples_ts?.length ?? 3) + 1;
  const depth = typeof r.n_depth === 'number' ? r.n_depth : 0;
  const cached =
    prev !== undefined &&
    prev.n_depth === depth &&
    (prev.type_k ?? 'f16') === (r.type_k ?? 'f16') &&
    (prev.type_v ?? 'f16') === (r.type_v ?? 'f16') &&
    flashAttnOf(prev.flash_attn ?? false) === flashAttnOf(r.flash_attn ?? false);
  const fill = depth > 0 && pp && !cached ? depth / pp : 0;
  return (reps * ((r.n_prompt ?? 0) + (r.n_gen ?? 0))) / r.avg_ts + fill;
}

/**
 * The row whose depth state llama-bench holds when `rows[i]` starts: the last one before it that measured at a depth
 * (a depth-0 row in between leaves the state; a row without a figure may never have filled it). Pass it as
 * rowSeconds' `prev`. Rows of models of different shapes would not restore each other's state; a grid holds one shape.
 */
export function depthStateBefore<T extends TimedRow>(rows: T[], i: number): T | undefined {
  for (let j = i - 1; j >= 0; j--) if ((rows[j].n_depth ?? 0) > 0 && (rows[j].avg_ts ?? 0) > 0) return rows[j];
  return undefined;
}

/**
 * The runtime knobs as the flags llama-bench and llama-server share (-t -ngl -fa -b -ub -ctk -ctv): what was measured is
 * what is served.
 */
export function runtimeArgs(config: Config, o: { placement?: boolean; bench?: boolean } = {}): string[] {
  const placement = o.placement ?? true;
  const split = config.tensor_split;
  return [
    '-t',
    String(config.threads),
    ...(placement ? ['-ngl', String(config.gpu_layers ?? 0)] : []),
    ...(config.split_mode !== undefined ? ['-sm', String(config.split_mode)] : []),
    // llama-bench separates a split's parts with '/' (its ',' lists alternatives); llama-server with ','.
    ...(placement && split !== undefined && split !== 'auto'
      ? ['-ts', o.bench ? String(split).replaceAll(',', '/') : String(split)]
      : []),
    '-fa',
    config.flash_attn ? 'on' : 'off',
    '-b',
    String(config.batch),
    '-ub',
    String(config.ubatch),
    '-ctk',
    String(config.cache_type_k),
    '-ctv',
    String(config.cache_type_v),
    ...(placement && config.n_cpu_moe !== undefined ? ['-ncmoe', String(config.n_cpu_moe)] : []),
  ];
}

/** The llama-bench argv for one configuration (the binary first). Values come only from a validated config. */
export function benchArgs(bin: string, modelFile: string, config: Config, w: Workload): string[] {
  return [
    bin,
    '-m',
    modelFile,
    '-p',
    String(w.promptTokens),
    '-n',
    String(w.genTokens),
    // Depth 0 as well when the workload measures at a depth: the reference every other figure is quoted at.
    '-d',
    w.depth > 0 ? `0,${w.depth}` : '0',
    '-r',
    String(w.repetitions),
    ...runtimeArgs(config, { bench: true }),
    '-o',
    'jsonl',
  ];
}

/** Parses llama-bench JSON (an array) or JSONL (a row a line) output. Lines that are not JSON objects are skipped. */
export function parseBenchOutput(text: string): BenchRow[] {
  const t = text.trim();
  if (!t) return [];
  if (t.startsWith('[')) {
    try {
      return (JSON.parse(t) as BenchRow[]).filter(isRow);
    } catch {
      /* fall through to line mode (e.g. a truncated array) */
    }
  }
  const rows: BenchRow[] = [];
  for (const line of t.split('\n')) {
    const s = line.trim().replace(/,$/, '');
    if (!s.startsWith('{')) continue;
    try {
      const r = JSON.parse(s);
      if (isRow(r)) rows.push(r);
    } catch {
      /* partial line */
    }
  }
  return rows;
}

function isRow(r: unknown): r is BenchRow {
  const o = r as BenchRow;
  return (
    !!o &&
    typeof o === 'object' &&
    typeof o.avg_ts === 'number' &&
    typeof o.n_prompt === 'number' &&
    typeof o.n_gen === 'number' &&
    typeof o.model_type === 'string'
  );
}

/** Why a row's figures cannot be a measurement (1e308 t/s, a negative sd, samples that contradict the mean), if so. */
export function rowProblem(r: BenchRow): string | undefined {
  const why = implausibleStat(statOf(r));
  return why ? `${r.n_gen > 0 ? `tg${r.n_gen}` : `pp${r.n_prompt}`}: ${why}` : undefined;
}

function statOf(r: BenchRow): Stat {
  const samples = Array.isArray(r.samples_ts) ? r.samples_ts.filter((x) => typeof x === 'number') : undefined;
  const n = samples?.length || 1;
  return samples?.length
    ? { mean: r.avg_ts, sd: r.stddev_ts ?? 0, n, samples }
    : { mean: r.avg_ts, sd: r.stddev_ts ?? 0, n };
}

export function flashAttnOf(v: BenchRow['flash_attn']): boolean {
  return v === true || v === 1 || v === 'on' || v === 'true' || v === '1';
}

/**
 * Prefill (n_prompt > 0, n_gen = 0) and decode (n_gen > 0, n_prompt = 0) rows → metrics: those at the workload's
 * `depth` are the trial's figures; those at depth 0, when the depth is above it, go to `atDepth0`.
 */
export function metricsFromRows(rows: BenchRow[], depth = 0): TrialMetrics {
  const m: TrialMetrics = {};
  const zero: NonNullable<TrialMetrics['atDepth0']> = {};
  for (const r of rows) {
    if (rowProblem(r)) continue; // not a measurement: the figure stays missing and the trial says so
    const d = typeof r.n_depth === 'number' ? r.n_depth : 0;
    const into = d === depth ? m : d === 0 ? zero : undefined;
    if (!into) continue;
    if (r.n_prompt > 0 && r.n_gen === 0) into.prefill = statOf(r);
    else if (r.n_gen > 0 && r.n_prompt === 0) into.decode = statOf(r);
    if (r.model_size) m.fileSizeBytes = r.model_size;
  }
  if (depth > 0 && (zero.decode || zero.prefill)) m.atDepth0 = zero;
  return m;
}

/** The knob values a row was measured with (the inverse of benchArgs), for replay. */
/** llama-bench's tensor_split ("0.00", "2.00/1.00") as the knob's value: auto, or the shares ("2,1"). */
export function tensorSplitOf(text: string | undefined): string {
  const parts = (text ?? '0').split('/').map(Number);
  if (parts.some((x) => !Number.isFinite(x)) || parts.every((x) => x === 0)) return 'auto';
  return parts.map((x) => String(Math.round(x * 100) / 100)).join(',');
}

export function configFromRow(
  r: BenchRow,
  withGpuLayers: boolean,
  withCpuMoe = false,
  withSplit = false,
  layers?: number,
): Config | undefined {
  const quant = quantFromModelType(r.model_type);
  if (!quant) return undefined;
  const c: Config = { quant, threads: r.n_threads };
  // More than the model's layers offloads the output layer too: every layer. Where the model's layer count is not
  // known, 99 and above (llama-bench's -ngl 99 idiom) stands for it.
  if (withGpuLayers) c.gpu_layers = r.n_gpu_layers > (layers ?? 98) ? ALL_LAYERS : r.n_gpu_layers;
  if (withSplit) {
    c.split_mode = r.split_mode ?? 'layer';
    c.tensor_split = tensorSplitOf(r.tensor_split);
  }
  if (withCpuMoe) c.n_cpu_moe = r.n_cpu_moe ?? 0;
  c.flash_attn = flashAttnOf(r.flash_attn);
  c.batch = r.n_batch;
  c.ubatch = r.n_ubatch;
  c.cache_type_k = r.type_k;
  c.cache_type_v = r.type_v;
  return c;
}

/** A failure cause a person can act on, from a failed tool's output and exit status. */
export function diagnoseFailure(
  output: string,
  exitCode: number | null,
  signal: string | null,
  memory?: { peakRssBytes?: number; totalBytes: number },
): string {
  const o = output.toLowerCase();
  if (signal === 'SIGKILL' || signal === '9' || exitCode === 137) {
    // SIGKILL is the kernel's OOM killer only when memory ran short; from outside (kill -9, a job scheduler) it says
    // nothing about memory. The tool's own peak tells which is likely.
    const peak = memory?.peakRssBytes;
    if (memory && peak === undefined)
      return (
        'killed (SIGKILL) before its memory was measured: out of memory, or killed from outside ' +
        '(kill -9, a scheduler); if it repeats, try a smaller quant type or a quantized KV cache'
      );
    if (peak !== undefined && memory && peak < 0.5 * memory.totalBytes)
      return (
        `killed (SIGKILL) at ${(peak / 2 ** 20).toFixed(0)} MiB, well below this machine's memory: killed from ` +
        "outside (kill -9, a scheduler, the OOM killer freeing memory for another process), not this trial's size"
      );
    return (
      'killed (SIGKILL), most likely out of memory: ' +
      'try a smaller quant type, a quantized KV cache or fewer GPU layers'
    );
  }
  if (/out of memory|failed to allocate|cudamalloc failed|bad_alloc|cannot allocate/.test(o))
    return 'out of memory: try a smaller quant type, a quantized KV cache, smaller ubatch or fewer GPU layers';
  if (/failed to load model|error loading model|wrong shape|invalid magic/.test(o))
    return 'the model failed to load: the GGUF file may be corrupt or made for a newer llama.cpp';
  if (/failed to create context/.test(o))
    return 'llama.cpp could not create a context for this configuration (unsupported combination or not enough memory)';
  if (/unsupported|not supported/.test(o)) return 'this configuration is not supported by this llama.cpp build';
  if (signal) return `crashed (signal ${signal})`;
  const last = output
    .trim()
    .split('\n')
    .filter((l) => /error|fail|abort/i.test(l))
    .pop();
  return `exited with code ${exitCode}${last ? `: ${last.trim().slice(0, 200)}` : ''}`;
}
