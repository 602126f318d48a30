/**
 * "HAQA: Optimize Model": pick the model, see hardware and toolchain (build llama.cpp when missing), choose objective,
 * limits, budget and strategy. Every step has a default, so Enter-Enter-Enter starts a session.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatBytes, probeHardware } from '../core/hardware';
import { estimateSession } from '../core/estimate';
import { inspectModel } from '../core/model';
import { checkModelFile, modelFileError } from '../core/modelFile';
import type { ModelInfo } from '../core/types';
import type { ObjectiveKind, ObjectiveSpec } from '../core/objective';
import { locateTools } from '../core/toolchains/llamacpp/locate';
import { builtinEvalText } from '../core/toolchains/llamacpp/accuracy';
import { HaqaError, describeError, errorMessage, isHaqaError } from '../core/errors';
import { makeSpec } from '../core/spec';
import { checkStrategyName } from '../core/strategies';
import { DEFAULT_WORKLOAD } from '../core/types';
import type { HaqaSettings } from './settings';
import type { StartRequest } from './sessionRun';
import { dpplStepText, searchesQuants, sizeStepText, trialsStepPrompt } from './optimizeHints';

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

// ---- One step of the flow: a quick pick or an input box with a step count and Back ----

/** A step's answer: the value, Back (the title bar's arrow), or undefined when the person cancelled (Escape). */
const BACK = Symbol('back');
type Answer<T> = T | typeof BACK | undefined;

interface StepFrame {
  title: string;
  step: number;
  totalSteps: number;
  /** Whether there is a step before this one to go back to. */
  back: boolean;
}

type Item<T> = vscode.QuickPickItem & { value?: T };

/**
 * A quick pick as one step: resolves with the accepted item's value, BACK, or undefined. `check` may refuse the
 * accepted value (its reason, shown as an error with the step left open).
 */
function pickStep<T>(
  f: StepFrame & {
    items: Item<T>[];
    active?: Item<T>;
    placeholder: string;
    check?: (v: T) => Promise<string | undefined>;
    onRefused?: (item: Item<T>, why: string) => void;
  },
): Promise<Answer<Item<T>>> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<Item<T>>();
    qp.title = f.title;
    qp.step = f.step;
    qp.totalSteps = f.totalSteps;
    qp.placeholder = f.placeholder;
    qp.ignoreFocusOut = true;
    qp.items = f.items;
    if (f.active) qp.activeItems = [f.active];
    qp.buttons = f.back ? [vscode.QuickInputButtons.Back] : [];
    let done = false;
    const finish = (a: Answer<Item<T>>) => {
      if (done) return;
      done = true;
      resolve(a);
      qp.dispose();
    };
    qp.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    qp.onDidHide(() => finish(undefined));
    qp.onDidAccept(async () => {
      const item = qp.selectedItems[0] ?? qp.activeItems[0];
      if (!item) return;
      if (f.check && item.value !== undefined) {
        qp.busy = true;
        qp.enabled = false;
        const why = await f.check(item.value);
        qp.busy = false;
        qp.enabled = true;
        if (why) {
          f.onRefused?.(item, why);
          qp.items = f.items;
          qp.activeItems = [item];
          return;
        }
      }
      finish(item);
    });
    qp.show();
  });
}

/** An input box as one step: resolves with the accepted text, BACK, or undefined. */
function inputStep(
  f: StepFrame & {
    value: string;
    placeholder?: string;
    prompt: (value: string) => string;
    validate: (value: string) => string | undefined;
  },
): Promise<Answer<string>> {
  return new Promise((resolve) => {
    const box = vscode.window.createInputBox();
    box.title = f.title;
    box.step = f.step;
    box.totalSteps = f.totalSteps;
    box.value = f.value;
    box.placeholder = f.placeholder;
    box.ignoreFocusOut = true;
    box.buttons = f.back ? [vscode.QuickInputButtons.Back] : [];
    const update = (v: string) => {
      box.prompt = f.prompt(v);
      box.validationMessage = f.validate(v);
    };
    update(f.value);
    let done = false;
    const finish = (a: Answer<string>) => {
      if (done) return;
      done = true;
      resolve(a);
      box.dispose();
    };
    box.onDidChangeValue(update);
    box.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    box.onDidHide(() => finish(undefined));
    box.onDidAccept(() => {
      if (f.validate(box.value) === undefined) finish(box.value);
    });
    box.show();
  });
}

