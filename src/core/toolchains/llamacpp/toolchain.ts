import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { ArtifactCache } from '../../artifacts';
import { errorMessage, isHaqaError, isHalting } from '../../errors';
import { estimatedFileBytes } from '../../ggml';
import { placementLabel } from '../../format';
import type { RunResult } from '../../process/runner';
import type { SearchSpace } from '../../space';
import type { ObjectiveSpec } from '../../objective';
import {
  type Config,
  type FittedPlacement,
  type HardwareProfile,
  type MemoryProjection,
  type ModelInfo,
  type TrialMetrics,
  type Workload,
} from '../../types';
import type { StepRecord, Toolchain, TrialContext, TrialOutcome } from '../toolchain';
import { benchArgs, rowProblem, diagnoseFailure, metricsFromRows, parseBenchOutput } from './bench';
import { contextFor } from './deploy';
import {
  fitArgs,
  fitChoiceArgs,
  fitChoiceFlags,
  fitChoiceKnobs,
  fitMarginsMiB,
  deviceProblems,
  fitProblems,
  fitsWhole,
  parseFitChoice,
  parseFitPrint,
  type FitChoice,
} from './fit';
import type { LlamaTools } from './locate';
import { KV_TYPES, llamaCppSpace, quantRecipe } from './space';
import { usesSourceAsIs } from '../../knobs';
import { recipeKey } from '../../cost';
import { kvHeavy } from '../../knobs';
import {
  accuracyKey,
  accuracyMetrics,
  baseArgs,
  builtinCalibrationText,
  kldArgs,
  parsePerplexityOutput,
  type AccuracyOptions,
} from './accuracy';
import { childEnv } from '../../secrets';

export interface LlamaCppOptions {
  workload: Workload;
  /**
   * Calibration texts for the importance matrix, by the name the `imatrix` knob uses (default: builtin → the shipped
   * sample).
   */
  calibrations?: Record<string, string>;
  /** Measure accuracy (llama-perplexity, KL divergence to the source) in every trial. */
  accuracy?: AccuracyOptions;
  accuracyTimeoutMs?: number;
  cacheDir?: string;
  quantizeTimeoutMs?: number;
  benchTimeoutMs?: number;
  /** The session's limits: a configuration llama.cpp projects over them (memory) is refused before it runs. */
  objective?: ObjectiveSpec;
}

/** GPU memory in use per GPU (MiB, in nvidia-smi's order), or undefined without nvidia-smi. */
function gpuMemUsedMiB(): Promise<number[] | undefined> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=memory.used', '--format=csv,noheader,nounits'],
      { timeout: 5000, env: childEnv() },
      (err, out) => {
        if (err) return resolve(undefined);
        const vals = out
          .split('\n')
          .filter((s) => s.trim())
          .map((s) => Number(s.trim()));
        resolve(vals.length && vals.every((n) => Number.isFinite(n) && n >= 0) ? vals : undefined);
      },
    );
  });
}

/**
 * The peak rise of memory on each GPU over a run (MiB), from samples taken during it: their sum is what the run added
 * on all GPUs (--max-mem-mb), their largest what it added on one (--max-vram-mb is per GPU).
 */
export function gpuPeaks(base: number[], samples: number[][]): { sumMiB: number; maxMiB: number } {
  const rise = base.map((b, i) => Math.max(0, ...samples.map((s) => (s[i] ?? b) - b)));
  return { sumMiB: rise.reduce((a, b) => a + b, 0), maxMiB: Math.max(0, ...rise) };
}

/** Runs of llama-perplexity --kl-divergence before its missing statistics are a failure (see measureAccuracy). */
const KLD_ATTEMPTS = 3;

const cancelledFit = (steps: StepRecord[]): TrialOutcome => ({
  status: 'cancelled',
  metrics: {},
  cause: 'cancelled during llama-fit-params',
  steps,
});

/**
 * The K/V cache types smaller than a refused trial's (q8_0, then q4_0) when its cache is most of what the projection
 * puts on a GPU (KV_SHARE, a long context); none when K and V differ.
 */
