/** The haqa command line: usage text, flags, and flags turned into the core's options (a session spec). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ParseArgsConfig } from 'node:util';
import { HaqaError } from '../core/errors';
import { type ObjectiveKind, type ObjectiveSpec } from '../core/objective';
import { builtinEvalText } from '../core/toolchains/llamacpp/accuracy';
import { ProcessRunner } from '../core/process/runner';
import type { ToolOptions } from '../core/prepare';
import { log } from './output';
import { DEFAULT_LLM, DEFAULT_MODEL, checkBaseUrl, type LlmSettings } from '../core/agent/settings';
import { BACKENDS, type Backend } from '../core/toolchains/llamacpp/build';
import { type Workload } from '../core/types';

export const USAGE = `haqa — find the fastest way to run an LLM on this machine (llama.cpp)

usage:
  haqa demo [--budget N] [--json]                     make a small random-weight Llama GGUF and optimize it
  haqa optimize --model FILE.gguf [options]           run a search session
  haqa optimize --replay FILE... [options]            the same, answered from recorded llama-bench rows
  haqa optimize --resume ID|PATH                      continue a stopped or crashed session
  haqa report [ID|PATH] [--json]                      results of a session (default: the latest)
  haqa hardware [--json]                              the hardware profile
  haqa inspect FILE.gguf [--json]                     model facts from the GGUF header
  haqa toolchain build [--backend cpu|cuda|vulkan]    build llama.cpp's tools into the cache
  haqa toolchain status [--json]                      where the tools are, version, backend
  haqa clean [--toolchain]                            empty the artifact cache (and the llama.cpp build)

optimize options:
  --strategy auto|builtin|llm|tpe|heuristic|random|grid   (default auto)
  --budget N             trials to measure (default 12)
  --time-budget MIN      stop the search after MIN minutes (a running trial is cancelled; resumable)
  --step-timeout MIN     longest one tool step may run (default 60; bench 30)
  --objective decode|prefill|balanced   (default decode)  --decode-weight W (balanced; default 0.5)
  --max-size-mb N        constraint on the model file size
  --max-mem-mb N         constraint on memory (host + GPU): projected before a trial, and its measured peak
  --max-vram-mb N        constraint on each GPU's memory (the card you deploy to may be smaller than this one)
  --max-dppl PCT         constraint on perplexity drift from the source model, in % (needs accuracy on)
  --max-kld X            constraint on mean KL divergence to the source model
  --accuracy on|off      measure accuracy in every trial with llama-perplexity (default on)
  --confirm on|off       measure the leaders again, interleaved, before the verdict (default on)
  --reference on|off     where the model does not fit its GPUs whole, spend the last trial on llama.cpp's own
                         placement (--fit) and compare the verdict with it (default on)
  --stop-early on|off    end before --budget once the session is done: the best has stood through 4 trials and
                         every configuration one knob away from it that could change the answer is measured (default on)
  --eval-text FILE       evaluation text (default: the built-in sample, Python stdlib source)
  --eval-chunks N        512-token chunks of it to evaluate (default 8)
  --calibration-text FILE   calibration text for importance matrices (repeatable; default: the built-in sample)
  --seed N               strategy seed (default 0)
  --prompt-tokens N --gen-tokens N --depth N --repetitions N    the workload (default 512/128/0, 3 reps)
  --context N                 the context you will serve: measured at depth N/2 (and 0), deployed with -c N
  --session-dir DIR      the .haqa root (default ./.haqa)
  --cache-dir DIR        artifact cache (default \${XDG_CACHE_HOME:-~/.cache}/haqa)
  --llamacpp-bin DIR     use llama.cpp tools from DIR (also $HAQA_LLAMACPP_BIN)
  --backend cpu|cuda|vulkan
                         backend for a build (default: cuda only when nvidia-smi lists a GPU; vulkan on request)
  --verbose              stream the tools' output to stderr
  --json                 print one machine-readable summary (schema haqa.optimize.v1) on stdout

LLM agent (strategy auto/llm; the key comes from $HAQA_LLM_API_KEY or $OPENAI_API_KEY, never from a flag):
  --llm-base-url URL     OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 (also $HAQA_LLM_BASE_URL)
  --llm-model NAME       model (Azure: deployment) name (also $HAQA_LLM_MODEL; default gpt-4o-mini)
  --llm-temperature T    sampling temperature (default: the server's)
  --llm-timeout SEC      per-request timeout (default 120)    --llm-max-retries N   on 429/5xx/timeout (default 3)
  --llm-max-prompt-tokens N   prompt bound; the trial history is compacted to fit (default 6000)
  --llm-proposals N      proposals per call (default 2)       --llm-repair-rounds N (default 2)
  --llm-price-in USD --llm-price-out USD    per million tokens, to record the cost of a session
  --show-prompt          print the exact next request to the LLM and exit (nothing is sent)
`;

export const OPTIONS = {
  model: { type: 'string' },
  strategy: { type: 'string' },
  budget: { type: 'string' },
  'time-budget': { type: 'string' },
  'step-timeout': { type: 'string' },
  objective: { type: 'string' },
  'decode-weight': { type: 'string' },
  'max-size-mb': { type: 'string' },
  'max-mem-mb': { type: 'string' },
  'max-vram-mb': { type: 'string' },
  seed: { type: 'string' },
  'session-dir': { type: 'string' },
  resume: { type: 'string' },
  replay: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'prompt-tokens': { type: 'string' },
  'gen-tokens': { type: 'string' },
  depth: { type: 'string' },
  context: { type: 'string' },
  repetitions: { type: 'string' },
  'cache-dir': { type: 'string' },
  'llamacpp-bin': { type: 'string' },
  backend: { type: 'string' },
  'max-dppl': { type: 'string' },
  'max-kld': { type: 'string' },
  accuracy: { type: 'string' },
  confirm: { type: 'string' },
  reference: { type: 'string' },
  'stop-early': { type: 'string' },
  'eval-text': { type: 'string' },
  'calibration-text': { type: 'string', multiple: true },
  'eval-chunks': { type: 'string' },
  'llm-base-url': { type: 'string' },
  'llm-model': { type: 'string' },
  'llm-temperature': { type: 'string' },
  'llm-timeout': { type: 'string' },
  'llm-max-retries': { type: 'string' },
  'llm-max-prompt-tokens': { type: 'string' },
  'llm-proposals': { type: 'string' },
  'llm-repair-rounds': { type: 'string' },
  'llm-price-in': { type: 'string' },
  'llm-price-out': { type: 'string' },
  'show-prompt': { type: 'boolean' },
  verbose: { type: 'boolean' },
  toolchain: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

export type Flags = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof OPTIONS)[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

export const usage = (msg: string) => new HaqaError(msg, 'see `haqa --help`', 'usage');

/** A numeric flag: decimals unless `integer`, within [min, max]; anything else is a usage error naming the flag. */
export function num(
  flags: Flags,
  name: keyof Flags,
  def: number | undefined,
  o: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const min = o.min ?? 0;
  const n = Number(v);
  const shape = o.integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  if (typeof v !== 'string' || !shape.test(v) || !Number.isFinite(n) || n < min || (o.max !== undefined && n > o.max)) {
    const range = o.max !== undefined ? `from ${min} to ${o.max}` : `≥ ${min}`;
    throw usage(`--${name} must be ${o.integer ? 'a whole number' : 'a number'} ${range}, got "${String(v)}"`);
  }
  return n;
}