// ---- The model: step 1 checks it (GGUF magic, Git LFS pointer, a readable header) ----

/**
 * The model's facts when `file` can be optimized, else the error that says why and what to do: not a .gguf file, not a
 * GGUF (magic bytes), a Git LFS pointer (`git lfs pull`, naming the file), a header that does not parse.
 */
export async function checkModel(file: string): Promise<{ info: ModelInfo } | { error: HaqaError }> {
  if (!/\.gguf$/i.test(file))
    return {
      error: new HaqaError(
        `${file} is not a .gguf file`,
        "pick a .gguf file: HAQA optimizes GGUF models (llama.cpp's format)",
        'input',
      ),
    };
  const c = checkModelFile(file);
  if (c.kind !== 'gguf') return { error: modelFileError(c) };
  try {
    return { info: await inspectModel(file) };
  } catch (e) {
    return { error: isHaqaError(e) ? e : new HaqaError(errorMessage(e), 'pick another .gguf file', 'input') };
  }
}

type ModelItem = Item<string> & { browse?: boolean };

/** The workspace's .gguf files, each checked: usable ones first, the others marked with why (never pre-selected). */
async function modelItems(): Promise<{ items: ModelItem[]; firstUsable?: ModelItem }> {
  const found = await vscode.workspace.findFiles('**/*.gguf', '**/node_modules/**', 200);
  const usable: ModelItem[] = [];
  const refused: ModelItem[] = [];
  for (const u of found) {
    const c = checkModelFile(u.fsPath);
    const item: ModelItem = {
      label: path.basename(u.fsPath),
      description: vscode.workspace.asRelativePath(u),
      value: u.fsPath,
    };
    if (c.kind === 'gguf') usable.push({ ...item, detail: formatBytes(c.sizeBytes) });
    else refused.push({ ...item, label: `$(warning) ${item.label}`, description: c.short, detail: item.description });
  }
  const items: ModelItem[] = [...usable];
  if (refused.length) items.push({ label: 'not usable', kind: vscode.QuickPickItemKind.Separator }, ...refused);
  items.push(
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(folder-opened) Browse…', description: 'choose a .gguf file anywhere', browse: true },
  );
  return { items, firstUsable: usable[0] };
}

/** Step 1: the model, checked before the flow goes on; a refused one keeps the step open with its reason. */
async function modelStep(
  frame: StepFrame,
  previous: string | undefined,
): Promise<Answer<{ file: string; info: ModelInfo }>> {
  for (;;) {
    const { items, firstUsable } = await modelItems();
    let info: ModelInfo | undefined;
    const refuse = (why: string) => void vscode.window.showErrorMessage(`HAQA: ${why}`);
    const find = (f?: string) => (f ? items.find((i) => i.value === f) : undefined);
    const browse = items.find((i) => i.browse);
    const pick = await pickStep<string>({
      ...frame,
      items,
      // Never a file that cannot be optimized: the last choice, else the first usable file, else Browse….
      active: find(previous) ?? firstUsable ?? browse,
      placeholder: 'a GGUF model (F16/BF16/F32 sources give the most choices)',
      check: async (file) => {
        const r = await checkModel(file);
        if ('error' in r) return describeError(r.error, 'vscode');
        info = r.info;
        return undefined;
      },
      onRefused: (item, why) => {
        refuse(why);
        item.detail = `$(error) ${why}`;
      },
    });
    if (pick === BACK || pick === undefined) return pick;
    if (pick.value && info) return { file: pick.value, info };
    // Browse…: a file dialog, then the same check; a refused file brings step 1 back.
    const chosen = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { 'GGUF model': ['gguf'] },
      openLabel: 'Optimize',
      title: 'HAQA: the model to optimize (.gguf)',
    });
    const file = chosen?.[0]?.fsPath;
    if (!file) continue;
    const r = await checkModel(file);
    if ('info' in r) return { file, info: r.info };
    refuse(describeError(r.error, 'vscode'));
  }
}

