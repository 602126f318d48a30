import * as fs from 'node:fs';
import * as path from 'node:path';
import { HaqaError } from '../../errors';
import { QUANT_TYPES } from '../../ggml';
import { SearchSpace, type Knob } from '../../space';
import type { Config, ConfigValue, HardwareProfile, ModelInfo } from '../../types';
import type { StepRecord, Toolchain, TrialContext, TrialOutcome } from '../toolchain';
import { priorQuantizeSeconds, recipeKey } from '../../cost';
import { usesSourceAsIs } from '../../knobs';
import {
  configFromRow,
  metricsFromRows,
  parseBenchOutput,
  rowProblem,
  rowSeconds,
  depthStateBefore,
  tensorSplitOf,
  type BenchRow,
} from '../llamacpp/bench';
import { llamaCppSpace, QUANTIZED_V_NEEDS_FA, UBATCH_LE_BATCH } from '../llamacpp/space';
import { backendOf } from '../llamacpp/locate';

/**
 * The GPU backend of llama-bench's `backends` column ("CUDA", "ROCm", "Vulkan", "MTL,BLAS" …), named as a live session
 * names it from `--list-devices` (cuda, rocm, vulkan, metal …); undefined for a CPU run (CPU, BLAS).
 */
export function gpuBackend(names: string[]): string | undefined {
  return names
    .map((b) => b.trim())
    .filter(Boolean)
    .map(backendOf)
    .find((b) => b !== 'cpu' && b !== 'blas');
}

/**
 * Answers trials from recorded llama-bench rows (JSON or JSONL, several files allowed) instead of running anything.
 * Its search space is exactly what was recorded: every knob's domain is the set of values seen, and a configuration
 * is valid only if rows for it exist.
 */
export class ReplayToolchain implements Toolchain {
  readonly name = 'replay';
  /** Recorded rows: the same figures every time (no confirmation runs). */
  readonly measuresAgain = false;
  readonly space: SearchSpace;
  private readonly withGpu: boolean;
  readonly rows: BenchRow[];
  /** The largest model file recorded (the source, when the recording has it), and the most threads a row used. */
  private readonly sourceBytes: number;
  private readonly maxThreads: number;
  /** Rows left out because their figures cannot be measurements (file: why). */
  readonly rejected: string[] = [];
  private readonly byKey = new Map<string, BenchRow[]>();
  /** The recorded model's description (`haqa inspect --json` of the source), when the recording has one beside it. */
  private readonly model: ModelInfo | undefined;

