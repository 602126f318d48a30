/**
 * What a session needs before its first trial, shared by the CLI and the extension: the hardware profile, the model's
 * facts, the llama.cpp tools (built once when missing) and the toolchain over them — or a replay toolchain.
 */
import * as path from 'node:path';
import { HaqaError } from './errors';
import { UNQUANTIZED_FILE_TYPES } from './ggml';
import { probeHardware } from './hardware';
import { inspectModel } from './model';
import { needsAccuracy, type ObjectiveSpec } from './objective';
import { toolchainRoot } from './paths';
import type { ProcessRunner } from './process/runner';
import type { Backend } from './toolchains/llamacpp/build';
import { ensureTools, withToolInfo, type BuildDevice, type LlamaTools } from './toolchains/llamacpp/locate';
import { LlamaCppToolchain } from './toolchains/llamacpp/toolchain';
import { ReplayToolchain } from './toolchains/replay/replay';
import type { Toolchain } from './toolchains/toolchain';
import type { SessionSpec } from './spec';
import type { StrategyContext } from './strategies';
import type { GpuInfo, HardwareProfile, ModelInfo, Workload } from './types';

export interface Prepared {
  toolchain: Toolchain;
  model: ModelInfo;
  hardware: HardwareProfile;
  tools?: LlamaTools;
  workload: Workload;
}

export interface ToolOptions {
  binDir?: string;
  backend?: Backend;
  runner: ProcessRunner;
  onProgress?: (m: string) => void;
  signal?: AbortSignal;
}

/** The llama.cpp tools: found (explicit folder, $HAQA_LLAMACPP_BIN, PATH, cache) or built once into the cache. */
export function tools(o: ToolOptions): Promise<LlamaTools> {
  return ensureTools({ ...o, logFile: path.join(toolchainRoot(), 'build.log') });
}

export async function prepareSession(spec: SessionSpec, t: ToolOptions): Promise<Prepared> {
  let { workload } = spec;
  if (spec.replay?.length) {
    if (needsAccuracy(spec.objective))
      throw new HaqaError(
        'a ΔPPL / KLD limit needs measured accuracy, which replayed llama-bench rows do not hold',
        'drop the accuracy limit, or optimize a real model',
        'usage',
      );
    const tc = new ReplayToolchain(spec.replay);
    // The recording's machine, not this one: a GPU grid replayed here is still a GPU session.
    return { toolchain: tc, model: tc.modelInfo(), hardware: tc.hardware(), workload };
  }
  const hardware = probeHardware();
  if (!spec.model)
    throw new HaqaError(
      'no model to optimize',
      {
        cli: 'pass --model FILE.gguf (or --replay FILE... or --resume ID)',
        vscode: 'pick a .gguf model in {command}',
        command: { cli: 'haqa optimize', vscode: 'haqa.optimizeModel' },
      },
      'usage',
    );
  const model = await inspectModel(spec.model);
  workload = workloadFor(workload, model, t.onProgress);
  if (!UNQUANTIZED_FILE_TYPES.has(model.fileType))
    t.onProgress?.(
      `the model is already ${model.fileType}: only runtime knobs are searched, the quantization knobs are off ` +
        '(re-quantizing a quantized file loses accuracy); give its F16/BF16/F32 source to search quantizations too',
    );
  const found = await withToolInfo(t.runner, await tools(t));
  const smi = hardware.gpus;
  if (found.devices) hardware.gpus = buildGpus(found.devices, smi);
  else
    t.onProgress?.(
      `could not list the devices of this llama.cpp build (${found.bench} --list-devices failed): ` +
        (smi.length ? `using the ${smi.length} GPU(s) nvidia-smi lists` : 'tuning the CPU'),
    );
  if (found.devices && !hardware.gpus.length && smi.length)
    t.onProgress?.(
      `this llama.cpp build (${found.backend ?? 'cpu'}, ${found.binDir}) lists no GPU, so the session tunes the CPU ` +
        `although nvidia-smi lists ${smi.length}: build one that can use it (haqa toolchain build --backend cuda), ` +
        'or give one with --llamacpp-bin',
    );
  const accuracy = spec.accuracy ? { ...spec.accuracy, ctx: Math.min(512, model.contextLength || 512) } : undefined;
  const toolchain = new LlamaCppToolchain(found, hardware, model, {
    workload,
    accuracy,
    calibrations: spec.calibrations,
    cacheDir: spec.toolchain.cacheDir,
    objective: spec.objective,
    ...(spec.stepTimeoutMin !== undefined
      ? {
          quantizeTimeoutMs: spec.stepTimeoutMin * 60_000,
          benchTimeoutMs: spec.stepTimeoutMin * 60_000,
          accuracyTimeoutMs: spec.stepTimeoutMin * 60_000,
        }
      : {}),
  });
  return { toolchain, model, hardware, tools: found, workload };
}

