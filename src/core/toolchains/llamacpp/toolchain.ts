import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { ArtifactCache } from '../../artifacts';
import { errorMessage, isHaqaError } from '../../errors';
import { quantType, UNQUANTIZED_FILE_TYPES } from '../../ggml';
import type { SearchSpace } from '../../space';
import type { Config, HardwareProfile, ModelInfo, TrialMetrics, Workload } from '../../types';
import type { StepRecord, Toolchain, TrialContext, TrialOutcome } from '../toolchain';
import { benchArgs, diagnoseFailure, metricsFromRows, parseBenchOutput } from './bench';
import type { LlamaTools } from './locate';
import { llamaCppSpace } from './space';

export interface LlamaCppOptions {
  workload: Workload;
  cacheDir?: string;
  quantizeTimeoutMs?: number;
  benchTimeoutMs?: number;
}

/** GPU memory in use (MiB, summed over GPUs), or undefined without nvidia-smi. */
function gpuMemUsedMiB(): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { timeout: 5000 }, (err, out) => {
      if (err) return resolve(undefined);
      const vals = out.split('\n').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n >= 0);
      resolve(vals.length ? vals.reduce((a, b) => a + b, 0) : undefined);
    });
  });
}

/** Real trials: llama-quantize (cached by content) → llama-bench → parse. */
export class LlamaCppToolchain implements Toolchain {
  readonly name = 'llama.cpp';
  readonly space: SearchSpace;
  private readonly artifacts: ArtifactCache;

  constructor(readonly tools: LlamaTools, readonly hw: HardwareProfile, readonly model: ModelInfo, readonly opts: LlamaCppOptions) {
    this.space = llamaCppSpace(hw, model);
    this.artifacts = new ArtifactCache(opts.cacheDir);
  }

  info(): Record<string, unknown> {
    return { toolchain: this.name, binDir: this.tools.binDir, source: this.tools.source, commit: this.tools.commit, backend: this.tools.backend, workload: this.opts.workload };
  }

  /** The file a trial benchmarks: the source itself when no quantization is needed, else a cached artifact. */
  async artifactFor(quant: string): Promise<{ file: string; needsQuantize: boolean }> {
    if (quant === this.model.fileType) return { file: this.model.path, needsQuantize: false };
    const digest = await this.artifacts.digest(this.model.path);
    const file = this.artifacts.pathFor(digest, { quant });
    return { file, needsQuantize: !fs.existsSync(file) };
  }

  async runTrial(config: Config, ctx: TrialContext): Promise<TrialOutcome> {
    const steps: StepRecord[] = [];
    const quant = String(config.quant);
    const logFor = (step: string) => path.join(ctx.logDir, `trial-${String(ctx.trialIndex).padStart(3, '0')}-${step}.log`);
    let file: string;
    try {
      const a = await this.artifactFor(quant);
      file = a.file;
      if (a.needsQuantize) {
        const q = quantType(quant);
        const srcBits = this.model.fileType === 'F32' ? 32 : 16;
        const need = UNQUANTIZED_FILE_TYPES.has(this.model.fileType) && q ? (this.model.sizeBytes * q.bpw) / srcBits : this.model.sizeBytes;
        this.artifacts.ensureFreeSpace(Math.ceil(need * 1.1) + (64 << 20));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.part-${process.pid}`;
        ctx.onProgress?.(`quantize → ${quant}`);
        const log = logFor('quantize');
        const r = await ctx.runner.run([this.tools.quantize, this.model.path, tmp, quant, String(this.hw.cpu.threads)],
          { timeoutMs: this.opts.quantizeTimeoutMs ?? 3600_000, signal: ctx.signal, logFile: log });
        steps.push({ name: 'quantize', seconds: r.durationMs / 1000, log });
        if (r.cancelled) { fs.rmSync(tmp, { force: true }); return { status: 'cancelled', metrics: {}, cause: 'cancelled during quantize', steps }; }
        if (r.timedOut || r.exitCode !== 0 || !fs.existsSync(tmp)) {
          fs.rmSync(tmp, { force: true });
          const cause = r.timedOut ? `llama-quantize timed out after ${Math.round(r.durationMs / 1000)} s` : r.spawnError ? `llama-quantize could not start: ${r.spawnError}` : `llama-quantize ${diagnoseFailure(r.outputTail, r.exitCode, r.signal)}`;
          return { status: 'failed', metrics: {}, cause, steps };
        }
        fs.renameSync(tmp, file);
      } else if (file !== this.model.path) {
        steps.push({ name: 'quantize', seconds: 0, cached: true });
      }
    } catch (e) {
      return { status: 'failed', metrics: {}, cause: isHaqaError(e) ? `${e.message} (fix: ${e.fix})` : `preparing the model failed: ${errorMessage(e)}`, steps };
    }

    ctx.onProgress?.('llama-bench');
    const log = logFor('bench');
    const watchGpu = this.hw.gpus.length > 0;
    const base = watchGpu ? await gpuMemUsedMiB() : undefined;
    let gpuPeak = base ?? 0;
    let polling = watchGpu && base !== undefined;
    const poller = (async () => {
      while (polling) {
        const v = await gpuMemUsedMiB();
        if (v !== undefined) gpuPeak = Math.max(gpuPeak, v);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const r = await ctx.runner.run(benchArgs(this.tools.bench, file, config, this.opts.workload),
      { timeoutMs: this.opts.benchTimeoutMs ?? 1800_000, signal: ctx.signal, logFile: log });
    polling = false;
    await poller;
    steps.push({ name: 'bench', seconds: r.durationMs / 1000, log });
    if (r.cancelled) return { status: 'cancelled', metrics: {}, cause: 'cancelled during llama-bench', steps };
    const rows = parseBenchOutput(r.stdout);
    const metrics: TrialMetrics = { ...metricsFromRows(rows), fileSizeBytes: fs.statSync(file).size, peakHostMemBytes: r.peakRssBytes };
    if (base !== undefined && gpuPeak > base) metrics.peakDeviceMemBytes = (gpuPeak - base) * 1024 * 1024;
    if (r.timedOut) return { status: 'failed', metrics, cause: `llama-bench timed out after ${Math.round(r.durationMs / 1000)} s (hang or far too slow)`, steps };
    if (r.spawnError) return { status: 'failed', metrics, cause: `llama-bench could not start: ${r.spawnError}`, steps };
    if (r.exitCode !== 0 || (!metrics.decode && this.opts.workload.genTokens > 0)) {
      return { status: 'failed', metrics, cause: `llama-bench ${diagnoseFailure(r.outputTail, r.exitCode, r.signal)}`, steps };
    }
    return { status: 'done', metrics, steps };
  }
}
