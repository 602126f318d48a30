/**
 * What a session needs before its first trial, shared by the CLI and the extension: the hardware profile, the model's
 * facts, the llama.cpp tools (built once when missing) and the toolchain over them — or a replay toolchain.
 */
import * as path from 'node:path';
import { HaqaError } from './errors';
import { probeHardware } from './hardware';
import { inspectModel } from './model';
import { needsAccuracy, type ObjectiveSpec } from './objective';
import { toolchainRoot } from './paths';
import type { ProcessRunner } from './process/runner';
import type { Backend } from './toolchains/llamacpp/build';
import { ensureTools, withToolInfo, type LlamaTools } from './toolchains/llamacpp/locate';
import { LlamaCppToolchain } from './toolchains/llamacpp/toolchain';
import { ReplayToolchain } from './toolchains/replay/replay';
import type { Toolchain } from './toolchains/toolchain';
import type { SessionSpec } from './spec';
import type { StrategyContext } from './strategies';
import type { HardwareProfile, ModelInfo, Workload } from './types';

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
  const hardware = probeHardware();
  const { workload } = spec;
  if (spec.replay?.length) {
    if (needsAccuracy(spec.objective))
      throw new HaqaError(
        'a ΔPPL / KLD limit needs measured accuracy, which replayed llama-bench rows do not hold',
        'drop the accuracy limit, or optimize a real model',
        'usage',
      );
    const tc = new ReplayToolchain(spec.replay);
    return { toolchain: tc, model: tc.modelInfo(), hardware, workload };
  }
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
  const found = await withToolInfo(t.runner, await tools(t));
  const accuracy = spec.accuracy ? { ...spec.accuracy, ctx: Math.min(512, model.contextLength || 512) } : undefined;
  const toolchain = new LlamaCppToolchain(found, hardware, model, {
    workload,
    accuracy,
    calibrations: spec.calibrations,
    cacheDir: spec.toolchain.cacheDir,
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