/** A whole-number flag (a budget of 1.5 is a mistake, not 2). */
export const int = (flags: Flags, name: keyof Flags, def: number | undefined, min = 0, max?: number) =>
  num(flags, name, def, { min, max, integer: true });

/** Token counts llama-bench and llama.cpp contexts can take (2^20 = 1M tokens). */
const MAX_TOKENS = 2 ** 20;

export function backendFlag(flags: Flags): Backend | undefined {
  if (flags.backend === undefined) return undefined;
  const b = BACKENDS.find((x) => x === flags.backend);
  if (!b) throw usage(`--backend must be ${BACKENDS.join(', ')}; got "${flags.backend}"`);
  return b;
}

export function makeRunner(flags: Flags): ProcessRunner {
  const runner = new ProcessRunner();
  if (flags.verbose)
    runner.subscribe((e) => {
      if (e.type === 'data') process.stderr.write(e.data);
    });
  return runner;
}

export function toolOptions(flags: Flags, runner: ProcessRunner): ToolOptions {
  return { binDir: flags['llamacpp-bin'], backend: backendFlag(flags), runner, onProgress: (m) => log(`haqa: ${m}`) };
}

export function objectiveFrom(flags: Flags): ObjectiveSpec {
  const kind = (flags.objective ?? 'decode') as ObjectiveKind;
  if (!['decode', 'prefill', 'balanced'].includes(kind))
    throw usage(`--objective must be decode, prefill or balanced, got "${kind}"`);
  const w = num(flags, 'decode-weight', undefined, { min: 0, max: 1 });
  const size = num(flags, 'max-size-mb', undefined, { min: 0.001 });
  const mem = num(flags, 'max-mem-mb', undefined, { min: 0.001 });
  const vram = num(flags, 'max-vram-mb', undefined, { min: 0.001 });
  const dppl = num(flags, 'max-dppl', undefined, { min: 0, max: 1e6 });
  const kld = num(flags, 'max-kld', undefined, { min: 0, max: 1e6 });
  return {
    kind,
    decodeWeight: w,
    maxSizeBytes: size !== undefined ? size * 2 ** 20 : undefined,
    maxMemBytes: mem !== undefined ? mem * 2 ** 20 : undefined,
    maxVramBytes: vram !== undefined ? vram * 2 ** 20 : undefined,
    maxDeltaPplPct: dppl,
    maxKld: kld,
  };
}