export function smallerCaches(config: Config, p: MemoryProjection): string[] {
  const k = String(config.cache_type_k);
  if (k !== String(config.cache_type_v) || !KV_TYPES.includes(k)) return [];
  return p.devices.some(kvHeavy) ? KV_TYPES.slice(KV_TYPES.indexOf(k) + 1) : [];
}

/** Real trials: llama-quantize (cached by content) → llama-bench → parse. */
export class LlamaCppToolchain implements Toolchain {
  readonly name = 'llama.cpp';
  readonly space: SearchSpace;
  private readonly artifacts: ArtifactCache;

  constructor(
    readonly tools: LlamaTools,
    readonly hw: HardwareProfile,
    readonly model: ModelInfo,
    readonly opts: LlamaCppOptions,
  ) {
    this.space = llamaCppSpace(hw, model, { calibrations: Object.keys(this.calibrations()) });
    this.artifacts = new ArtifactCache(opts.cacheDir);
  }

  info(): Record<string, unknown> {
    return {
      toolchain: this.name,
      binDir: this.tools.binDir,
      source: this.tools.source,
      commit: this.tools.commit,
      backend: this.tools.backend,
      workload: this.opts.workload,
      accuracy: this.opts.accuracy
        ? { evalFile: this.opts.accuracy.evalFile, chunks: this.opts.accuracy.chunks, ctx: this.opts.accuracy.ctx }
        : null,
    };
  }

  private calibrations(): Record<string, string> {
    if (this.opts.calibrations) return this.opts.calibrations;
    const f = builtinCalibrationText();
    return f ? { builtin: f } : {};
  }

  /** The file a trial benchmarks: the source itself when no quantization is needed, else a cached artifact. */
  async artifactFor(
    config: Config,
  ): Promise<{ file: string; needsQuantize: boolean; recipe: Record<string, string | number> }> {
    const recipe = quantRecipe(config);
    if (usesSourceAsIs(config, this.model.fileType)) return { file: this.model.path, needsQuantize: false, recipe };
    const digest = await this.artifacts.modelDigest(this.model.path);
    const file = this.artifacts.pathFor(digest, recipe);
    return { file, needsQuantize: !fs.existsSync(file), recipe };
  }

  /** The configurations' model files that the artifact cache holds already (earlier sessions made them), as recipeKeys. */
  async cachedFiles(configs: Config[]): Promise<Set<string>> {
    const out = new Set<string>();
    const digest = await this.artifacts.modelDigest(this.model.path);
    for (const c of configs)
      if (!usesSourceAsIs(c, this.model.fileType) && fs.existsSync(this.artifacts.pathFor(digest, quantRecipe(c))))
        out.add(recipeKey(c));
    return out;
  }

