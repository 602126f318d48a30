/**
 * "HAQA: Optimize Model": pick the model, see hardware and toolchain (build llama.cpp when missing), choose objective,
 * limits, budget and strategy. Every step has a default, so Enter-Enter-Enter starts a session.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatBytes, probeHardware } from '../core/hardware';
import type { ObjectiveKind, ObjectiveSpec } from '../core/objective';
import { locateTools } from '../core/toolchains/llamacpp/locate';
import { builtinEvalText } from '../core/toolchains/llamacpp/accuracy';
import { HaqaError } from '../core/errors';
import { makeSpec } from '../core/spec';
import { checkStrategyName } from '../core/strategies';
import { DEFAULT_WORKLOAD } from '../core/types';
import type { HaqaSettings } from './settings';
import type { StartRequest } from './sessionRun';

/** What a caller (a test, a script) may pass instead of answering the prompts. */
export interface OptimizeArgs {
  model?: string;
  replay?: string[];
  objective?: ObjectiveKind;
  maxSizeMb?: number;
  maxDppl?: number;
  maxKld?: number;
  budget?: number;
  strategy?: string;
  review?: 'each' | 'auto';
  accuracy?: boolean;
  evalChunks?: number;
  confirm?: boolean;
  /** Stop after this many minutes (default: the setting haqa.timeBudgetMinutes). */
  timeBudgetMin?: number;
  seed?: number;
  root?: string;
  workload?: Partial<typeof DEFAULT_WORKLOAD>;
  /** Resolve the command only when the session ends. */
  wait?: boolean;
}

/** The .haqa root for a model: its workspace folder's, else the first folder's, else one beside the model. */
export function sessionRoot(model?: string): string {
  const folder =
    (model ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(model)) : undefined) ??
    vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, '.haqa') : path.join(path.dirname(model ?? '.'), '.haqa');
}

async function pickModel(): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.gguf', '**/node_modules/**', 200);
  const items: (vscode.QuickPickItem & { file?: string })[] = found.map((u) => {
    let size = '';
    try {
      size = formatBytes(fs.statSync(u.fsPath).size);
    } catch {
      /* vanished */
    }
    return {
      label: path.basename(u.fsPath),
      description: vscode.workspace.asRelativePath(u),
      detail: size,
      file: u.fsPath,
    };
  });
  items.push({ label: '$(folder-opened) Browse…', description: 'choose a .gguf file anywhere' });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'HAQA: Optimize Model (1/6): the model',
    placeHolder: 'a GGUF model (F16/BF16/F32 sources give the most choices)',
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.file) return pick.file;
  const chosen = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { 'GGUF model': ['gguf'] },
    title: 'HAQA: the model to optimize',
  });
  return chosen?.[0]?.fsPath;
}

function numberOrBlank(v: string): string | undefined {
  return v.trim() === '' || (Number.isFinite(Number(v)) && Number(v) > 0)
    ? undefined
    : 'a positive number, or empty for no limit';
}

/**
 * Builds the start request, asking for what `args` does not give. `ensureToolchain` offers the build when the
 * tools are missing and resolves false when the user declines or cancels it.
 */