export function workloadFrom(flags: Flags, def: Workload): Workload {
  return {
    promptTokens: int(flags, 'prompt-tokens', def.promptTokens, 1, MAX_TOKENS)!,
    genTokens: int(flags, 'gen-tokens', def.genTokens, 1, MAX_TOKENS)!,
    depth: int(flags, 'depth', def.depth, 0, MAX_TOKENS)!,
    repetitions: int(flags, 'repetitions', def.repetitions, 1, 1000)!,
    ...(flags.context !== undefined ? { context: int(flags, 'context', def.context, 1, MAX_TOKENS)! } : {}),
  };
}

/** Accuracy settings: on by default with the built-in evaluation text; null when off (replay sessions have none). */
export function accuracyFrom(flags: Flags, defaultChunks = 8): { evalFile: string; chunks: number } | null {
  const mode = onOff(flags, 'accuracy', true) ? 'on' : 'off';
  if (mode === 'off' || flags.replay?.length) {
    if (mode === 'off' && (flags['max-dppl'] !== undefined || flags['max-kld'] !== undefined))
      throw usage('--max-dppl / --max-kld need --accuracy on');
    return null;
  }
  const evalFile = flags['eval-text'] ? path.resolve(flags['eval-text']) : builtinEvalText();
  const fix = 'pass --eval-text FILE (plain UTF-8 text, a few hundred KB), or --accuracy off';
  if (!evalFile || !fs.existsSync(evalFile))
    throw new HaqaError(
      `evaluation text not found: ${evalFile ?? 'the built-in sample (assets/eval-python-stdlib.txt)'}`,
      fix,
      'input',
    );
  const st = fs.statSync(evalFile);
  // Refused here, not by every trial's llama-perplexity.
  if (!st.isFile()) throw new HaqaError(`the evaluation text ${evalFile} is not a file`, fix, 'usage');
  if (st.size < 1024)
    throw new HaqaError(
      `the evaluation text ${evalFile} is ${st.size === 0 ? 'empty' : `only ${st.size} bytes`}: too short to measure perplexity on`,
      fix,
      'usage',
    );
  return { evalFile, chunks: int(flags, 'eval-chunks', defaultChunks, 1, 100_000)! };
}

/** Calibration texts for the imatrix knob, by name (file stem); undefined = the built-in sample. */
export function calibrationsFrom(flags: Flags): Record<string, string> | undefined {
  const files = flags['calibration-text'];
  if (!files?.length) return undefined;
  const out: Record<string, string> = {};
  for (const f of files) {
    const p = path.resolve(f);
    if (!fs.existsSync(p))
      throw new HaqaError(
        `calibration text not found: ${p}`,
        'pass an existing UTF-8 text file to --calibration-text',
        'input',
      );
    const name =
      path
        .basename(p)
        .replace(/\.[^.]*$/, '')
        .replace(/[^\w.-]/g, '_')
        .slice(0, 40) || 'calibration';
    out[out[name] ? `${name}-${Object.keys(out).length}` : name] = p;
  }
  return out;
}

/** LLM settings from flags, the environment and (on resume) the session; undefined when no endpoint is configured. */
export function llmSettings(flags: Flags, stored?: Partial<LlmSettings>): LlmSettings | undefined {
  const baseUrl = flags['llm-base-url'] ?? stored?.baseUrl ?? process.env.HAQA_LLM_BASE_URL;
  if (!baseUrl) return undefined;
  const dec = (name: keyof Flags, def: number | undefined, min = 0) => num(flags, name, def, { min });
  const temperature = dec('llm-temperature', stored?.temperature);
  if (temperature !== undefined && temperature > 2) throw usage('--llm-temperature must be between 0 and 2');
  return {
    ...DEFAULT_LLM,
    ...stored,
    baseUrl: checkBaseUrl(baseUrl),
    model: flags['llm-model'] ?? stored?.model ?? process.env.HAQA_LLM_MODEL ?? DEFAULT_MODEL,
    temperature,
    timeoutMs: dec('llm-timeout', (stored?.timeoutMs ?? DEFAULT_LLM.timeoutMs) / 1000, 0.1)! * 1000,
    maxRetries: int(flags, 'llm-max-retries', stored?.maxRetries ?? DEFAULT_LLM.maxRetries, 0, 20)!,
    maxPromptTokens: int(flags, 'llm-max-prompt-tokens', stored?.maxPromptTokens ?? DEFAULT_LLM.maxPromptTokens, 1000)!,
    proposalsPerCall: int(flags, 'llm-proposals', stored?.proposalsPerCall ?? DEFAULT_LLM.proposalsPerCall, 1, 50)!,
    repairRounds: int(flags, 'llm-repair-rounds', stored?.repairRounds ?? DEFAULT_LLM.repairRounds, 0, 10)!,
    priceInPerMTok: dec('llm-price-in', stored?.priceInPerMTok),
    priceOutPerMTok: dec('llm-price-out', stored?.priceOutPerMTok),
  };
}

/** An on|off flag. */
export function onOff(flags: Flags, name: 'confirm' | 'accuracy' | 'reference' | 'stop-early', def: boolean): boolean {
  const v = flags[name];
  if (v === undefined) return def;
  if (v !== 'on' && v !== 'off') throw usage(`--${name} must be on or off, got "${v}"`);
  return v === 'on';
}