function numberOrBlank(v: string): string | undefined {
  return v.trim() === '' || (Number.isFinite(Number(v)) && Number(v) > 0)
    ? undefined
    : 'a positive number, or empty for no limit';
}

const wholeNumber = (x: string): string | undefined =>
  /^\d+$/.test(x.trim()) && Number(x) >= 1 ? undefined : 'a whole number ≥ 1';

/**
 * Builds the start request, asking for what `args` does not give: up to six steps, numbered, each with Back to the
 * step before (its answer kept) and a default. The model is checked at step 1 (and at once when it came from the
 * Explorer): a file that is not a GGUF, or a Git LFS pointer, is refused with the reason and the fix. `ensureToolchain`
 * offers the build when the tools are missing and resolves false when the user declines or cancels it.
 */
export async function optimizeRequest(
  args: OptimizeArgs,
  s: HaqaSettings,
  ensureToolchain: () => Promise<boolean>,
  interactive: boolean,
): Promise<StartRequest | undefined> {
  const replay = !!args.replay?.length;
  let model = replay ? undefined : args.model;
  let info: ModelInfo | undefined;
  if (model && interactive) {
    // From the Explorer's context menu: the same check step 1 makes, before anything else is asked.
    const r = await checkModel(model);
    if ('error' in r) throw r.error;
    info = r.info;
  }
  if (!model && !replay && !interactive) return undefined;

  const accuracy = args.accuracy ?? s.accuracy;
  let toolsChecked = false;
  let hwLine = '';
  let hw: ReturnType<typeof probeHardware> | undefined;
  /** The hardware and llama.cpp line (after the toolchain check: the build may just have made the tools). */
  const describeMachine = () => {
    hw = probeHardware();
    let tools: string;
    try {
      const t = locateTools({ binDir: s.binDir });
      tools = t ? `llama.cpp ${t.commit?.slice(0, 7) ?? ''} ${t.backend ?? ''} (${t.source})` : 'llama.cpp: not found';
    } catch (e) {
      tools = `llama.cpp: ${(e as Error).message}`;
    }
    const gpus = hw.gpus.length ? `, ${hw.gpus.map((g) => g.name).join(' + ')}` : ', no GPU';
    hwLine = `${hw.cpu.model}, ${hw.cpu.cores} cores, ${formatBytes(hw.memoryBytes)}${gpus} · ${tools}`;
  };

  let kind = args.objective;
  let maxSizeMb = args.maxSizeMb;
  let maxDppl = args.maxDppl;
  let budget = args.budget;
  let strategy = args.strategy;
  /** What the person typed or picked at each step: Back shows it again. */
  const typed = { size: '', dppl: '', budget: String(s.budget) };

  // The steps to ask, in order; each is numbered by its place among all six, so a step given by the caller (the
  // Explorer's model) leaves its number out rather than renumbering the rest.
  type StepId = 'model' | 'objective' | 'size' | 'dppl' | 'budget' | 'strategy';
  const ask: StepId[] = interactive
    ? (
        [
          !model && !replay && 'model',
          !args.objective && 'objective',
          args.maxSizeMb === undefined && 'size',
          args.maxDppl === undefined && accuracy && !replay && 'dppl',
          args.budget === undefined && 'budget',
          !args.strategy && 'strategy',
        ] as (StepId | false)[]
      ).filter((x): x is StepId => !!x)
    : [];
  const ORDER: StepId[] = ['model', 'objective', 'size', 'dppl', 'budget', 'strategy'];
  const name = () => path.basename(model ?? args.replay?.[0] ?? 'replay');
  const frameOf = (id: StepId, i: number, title: string): StepFrame => ({
    title,
    step: ORDER.indexOf(id) + 1,
    totalSteps: ORDER.length,
    back: i > 0,
  });

  for (let i = 0; i < ask.length;) {
    const id = ask[i];
    if (id !== 'model' && !toolsChecked) {
      if (model && !replay && !(await ensureToolchain())) return undefined;
      describeMachine();
      toolsChecked = true;
    }
    let a: Answer<unknown>;
    switch (id) {
      case 'model': {
        const r = await modelStep(frameOf(id, i, 'HAQA: Optimize Model · the model'), model);
        if (r && r !== BACK) {
          model = r.file;
          info = r.info;
        }
        a = r;
        break;
      }
      case 'objective': {
        const items: Item<ObjectiveKind>[] = [
          { label: 'decode', description: 'tokens generated per second (chat, completion)', value: 'decode' },
          { label: 'prefill', description: 'prompt tokens processed per second (RAG, long prompts)', value: 'prefill' },
          { label: 'balanced', description: 'geometric blend of decode and prefill', value: 'balanced' },
        ];
        const pick = await pickStep<ObjectiveKind>({
          ...frameOf(id, i, `HAQA: Optimize ${name()} · objective`),
          items,
          active: items.find((x) => x.value === (kind ?? s.objective)),
          placeholder: hwLine,
        });
        if (pick && pick !== BACK) kind = pick.value;
        a = pick;
        break;
      }
      case 'size': {
        const hint = info ? sizeStepText(info) : undefined;
        const v = await inputStep({
          ...frameOf(id, i, `HAQA: Optimize ${name()} · largest model file, MiB`),
          value: typed.size,
          placeholder: hint?.placeholder ?? 'no limit',
          prompt: () => hint?.prompt ?? `Largest model file in MiB; empty for no limit. ${hwLine}`,
          validate: numberOrBlank,
        });
        if (typeof v === 'string') {
          typed.size = v;
          maxSizeMb = v.trim() ? Number(v) : undefined;
        }
        a = v;
        break;
      }
      case 'dppl': {
        const hint = dpplStepText();
        const v = await inputStep({
          ...frameOf(id, i, `HAQA: Optimize ${name()} · largest perplexity increase over the source, %`),
          value: typed.dppl,
          placeholder: hint.placeholder,
          prompt: () => hint.prompt,
          validate: numberOrBlank,
        });
        if (typeof v === 'string') {
          typed.dppl = v;
          maxDppl = v.trim() ? Number(v) : undefined;
        }
        a = v;
        break;
      }
      case 'budget': {
        const estimate = (n: number) =>
          estimateSession({
            sourceBytes: info?.sizeBytes ?? 0,
            cores: hw?.cpu.cores ?? 1,
            trials: n,
            quantizes: !!info && searchesQuants(info),
            confirm: !replay && (args.confirm ?? s.confirm),
            accuracy: accuracy && !replay,
            timeBudgetMin: args.timeBudgetMin ?? s.timeBudgetMin,
          });
        const v = await inputStep({
          ...frameOf(id, i, `HAQA: Optimize ${name()} · trials to measure`),
          value: typed.budget,
          placeholder: String(s.budget),
          prompt: (x) =>
            wholeNumber(x) || replay
              ? 'Trials to measure (a whole number ≥ 1).'
              : trialsStepPrompt(Number(x), estimate(Number(x))),
          validate: wholeNumber,
        });
        if (typeof v === 'string') {
          typed.budget = v;
          budget = Number(v);
        }
        a = v;
        break;
      }
      case 'strategy': {
        const llm = !!s.llm.baseUrl;
        const items: Item<string>[] = [
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
        ].map((x) => ({ ...x, value: x.label }));
        const pick = await pickStep<string>({
          ...frameOf(id, i, `HAQA: Optimize ${name()} · strategy`),
          items,
          active: items.find((x) => x.value === (strategy ?? s.strategy)),
          placeholder: hwLine,
        });
        if (pick && pick !== BACK) strategy = pick.value;
        a = pick;
        break;
      }
    }
    if (a === undefined) return undefined;
    i += a === BACK ? -1 : 1;
  }
  if (!model && !replay) return undefined;
  if (!toolsChecked && model && !replay && !(await ensureToolchain())) return undefined;
  kind ??= s.objective;
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