  /** The importance matrix for a calibration text and chunk count: computed once with llama-imatrix, then cached. */
  private async ensureImatrix(
    name: string,
    chunks: number,
    ctx: TrialContext,
    steps: StepRecord[],
    log: string,
  ): Promise<{ file?: string; cause?: string; cancelled?: boolean }> {
    const text = this.calibrations()[name];
    if (!text || !fs.existsSync(text))
      return { cause: `calibration text "${name}" not found (fix: pass --calibration-text FILE)` };
    if (!this.tools.imatrix)
      return { cause: 'llama-imatrix is missing from the llama.cpp tools (fix: `haqa toolchain build`)' };
    const src = await this.artifacts.modelDigest(this.model.path);
    const file = this.artifacts.pathFor(
      src,
      { kind: 'imatrix', calibration: (await this.artifacts.digest(text)).slice(0, 16), chunks },
      '.imatrix.gguf',
    );
    if (fs.existsSync(file)) {
      steps.push({ name: 'imatrix', seconds: 0, cached: true });
      return { file };
    }
    ctx.onProgress?.(`imatrix on ${name} (${chunks} chunks)`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.part-${process.pid}.gguf`;
    const argv = [
      this.tools.imatrix,
      '-m',
      this.model.path,
      '-f',
      text,
      '-o',
      tmp,
      '--chunks',
      String(chunks),
      '-c',
      '512',
      '-t',
      String(this.hw.cpu.cores),
      ...(this.hw.gpus.length ? ['-ngl', '999'] : []),
    ];
    const r = await ctx.runner.run(argv, {
      timeoutMs: this.opts.quantizeTimeoutMs ?? 3600_000,
      signal: ctx.signal,
      logFile: log,
    });
    steps.push({ name: 'imatrix', seconds: r.durationMs / 1000, log });
    if (r.cancelled) {
      fs.rmSync(tmp, { force: true });
      return { cancelled: true, cause: 'cancelled during llama-imatrix' };
    }
    if (r.timedOut || r.exitCode !== 0 || !fs.existsSync(tmp)) {
      fs.rmSync(tmp, { force: true });
      return { cause: stepFailure('llama-imatrix', r) };
    }
    fs.renameSync(tmp, file);
    return { file };
  }

  async runTrial(config: Config, ctx: TrialContext): Promise<TrialOutcome> {
    const steps: StepRecord[] = [];
    const quant = String(config.quant);
    const logFor = (step: string) =>
      path.join(ctx.logDir, `${ctx.logTag ?? `trial-${String(ctx.trialIndex).padStart(3, '0')}`}-${step}.log`);
    let file: string;
    let recipe: Record<string, string | number>;
    try {
      const a = await this.artifactFor(config);
      file = a.file;
      recipe = a.recipe;
      if (a.needsQuantize) {
        let imatrixFile: string | undefined;
        if (a.recipe.imatrix) {
          const im = await this.ensureImatrix(
            String(a.recipe.imatrix),
            Number(a.recipe.imatrix_chunks),
            ctx,
            steps,
            logFor('imatrix'),
          );
          if (im.cancelled) return { status: 'cancelled', metrics: {}, cause: im.cause, steps };
          if (!im.file) return { status: 'failed', metrics: {}, cause: im.cause, steps };
          imatrixFile = im.file;
        }
        this.artifacts.ensureFreeSpace(Math.ceil(estimatedFileBytes(this.model, quant) * 1.1) + (64 << 20));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.part-${process.pid}`;
        ctx.onProgress?.(`quantize → ${quant}`);
        const log = logFor('quantize');
        const r = await ctx.runner.run(
          [
            this.tools.quantize,
            ...quantizeFlags(a.recipe, imatrixFile),
            this.model.path,
            tmp,
            quant,
            String(this.hw.cpu.threads),
          ],
          { timeoutMs: this.opts.quantizeTimeoutMs ?? 3600_000, signal: ctx.signal, logFile: log },
        );
        steps.push({ name: 'quantize', seconds: r.durationMs / 1000, log });
        if (r.cancelled) {
          fs.rmSync(tmp, { force: true });
          return { status: 'cancelled', metrics: {}, cause: 'cancelled during quantize', steps };
        }
        const size = fs.existsSync(tmp) ? fs.statSync(tmp).size : undefined;
        if (r.timedOut || r.exitCode !== 0 || !size) {
          const wrote = size === 0 ? 'an empty file' : 'no file';
          fs.rmSync(tmp, { force: true });
          // Exit 0 without a file is no success: a wrong binary, or the disk of the cache (ENOSPC) mid-write.
          const cause =
            r.exitCode === 0 && !r.timedOut && !r.overflow
              ? `llama-quantize exited with code 0 but wrote ${wrote}: a wrong binary, or no space left in the cache (${this.artifacts.dir})`
              : stepFailure('llama-quantize', r);
          // A full cache disk is the machine's failure, not this configuration's: the session stops (resumable).
          const full = /no space left on device|ENOSPC/i.test(r.outputTail);
          const halt = full
            ? `the artifact cache's disk is full (${this.artifacts.dir}): free space, then resume`
            : undefined;
          return { status: 'failed', metrics: {}, cause, steps, ...(halt ? { halt } : {}) };
        }
        fs.renameSync(tmp, file);
      } else if (file !== this.model.path) {
        steps.push({ name: 'quantize', seconds: 0, cached: true });
      }
    } catch (e) {
      const cause = isHaqaError(e)
        ? `${e.message} (fix: ${e.fixFor('any')})`
        : `preparing the model failed: ${errorMessage(e)}`;
      return { status: 'failed', metrics: {}, cause, steps, ...(isHalting(e) ? { halt: cause } : {}) };
    }