export async function optimizeRequest(
  args: OptimizeArgs,
  s: HaqaSettings,
  ensureToolchain: () => Promise<boolean>,
  interactive: boolean,
): Promise<StartRequest | undefined> {
  const model = args.replay?.length ? undefined : (args.model ?? (interactive ? await pickModel() : undefined));
  if (!model && !args.replay?.length) return undefined;
  if (model && !args.replay?.length && !(await ensureToolchain())) return undefined;
  const hw = probeHardware();
  let tools: string;
  try {
    const t = locateTools({ binDir: s.binDir });
    tools = t ? `llama.cpp ${t.commit?.slice(0, 7) ?? ''} ${t.backend ?? ''} (${t.source})` : 'llama.cpp: not found';
  } catch (e) {
    tools = `llama.cpp: ${(e as Error).message}`;
  }
  const gpus = hw.gpus.length ? `, ${hw.gpus.map((g) => g.name).join(' + ')}` : ', no GPU';
  const hwLine = `${hw.cpu.model}, ${hw.cpu.cores} cores, ${formatBytes(hw.memoryBytes)}${gpus} · ${tools}`;

  let kind = args.objective;
  if (!kind && interactive) {
    const items = [
      { label: 'decode', description: 'tokens generated per second (chat, completion)', objective: 'decode' as const },
      {
        label: 'prefill',
        description: 'prompt tokens processed per second (RAG, long prompts)',
        objective: 'prefill' as const,
      },
      { label: 'balanced', description: 'geometric blend of decode and prefill', objective: 'balanced' as const },
    ].sort((a, b) => (a.objective === s.objective ? -1 : b.objective === s.objective ? 1 : 0));
    const pick = await vscode.window.showQuickPick(items, {
      title: `HAQA: Optimize ${path.basename(model ?? 'replay')} (2/6): objective`,
      placeHolder: hwLine,
      ignoreFocusOut: true,
    });
    if (!pick) return undefined;
    kind = pick.objective;
  }
  kind ??= s.objective;

  const accuracy = args.accuracy ?? s.accuracy;
  let maxSizeMb = args.maxSizeMb;
  let maxDppl = args.maxDppl;
  if (interactive && maxSizeMb === undefined) {
    const v = await vscode.window.showInputBox({
      title: 'HAQA: Optimize (3/6): largest model file, MiB',
      prompt: `Empty for no limit. ${hwLine}`,
      validateInput: numberOrBlank,
      ignoreFocusOut: true,
    });
    if (v === undefined) return undefined;
    maxSizeMb = v.trim() ? Number(v) : undefined;
  }
  if (interactive && maxDppl === undefined && accuracy && !args.replay?.length) {
    const v = await vscode.window.showInputBox({
      title: 'HAQA: Optimize (4/6): largest perplexity increase over the source, %',
      prompt: 'Empty for no limit; every trial measures ΔPPL and KL divergence',
      validateInput: numberOrBlank,
      ignoreFocusOut: true,
    });
    if (v === undefined) return undefined;
    maxDppl = v.trim() ? Number(v) : undefined;
  }
  let budget = args.budget;
  if (interactive && budget === undefined) {
    const v = await vscode.window.showInputBox({
      title: 'HAQA: Optimize (5/6): trials to measure',
      value: String(s.budget),
      validateInput: (x) => (/^\d+$/.test(x.trim()) && Number(x) >= 1 ? undefined : 'a whole number ≥ 1'),
      ignoreFocusOut: true,
    });
    if (v === undefined) return undefined;
    budget = Number(v);
  }
  let strategy = args.strategy;
  if (!strategy && interactive) {
    const llm = !!s.llm.baseUrl;
    const items = [
      {
        label: 'auto',
        description: llm
          ? `the LLM agent (${s.llm.model ?? 'default model'} at ${s.llm.baseUrl}), built-in on failure`
          : 'built-in (no LLM endpoint configured: haqa.llm.baseUrl)',
      },
      {
        label: 'llm',
        description: llm
          ? 'the LLM agent only'
          : 'needs haqa.llm.baseUrl (and "HAQA: Set API Key" for hosted endpoints)',
      },
      { label: 'builtin', description: 'hardware-aware first design, then TPE' },
      { label: 'tpe', description: 'Bayesian (tree-structured Parzen estimator)' },
      { label: 'heuristic', description: 'hardware-aware priors only' },
      { label: 'random', description: 'seeded random search' },
      { label: 'grid', description: 'exhaustive, in order' },
    ].sort((a, b) => (a.label === s.strategy ? -1 : b.label === s.strategy ? 1 : 0));
    const pick = await vscode.window.showQuickPick(items, {
      title: 'HAQA: Optimize (6/6): strategy',
      placeHolder: hwLine,
      ignoreFocusOut: true,
    });
    if (!pick) return undefined;
    strategy = pick.label;
  }
  const objective: ObjectiveSpec = {
    kind,
    maxSizeBytes: maxSizeMb !== undefined ? maxSizeMb * 2 ** 20 : undefined,
    maxVramBytes: s.maxVramMb !== undefined ? s.maxVramMb * 2 ** 20 : undefined,
    maxDeltaPplPct: accuracy ? maxDppl : undefined,
    maxKld: accuracy ? args.maxKld : undefined,
  };
  const evalFile = builtinEvalText();
  if (accuracy && !args.replay?.length && !evalFile)
    throw new HaqaError(
      'the built-in evaluation text (assets/eval-python-stdlib.txt) is missing from this HAQA install',
      'reinstall the extension, or turn the setting haqa.accuracy off',
      'input',
    );
  const spec = makeSpec({
    model,
    replay: (args.replay ?? []).map((f) => path.resolve(f)),
    objective,
    budget: budget ?? s.budget,
    strategy: checkStrategyName(strategy ?? s.strategy),
    seed: args.seed ?? 0,
    confirm: args.confirm ?? s.confirm,
    reference: s.reference,
    stopEarly: s.stopEarly,
    stepTimeoutMin: s.stepTimeoutMin,
    timeBudgetMin: args.timeBudgetMin ?? s.timeBudgetMin,
    accuracy:
      accuracy && !args.replay?.length && evalFile ? { evalFile, chunks: args.evalChunks ?? s.evalChunks } : null,
    workload: {
      ...DEFAULT_WORKLOAD,
      ...(s.context !== undefined ? { context: Math.round(s.context) } : {}),
      ...args.workload,
    },
    toolchain: { binDir: s.binDir, cacheDir: s.cacheDir },
  });
  return { root: args.root ?? sessionRoot(model ?? args.replay?.[0]), spec, review: args.review ?? s.review };
}