  constructor(readonly files: string[]) {
    const rows: BenchRow[] = [];
    for (const f of files) {
      let text: string;
      try {
        text = fs.readFileSync(f, 'utf8');
      } catch {
        throw new HaqaError(
          `replay file not found: ${f}`,
          'pass llama-bench output saved with -o json or -o jsonl',
          'input',
        );
      }
      const parsed = parseBenchOutput(text);
      const got = parsed.filter((r) => {
        const why = rowProblem(r);
        if (why) this.rejected.push(`${path.basename(f)}: ${why}`);
        return !why;
      });
      if (got.length === 0)
        throw new HaqaError(
          parsed.length
            ? `${f} holds no usable llama-bench rows (${this.rejected[this.rejected.length - 1]})`
            : `${f} holds no llama-bench rows (JSON objects with model_type, avg_ts, n_prompt, n_gen)`,
          'record it with `llama-bench ... -o jsonl > FILE`',
          'input',
        );
      rows.push(...got);
    }
    this.rows = rows;
    this.model = recordedModel(files[0]);
    // The source a session would quantize: the recorded model's when its description came with the recording, else an
    // F16 file of the recorded parameters (2 bytes each), or the largest recorded file where that is larger (an F32
    // recording).
    this.sourceBytes =
      this.model?.sizeBytes ?? Math.max(...rows.map((r) => Math.max(r.model_size, 2 * (r.model_n_params ?? 0))));
    this.maxThreads = Math.max(1, ...rows.map((r) => r.n_threads).filter((t) => Number.isInteger(t)));
    const withGpu = rows.some((r) => r.n_gpu_layers > 0 && !!r.gpu_info);
    this.withGpu = withGpu;
    // A recording that varies the experts kept on the CPU (-ncmoe) replays them as the n_cpu_moe knob.
    const withCpuMoe = withGpu && rows.some((r) => (r.n_cpu_moe ?? 0) > 0);
    // A recording over several GPUs that varies how the model is split replays split_mode and tensor_split as knobs
    // (else rows of different splits would be one configuration).
    const distinct = (f: (r: BenchRow) => unknown) => new Set(rows.map(f)).size;
    const withSplit =
      withGpu && (distinct((r) => r.split_mode ?? 'layer') > 1 || distinct((r) => tensorSplitOf(r.tensor_split)) > 1);
    const gpuCount = withSplit
      ? Math.max(2, ...rows.map((r) => (r.gpu_info ?? '').split(/,\s*/).filter(Boolean).length))
      : 1;
    const backend = gpuBackend(rows.flatMap((r) => (r.backends ?? '').split(',')));
    const domains = new Map<string, Set<ConfigValue>>();
    const pairs: { c: Config; r: BenchRow }[] = [];
    for (const r of rows) {
      const c = configFromRow(r, withGpu, withCpuMoe, withSplit, this.model?.layers);
      if (!c) continue;
      pairs.push({ c, r });
      for (const [k, v] of Object.entries(c)) {
        if (!domains.has(k)) domains.set(k, new Set());
        domains.get(k)!.add(v);
      }
    }
    if (pairs.length === 0)
      throw new HaqaError(
        `no recorded row has a quant type HAQA knows (${files.join(', ')})`,
        'record models quantized to the standard types',
        'input',
      );
    // Knob meanings and order come from the live space, so replay and real sessions speak one language.
    const template = llamaCppSpace(
      {
        cpu: { model: '', cores: 1, threads: 1, flags: [] },
        memoryBytes: 0,
        gpus: withGpu
          ? Array.from({ length: gpuCount }, () => ({
              name: 'gpu',
              vramBytes: 0,
              computeCapability: '',
              driver: '',
              ...(backend ? { backend } : {}),
            }))
          : [],
        os: '',
        arch: '',
      },
      { rowSizes: [256], fileType: 'F16', layers: 1, ...(withCpuMoe ? { expertCount: 2 } : {}) } as ModelInfo,
    );
    const quantOrder = QUANT_TYPES.map((q) => q.name);
    // Knobs the recording does not vary (e.g. the quantization recipe beyond the type) are not part of its space.
    const knobs: Knob[] = template.knobs
      .filter((k) => domains.has(k.name))
      .map((k) => {
        const seen = [...(domains.get(k.name) ?? [])];
        const values =
          k.name === 'quant'
            ? seen.sort((a, b) => quantOrder.indexOf(String(a)) - quantOrder.indexOf(String(b)))
            : k.kind === 'int'
              ? seen.sort((a, b) => Number(a) - Number(b))
              : // In the live space's order, and what the recording holds beyond it (e.g. -sm row from a build that had
                // it) after: a replay answers what was measured.
                [...k.values.filter((v) => seen.includes(v)), ...seen.filter((v) => !k.values.includes(v))];
        const def = values.includes(k.default) ? k.default : values[0];
        return { ...k, values, default: def };
      });
    this.space = new SearchSpace(knobs, [
      QUANTIZED_V_NEEDS_FA,
      UBATCH_LE_BATCH,
      {
        id: 'recorded',
        description: 'replay answers only configurations present in the recording',
        check: (c) => (this.byKey.has(this.space.key(c)) ? undefined : 'this configuration was not recorded'),
      },
    ]);
    for (const { c, r } of pairs) {
      const key = this.space.key(c);
      if (!this.byKey.has(key)) this.byKey.set(key, []);
      this.byKey.get(key)!.push(r);
    }
  }

  info(): Record<string, unknown> {
    return {
      toolchain: this.name,
      files: this.files.map((f) => path.resolve(f)),
      rows: this.rows.length,
      configurations: this.byKey.size,
      ...(this.rejected.length ? { rejectedRows: this.rejected.length, rejected: this.rejected.slice(0, 5) } : {}),
    };
  }

  /** Every recorded configuration. */
  recorded(): Config[] {
    return [...this.space.enumerate()];
  }

  /**
   * The machine the rows were recorded on, as llama-bench wrote it: its GPUs (gpu_info, one name per device) and their
   * backend (backends), the CPU's name and the most threads any row used. Memory and CPU features are not recorded:
   * 0 and none. A GPU recording replayed on a CPU machine is still a GPU session for the strategies.
   */
  hardware(): HardwareProfile {
    const threads = this.maxThreads;
    const gpuRow = this.rows.find((r) => r.n_gpu_layers > 0 && r.gpu_info);
    const backend = gpuBackend((gpuRow?.backends ?? '').split(','));
    const names = this.withGpu && gpuRow?.gpu_info ? gpuRow.gpu_info.split(/,\s*/).filter(Boolean) : [];
    return {
      cpu: { model: this.rows[0].cpu_info ?? 'unknown (replay)', cores: threads, threads, flags: [] },
      memoryBytes: 0,
      os: '',
      arch: '',
      gpus: names.map((name) => ({
        name,
        vramBytes: 0,
        computeCapability: '',
        driver: '',
        ...(backend ? { backend } : {}),
      })),
    };
  }