    const projected = await this.project(file, config, ctx, steps, logFor('fit'));
    if (projected === 'cancelled') return cancelledFit(steps);
    // A split source is benchmarked through its first shard; its size is all of them.
    const fileSizeBytes = file === this.model.path ? this.model.sizeBytes : fs.statSync(file).size;
    if (projected) {
      const objective = this.opts.objective ?? { kind: 'decode' };
      const over = fitProblems(projected, {
        objective,
        gpus: this.hw.gpus,
        hostBytes: this.hw.memoryBytes,
      });
      if (over.length) {
        const metrics: TrialMetrics = { fileSizeBytes, projected };
        let hint = '';
        // Over a GPU's memory (not the host's, which placing less on a GPU cannot fix): where llama.cpp would put the
        // boundary for these settings, and — the KV cache being most of it (a long context) — for each smaller cache.
        if (deviceProblems(projected, { objective, gpus: this.hw.gpus }).length) {
          const fit = await this.fitFor(file, config, ctx, steps, logFor('fit-choice'));
          if (fit === 'cancelled') return cancelledFit(steps);
          if (fit && !fitsWhole(fit.choice, this.model.layers)) {
            metrics.fitted = fit.fitted;
            hint = `; llama.cpp's fit for these settings: ${fit.fitted.flags.join(' ')} (${placementLabel(fit.fitted)})`;
          }
          const smaller: FittedPlacement[] = [];
          for (const kv of smallerCaches(config, projected)) {
            const c = { ...config, cache_type_k: kv, cache_type_v: kv, flash_attn: true };
            const f = await this.fitFor(file, c, ctx, steps, logFor(`fit-choice-${kv}`));
            if (f === 'cancelled') return cancelledFit(steps);
            if (f) smaller.push({ ...f.fitted, cacheType: kv });
          }
          if (smaller.length) metrics.fittedSmallerKv = smaller;
        }
        return { status: 'infeasible', metrics, cause: `${over.join('; ')} (not run)${hint}`, steps };
      }
    }