/** A strategy's view of a prepared session (what `--show-prompt` and "Show Agent Prompt" build the prompt from). */
export function strategyContext(
  p: Prepared,
  o: { objective: ObjectiveSpec; seed?: number; budget?: number },
): StrategyContext {
  return {
    space: p.toolchain.space,
    hardware: p.hardware,
    model: p.model,
    objective: o.objective,
    seed: Number(o.seed ?? 0),
    budget: Number(o.budget ?? 12),
    workload: p.workload,
    toolchain: p.toolchain.info(),
  };
}

/**
 * The GPUs a session can use: the devices the llama.cpp build lists (any backend), not the ones nvidia-smi sees. An
 * NVIDIA device keeps nvidia-smi's compute capability and driver when the names match.
 */
export function buildGpus(devices: BuildDevice[], smi: GpuInfo[]): GpuInfo[] {
  const MiB = 1024 * 1024;
  return devices.map((d, i) => {
    // nvidia-smi lists NVIDIA GPUs in CUDA's order (HAQA sets no CUDA_VISIBLE_DEVICES): the same name at the same place.
    const same = d.backend === 'cuda' && smi[i]?.name === d.description ? smi[i] : undefined;
    return {
      name: d.description,
      vramBytes: d.totalMiB * MiB,
      computeCapability: same?.computeCapability ?? '',
      driver: same?.driver ?? '',
      device: d.name,
      freeBytes: d.freeMiB * MiB,
      backend: d.backend,
    };
  });
}

/**
 * The workload as measured for a model. A `context` above the model's training context is cut to it (llama-server
 * serves no more, so that is what a deployment gets), with a note. A context without a depth is measured at half of
 * it, the mean depth of a conversation that fills it (per-token time grows about linearly with depth), and never so
 * deep that the prompt or the generated tokens would not fit in it.
 */
export function workloadFor(w: Workload, model: ModelInfo, note?: (m: string) => void): Workload {
  if (w.context === undefined) return w;
  let context = w.context;
  if (model.contextLength > 0 && context > model.contextLength) {
    note?.(
      `context ${context} is more than ${model.name} was trained for (${model.contextLength} tokens): llama-server ` +
        `serves at most that, so HAQA measures and deploys ${model.contextLength}`,
    );
    context = model.contextLength;
  }
  if (context < w.promptTokens + w.genTokens)
    throw new HaqaError(
      `a context of ${context} tokens cannot hold the measured prompt and generation ` +
        `(${w.promptTokens} + ${w.genTokens} tokens)${context !== w.context ? `: ${model.name} was trained for ${context}` : ''}`,
      {
        cli: 'give a larger --context, or fewer --prompt-tokens / --gen-tokens',
        vscode: 'set a larger {option}',
        setting: 'haqa.context',
      },
      'usage',
    );
  const room = context - Math.max(w.promptTokens, w.genTokens);
  let depth = w.depth > 0 ? w.depth : Math.min(Math.round(context / 2), room);
  if (depth > room) {
    note?.(`depth ${depth} leaves no room for the prompt in a ${context}-token context: measuring at depth ${room}`);
    depth = room;
  }
  return { ...w, context, depth };
}