  /**
   * The recorded model: its description from the recording (see recordedModel), or one made of what llama-bench rows
   * say (parameters, type, sizes; no layers or shapes), standing in for a GGUF header.
   */
  modelInfo(): ModelInfo {
    if (this.model) return { ...this.model, name: `${this.model.name} (replay)` };
    const r = this.rows[0];
    const name = r.model_filename ? path.basename(r.model_filename).replace(/\.gguf$/, '') : r.model_type;
    return {
      path: r.model_filename ?? '(replay)',
      name: `${name} (replay)`,
      arch: r.model_type.split(' ')[0] ?? 'unknown',
      parameterCount: r.model_n_params ?? 0,
      layers: 0,
      embeddingLength: 0,
      feedForwardLength: 0,
      headCount: 0,
      headCountKv: 0,
      vocabSize: 0,
      contextLength: 0,
      fileType: 'F16',
      sizeBytes: this.sourceBytes,
      rowSizes: [],
    };
  }

  /** Per session (its logs folder): the model files its replayed trials have "made". */
  private readonly made = new Map<string, Set<string>>();

  /**
   * What the trial would have cost on the recording's machine, modeled (nothing runs): llama-quantize's seconds for a
   * file the session has not made yet (QUANTIZE_WORK at the prior rate per core, cost.ts), and llama-bench's from the
   * recorded speeds — each row's tokens at its mean speed, every repetition plus the warm-up, the depth filled once at
   * the configuration's prompt speed (llama-bench restores it for the rest: rowSeconds), and the model's load at 1 GB/s.
   */
  private modeledSteps(config: Config, rows: BenchRow[], session: string): StepRecord[] {
    const note = 'modeled from the recording (replay)';
    const steps: StepRecord[] = [];
    const file = recipeKey(config);
    if (!usesSourceAsIs(config, 'F16')) {
      const made = this.made.get(session) ?? new Set<string>();
      this.made.set(session, made);
      const cached = made.has(file);
      made.add(file);
      steps.push(
        cached
          ? { name: 'quantize', seconds: 0, cached: true }
          : { name: 'quantize', seconds: priorQuantizeSeconds(this.sourceBytes, this.maxThreads, config.quant), note },
      );
    }
    const pp = rows.find((r) => r.n_prompt > 0 && r.avg_ts > 0)?.avg_ts;
    let bench = Math.max(...rows.map((r) => r.model_size)) / 1e9;
    rows.forEach((r, i) => (bench += rowSeconds(r, pp, depthStateBefore(rows, i))));
    steps.push({ name: 'bench', seconds: Math.round(bench * 1000) / 1000, note });
    return steps;
  }

  async runTrial(config: Config, ctx: TrialContext): Promise<TrialOutcome> {
    const rows = this.byKey.get(this.space.key(config));
    if (!rows) return { status: 'failed', metrics: {}, cause: 'not in the recording', steps: [] };
    // Rows recorded at a depth (llama-bench -d 0,D, as HAQA measures with --context) are judged at the deepest one,
    // the depth-0 rows kept beside them, as in the session that recorded them.
    const depth = Math.max(0, ...rows.map((r) => (typeof r.n_depth === 'number' ? r.n_depth : 0)));
    const metrics = metricsFromRows(rows, depth);
    // The GPU memory the configuration took, where the recording sampled it: one GPU's peak, as a real trial's.
    const peaks = rows.map((r) => r.peak_gpu_mib).filter((m): m is number => typeof m === 'number' && m >= 0);
    if (peaks.length) metrics.peakDeviceMemBytes = metrics.peakDeviceMemMaxBytes = Math.max(...peaks) * 2 ** 20;
    return { status: 'done', metrics, steps: this.modeledSteps(config, rows, ctx.logDir) };
  }
}

const DESCRIBE_FIX = {
  cli: 'write it with `haqa inspect SOURCE.gguf --json`, or remove it',
  vscode: "write it with the haqa CLI's `inspect SOURCE.gguf --json`, or remove it",
};

/**
 * The description of a recording's model, kept beside it as `<recording>.model.json` (`haqa inspect SOURCE.gguf
 * --json` of the file the grid's recipes were made from): with it a replay's strategies see the model a real session
 * would (layers, experts, tensor shapes, the source's size). Undefined when there is none.
 */
export function recordedModel(file: string): ModelInfo | undefined {
  const side = file.replace(/\.jsonl?$/, '') + '.model.json';
  if (!fs.existsSync(side)) return undefined;
  let m: Partial<ModelInfo>;
  try {
    m = JSON.parse(fs.readFileSync(side, 'utf8')) as Partial<ModelInfo>;
  } catch (e) {
    throw new HaqaError(`${side} is not JSON (${(e as Error).message})`, DESCRIBE_FIX, 'input');
  }
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!num(m.layers) || !num(m.sizeBytes) || !num(m.parameterCount) || !Array.isArray(m.rowSizes))
    throw new HaqaError(
      `${side} is not a model description (layers, sizeBytes, parameterCount, rowSizes)`,
      DESCRIBE_FIX,
      'input',
    );
  return { ...(m as ModelInfo), path: `${path.basename(file)} (replay)` };
}