    ctx.onProgress?.('llama-bench');
    const log = logFor('bench');
    const watchGpu = this.hw.gpus.length > 0;
    const base = watchGpu ? await gpuMemUsedMiB() : undefined;
    const samples: number[][] = [];
    let polling = watchGpu && base !== undefined;
    const poller = (async () => {
      while (polling) {
        const v = await gpuMemUsedMiB();
        if (v !== undefined && v.length === base?.length) samples.push(v);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const r = await ctx.runner.run(benchArgs(this.tools.bench, file, config, this.opts.workload), {
      timeoutMs: this.opts.benchTimeoutMs ?? 1800_000,
      signal: ctx.signal,
      logFile: log,
    });
    polling = false;
    await poller;
    steps.push({ name: 'bench', seconds: r.durationMs / 1000, log });
    if (r.cancelled) return { status: 'cancelled', metrics: {}, cause: 'cancelled during llama-bench', steps };
    const rows = parseBenchOutput(r.stdout);
    const metrics: TrialMetrics = {
      ...metricsFromRows(rows, this.opts.workload.depth),
      fileSizeBytes,
      peakHostMemBytes: r.peakRssBytes,
      ...(projected ? { projected } : {}),
    };
    if (base !== undefined && samples.length) {
      const peak = gpuPeaks(base, samples);
      if (peak.sumMiB > 0) {
        metrics.peakDeviceMemBytes = peak.sumMiB * 2 ** 20;
        metrics.peakDeviceMemMaxBytes = peak.maxMiB * 2 ** 20;
      }
    }
    if (r.timedOut || r.spawnError || r.overflow)
      return { status: 'failed', metrics, cause: stepFailure('llama-bench', r), steps };
    const implausible = rows.map(rowProblem).filter((x): x is string => x !== undefined);
    if (r.exitCode === 0 && implausible.length && !metrics.decode)
      return {
        status: 'failed',
        metrics,
        cause: `llama-bench printed figures no measurement can produce (${implausible.join('; ')}): a broken build?`,
        steps,
      };
    if (r.exitCode !== 0 || (!metrics.decode && this.opts.workload.genTokens > 0)) {
      return { status: 'failed', metrics, cause: stepFailure('llama-bench', r, benchDiagnosis(config)), steps };
    }
    if (this.opts.accuracy) {
      const acc = await this.measureAccuracy(file, recipe, config, ctx, steps, logFor);
      if (acc.status !== 'done') return { status: acc.status, metrics, cause: acc.cause, steps };
      metrics.accuracy = acc.metrics;
    }
    return { status: 'done', metrics, steps };
  }

  /**
   * llama.cpp's memory projection for the trial at the served context (llama-fit-params), or undefined when this build
   * has no llama-fit-params or it could not project (the trial then runs, as before there was a projection).
   */
  private async project(
    file: string,
    config: Config,
    ctx: TrialContext,
    steps: StepRecord[],
    log: string,
  ): Promise<MemoryProjection | 'cancelled' | undefined> {
    if (!this.tools.fitParams) return undefined;
    const context = contextFor(this.opts.workload, this.model.contextLength);
    ctx.onProgress?.(`llama-fit-params at context ${context}`);
    const r = await ctx.runner.run(fitArgs(this.tools.fitParams, file, config, context), {
      timeoutMs: this.opts.benchTimeoutMs ?? 120_000,
      signal: ctx.signal,
      logFile: log,
    });
    if (r.cancelled) return 'cancelled';
    const projected = r.exitCode === 0 ? parseFitPrint(r.stdout, context) : undefined;
    // No projection is no verdict on the configuration: the trial runs unchecked, and says so.
    const note = projected ? undefined : `no memory projection (${stepFailure('llama-fit-params', r)}): run unchecked`;
    if (note) ctx.onProgress?.(note);
    steps.push({ name: 'fit', seconds: r.durationMs / 1000, log, ...(note ? { note } : {}) });
    return projected;
  }

  /**
   * llama.cpp's fit of `config` (llama-fit-params): where it places the layers and experts at the served context
   * within each GPU's free memory and the per-GPU limit. Undefined without a GPU, without llama-fit-params, or when it
   * cannot fit or prints what HAQA does not take as arguments.
   */
  private async fitFor(
    file: string,
    config: Config,
    ctx: TrialContext,
    steps: StepRecord[],
    log: string,
  ): Promise<{ choice: FitChoice; fitted: FittedPlacement } | 'cancelled' | undefined> {
    if (!this.tools.fitParams || this.hw.gpus.length === 0) return undefined;
    const context = contextFor(this.opts.workload, this.model.contextLength);
    ctx.onProgress?.(`llama-fit-params: llama.cpp's fit at context ${context}`);
    const margins = fitMarginsMiB(this.hw.gpus, this.opts.objective?.maxVramBytes);
    const r = await ctx.runner.run(fitChoiceArgs(this.tools.fitParams, file, config, context, margins), {
      timeoutMs: this.opts.benchTimeoutMs ?? 120_000,
      signal: ctx.signal,
      logFile: log,
    });
    if (r.cancelled) return 'cancelled';
    const choice = r.exitCode === 0 ? parseFitChoice(r.stdout) : undefined;
    const note = choice ? undefined : `llama.cpp's fit gave no placement (${stepFailure('llama-fit-params', r)})`;
    steps.push({ name: 'fit-choice', seconds: r.durationMs / 1000, log, ...(note ? { note } : {}) });
    if (!choice) return undefined;
    const knobs = fitChoiceKnobs(choice, this.model);
    return { choice, fitted: { ...knobs, flags: fitChoiceFlags(choice) } };
  }

  /**
   * llama.cpp's own placement for `config` on this session's GPUs, for a configuration whose model file is already
   * made (the reference a verdict is compared with). Undefined when there is none to ask for.
   */
  async fitPlacement(
    config: Config,
    ctx: TrialContext,
  ): Promise<{ fitted: FittedPlacement; whole: boolean } | { why: string } | undefined> {
    if (!this.tools.fitParams || this.hw.gpus.length === 0) return undefined;
    const a = await this.artifactFor(config);
    if (a.needsQuantize) return { why: `${String(config.quant)} has no model file yet` };
    const steps: StepRecord[] = [];
    const log = path.join(ctx.logDir, `${ctx.logTag ?? 'reference'}-fit.log`);
    const fit = await this.fitFor(a.file, config, ctx, steps, log);
    if (fit === 'cancelled') return { why: 'cancelled' };
    if (!fit) return { why: steps.find((s) => s.note)?.note ?? "llama.cpp's fit gave no placement" };
    return { fitted: fit.fitted, whole: fitsWhole(fit.choice, this.model.layers) };
  }

  /** Runs one llama-perplexity, with the trial's log and the toolchain's failure diagnosis. */
  private async perplexity(argv: string[], name: string, ctx: TrialContext, steps: StepRecord[], log: string) {
    const r = await ctx.runner.run(argv, {
      timeoutMs: this.opts.accuracyTimeoutMs ?? 3600_000,
      signal: ctx.signal,
      logFile: log,
      captureStderr: true,
      stdoutDirect: true,
    });
    steps.push({ name, seconds: r.durationMs / 1000, log });
    const text = `${r.stdout}\n${r.stderr ?? ''}`;
    const cause = r.cancelled
      ? 'cancelled during llama-perplexity'
      : r.timedOut || r.spawnError || r.exitCode !== 0
        ? stepFailure('llama-perplexity', r, (tail, code, signal, memory) =>
            perplexityFailure(text, tail, code, signal, memory),
          )
        : undefined;
    return { r, cause, parsed: parsePerplexityOutput(text) };
  }

  /**
   * Accuracy of `file` against the source: the source's logits once (cached by model, text, ctx, chunks), then one
   * --kl-divergence run per (artifact, KV cache types), cached beside the artifact and reused across runtime knobs.
   */
  private async measureAccuracy(
    file: string,
    quantRecipeOf: Record<string, string | number>,
    config: Config,
    ctx: TrialContext,
    steps: StepRecord[],
    logFor: (s: string) => string,
  ): Promise<{ status: 'done' | 'failed' | 'cancelled'; metrics?: Record<string, number>; cause?: string }> {
    const o = this.opts.accuracy!;
    const tool = this.tools.perplexity;
    if (!tool)
      return {
        status: 'failed',
        cause: 'llama-perplexity is missing from the llama.cpp tools (fix: `haqa toolchain build`, or --accuracy off)',
      };
    const gpu = this.hw.gpus.length > 0;
    const threads = this.hw.cpu.cores;
    try {
      const src = await this.artifacts.modelDigest(this.model.path);
      const evalDigest = (await this.artifacts.digest(o.evalFile)).slice(0, 16);
      const recipe = { eval: evalDigest, ctx: o.ctx, chunks: o.chunks };
      const baseFile = this.artifacts.pathFor(src, { kind: 'kld-base', ...recipe }, '.kld');
      if (!fs.existsSync(baseFile)) {
        ctx.onProgress?.('accuracy: logits of the source model (once)');
        this.artifacts.ensureFreeSpace(o.chunks * o.ctx * this.model.vocabSize * 2 + (64 << 20));
        fs.mkdirSync(path.dirname(baseFile), { recursive: true });
        const tmp = `${baseFile}.part-${process.pid}`;
        const b = await this.perplexity(
          baseArgs(tool, this.model.path, tmp, o, threads, gpu),
          'accuracy-base',
          ctx,
          steps,
          logFor('accuracy-base'),
        );
        if (b.cause || !fs.existsSync(tmp)) {
          fs.rmSync(tmp, { force: true });
          return {
            status: b.r.cancelled ? 'cancelled' : 'failed',
            cause: b.cause ?? 'llama-perplexity wrote no base logits',
          };
        }
        fs.renameSync(tmp, baseFile);
      }
      const resultFile = this.artifacts.pathFor(
        src,
        { kind: 'accuracy', ...quantRecipeOf, ...accuracyKey(config), ...recipe },
        '.json',
      );
      if (fs.existsSync(resultFile)) {
        try {
          const cachedMetrics = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Record<string, number>;
          steps.push({ name: 'accuracy', seconds: 0, cached: true });
          return { status: 'done', metrics: cachedMetrics };
        } catch {
          /* unreadable: measure again */
        }
      }
      ctx.onProgress?.('accuracy: llama-perplexity --kl-divergence');
      // llama.cpp logs from a worker thread and now and then loses the last lines at exit (more often on a busy
      // machine: one CI run lost them twice in a row): run it again, up to KLD_ATTEMPTS in all.
      let k: Awaited<ReturnType<LlamaCppToolchain['perplexity']>> | undefined;
      for (let attempt = 1; attempt <= KLD_ATTEMPTS && !(k && accuracyMetrics(k.parsed)); attempt++) {
        if (attempt > 1)
          ctx.onProgress?.(`accuracy: statistics incomplete, running llama-perplexity again (${attempt})`);
        k = await this.perplexity(
          kldArgs(tool, file, baseFile, o, threads, gpu, config),
          'accuracy',
          ctx,
          steps,
          logFor('accuracy'),
        );
        if (k.cause) return { status: k.r.cancelled ? 'cancelled' : 'failed', cause: k.cause };
      }
      if (!k) return { status: 'failed', cause: 'llama-perplexity did not run' };
      const m = accuracyMetrics(k.parsed);
      if (!m)
        return { status: 'failed', cause: 'llama-perplexity printed no KL-divergence statistics (see the trial log)' };
      fs.writeFileSync(resultFile, JSON.stringify(m));
      return { status: 'done', metrics: m };
    } catch (e) {
      return {
        status: 'failed',
        cause: isHaqaError(e) ? `${e.message} (fix: ${e.fixFor('any')})` : `accuracy step failed: ${errorMessage(e)}`,
      };
    }
  }
}

/** llama-perplexity's own complaints, in words a user can act on. */
function perplexityFailure(text: string, ...failure: Parameters<typeof diagnoseFailure>): string {
  const few = text.match(/you need at least (\d+) tokens/i);
  if (few)
    return `needs at least ${few[1]} tokens of evaluation text: give a longer --eval-text, or lower --eval-chunks`;
  return diagnoseFailure(...failure);
}

/** llama-quantize flags for a recipe (argv values only; every value comes from a validated knob domain). */
export function quantizeFlags(recipe: Record<string, string | number>, imatrixFile?: string): string[] {
  const f: string[] = [];
  if (imatrixFile) f.push('--imatrix', imatrixFile);
  if (recipe.output_type) f.push('--output-tensor-type', String(recipe.output_type));
  if (recipe.embd_type) f.push('--token-embedding-type', String(recipe.embd_type));
  if (recipe.tensor_overrides) for (const o of String(recipe.tensor_overrides).split(',')) f.push('--tensor-type', o);
  return f;
}

/**
 * llama-bench's diagnosis, knowing the configuration: a model that does not load with a split mode other than layer or
 * none most likely met a backend that cannot split that way (llama-bench prints only "failed to load model" unless
 * verbose; at 80fb11a CUDA's `-sm row` stops at "device CUDA0 does not support split buffers").
 */
export function benchDiagnosis(config: Config): typeof diagnoseFailure {
  return (tail, ...rest) => {
    const cause = diagnoseFailure(tail, ...rest);
    const sm = config.split_mode;
    if (!/^the model failed to load/.test(cause) || sm === undefined || sm === 'layer' || sm === 'none') return cause;
    return (
      `${cause}; with split_mode ${String(sm)} (-sm ${String(sm)}) most likely because this build's backend cannot ` +
      'split a model that way (layer and none need no split buffers)'
    );
  };
}

/** Why a tool's run failed, in one phrase: timed out, could not start, or the diagnosis of its output. */
function stepFailure(
  tool: string,
  r: RunResult,
  diagnose: (...failure: Parameters<typeof diagnoseFailure>) => string = diagnoseFailure,
): string {
  if (r.timedOut)
    return `${tool} timed out after ${Math.round(r.durationMs / 1000)} s: a hang, or far too slow (the step limit: --step-timeout MIN / haqa.stepTimeoutMinutes)`;
  if (r.spawnError) return `${tool} could not start: ${r.spawnError}`;
  if (r.overflow) return `${tool}: ${r.overflow} (a broken build or a wrong binary?)`;
  // The tool's own peak memory decides whether a SIGKILL was for memory (see diagnoseFailure).
  return `${tool} ${diagnose(r.outputTail, r.exitCode, r.signal, { peakRssBytes: r.peakRssBytes, totalBytes: os.totalmem() })}`;
}
