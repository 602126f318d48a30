/**
 * haqa — the headless CLI over the HAQA core. Exit codes: 0 ok, 1 failure, 2 bad usage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ArtifactCache } from './core/artifacts';
import { HaqaError, errorMessage, isHaqaError } from './core/errors';
import { describeHardware, formatBytes, probeHardware } from './core/hardware';
import { describeModel, inspectModel } from './core/model';
import { best, describeObjective, paretoFront, type ObjectiveKind, type ObjectiveSpec } from './core/objective';
import { builtinEvalText } from './core/toolchains/llamacpp/accuracy';
import { ProcessRunner } from './core/process/runner';
import { journalSummary, runOptimize, type SessionEvent, type SessionSummary } from './core/session';
import { SessionStore } from './core/store';
import { resolveStrategy, type Strategy } from './core/strategies';
import { promptPreview } from './core/agent/agent';
import {
  prepareSession,
  strategyContext,
  tools,
  type Prepared,
  type SessionOptions,
  type ToolOptions,
} from './core/prepare';
import { describeUsage, llmUsage } from './core/agent/journal';
import { DEFAULT_LLM, DEFAULT_MODEL, apiKeyFromEnv, checkBaseUrl, type LlmSettings } from './core/agent/settings';
import { buildToolchain, defaultBackend, ensureSource, type Backend } from './core/toolchains/llamacpp/build';
import { serverArgv } from './core/toolchains/llamacpp/deploy';
import { locateTools, withToolInfo } from './core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from './core/toolchains/llamacpp/toolchain';
import { DEFAULT_WORKLOAD, type Workload } from './core/types';
import { accuracyText, formatDuration, shortConfig, stat, mib, trialsTable } from './core/format';
import { cacheRoot, toolchainRoot } from './core/paths';
import { shellQuoteForDisplay } from './core/process/runner';
import { DEMO_SHAPE, writeDemoModel } from './core/demoModel';

const USAGE = `haqa — find the fastest way to run an LLM on this machine (llama.cpp)

usage:
  haqa demo [--budget N] [--json]                     make a small random-weight Llama GGUF and optimize it
  haqa optimize --model FILE.gguf [options]           run a search session
  haqa optimize --replay FILE... [options]            the same, answered from recorded llama-bench rows
  haqa optimize --resume ID|PATH                      continue a stopped or crashed session
  haqa report [ID|PATH] [--json]                      results of a session (default: the latest)
  haqa hardware [--json]                              the hardware profile
  haqa inspect FILE.gguf [--json]                     model facts from the GGUF header
  haqa toolchain build [--backend cpu|cuda]           build llama.cpp's tools into the cache
  haqa toolchain status [--json]                      where the tools are, version, backend
  haqa clean [--toolchain]                            empty the artifact cache (and the llama.cpp build)

optimize options:
  --strategy auto|builtin|llm|tpe|heuristic|random|grid   (default auto)
  --budget N             trials to measure (default 12)
  --time-budget MIN      stop starting trials after MIN minutes
  --objective decode|prefill|balanced   (default decode)  --decode-weight W (balanced; default 0.5)
  --max-size-mb N        constraint on the model file size
  --max-mem-mb N         constraint on peak memory (host + GPU)
  --max-dppl PCT         constraint on perplexity drift from the source model, in % (needs accuracy on)
  --max-kld X            constraint on mean KL divergence to the source model
  --accuracy on|off      measure accuracy in every trial with llama-perplexity (default on)
  --eval-text FILE       evaluation text (default: the built-in sample, Python stdlib source)
  --eval-chunks N        512-token chunks of it to evaluate (default 8)
  --calibration-text FILE   calibration text for importance matrices (repeatable; default: the built-in sample)
  --seed N               strategy seed (default 0)
  --prompt-tokens N --gen-tokens N --depth N --repetitions N    the workload (default 512/128/0, 3 reps)
  --session-dir DIR      the .haqa root (default ./.haqa)
  --cache-dir DIR        artifact cache (default \${XDG_CACHE_HOME:-~/.cache}/haqa)
  --llamacpp-bin DIR     use llama.cpp tools from DIR (also $HAQA_LLAMACPP_BIN)
  --backend cpu|cuda     backend for an automatic build (default: cuda only when nvidia-smi lists a GPU)
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

const OPTIONS = {
  model: { type: 'string' },
  strategy: { type: 'string' },
  budget: { type: 'string' },
  'time-budget': { type: 'string' },
  objective: { type: 'string' },
  'decode-weight': { type: 'string' },
  'max-size-mb': { type: 'string' },
  'max-mem-mb': { type: 'string' },
  seed: { type: 'string' },
  'session-dir': { type: 'string' },
  resume: { type: 'string' },
  replay: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'prompt-tokens': { type: 'string' },
  'gen-tokens': { type: 'string' },
  depth: { type: 'string' },
  repetitions: { type: 'string' },
  'cache-dir': { type: 'string' },
  'llamacpp-bin': { type: 'string' },
  backend: { type: 'string' },
  'max-dppl': { type: 'string' },
  'max-kld': { type: 'string' },
  accuracy: { type: 'string' },
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

type Flags = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof OPTIONS)[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

const usage = (msg: string) => new HaqaError(msg, 'see `haqa --help`', 'usage');

function int(flags: Flags, name: keyof Flags, def: number | undefined, min = 0): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (typeof v === 'string' && !/^\d+(\.\d+)?$/.test(v)))
    throw usage(`--${name} must be a number ≥ ${min}, got "${String(v)}"`);
  return n;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

function backendFlag(flags: Flags): Backend | undefined {
  if (flags.backend === undefined) return undefined;
  if (flags.backend !== 'cpu' && flags.backend !== 'cuda')
    throw usage(`--backend must be cpu or cuda, got "${flags.backend}"`);
  return flags.backend;
}

function makeRunner(flags: Flags): ProcessRunner {
  const runner = new ProcessRunner();
  if (flags.verbose)
    runner.subscribe((e) => {
      if (e.type === 'data') process.stderr.write(e.data);
    });
  return runner;
}

function toolOptions(flags: Flags, runner: ProcessRunner): ToolOptions {
  return { binDir: flags['llamacpp-bin'], backend: backendFlag(flags), runner, onProgress: (m) => log(`haqa: ${m}`) };
}

function objectiveFrom(flags: Flags): ObjectiveSpec {
  const kind = (flags.objective ?? 'decode') as ObjectiveKind;
  if (!['decode', 'prefill', 'balanced'].includes(kind))
    throw usage(`--objective must be decode, prefill or balanced, got "${kind}"`);
  const w = flags['decode-weight'] !== undefined ? Number(flags['decode-weight']) : undefined;
  if (w !== undefined && !(w >= 0 && w <= 1)) throw usage('--decode-weight must be between 0 and 1');
  const size = int(flags, 'max-size-mb', undefined, 1);
  const mem = int(flags, 'max-mem-mb', undefined, 1);
  const dppl = flags['max-dppl'] !== undefined ? Number(flags['max-dppl']) : undefined;
  if (dppl !== undefined && !(dppl >= 0))
    throw usage(`--max-dppl must be a percentage ≥ 0, got "${flags['max-dppl']}"`);
  const kld = flags['max-kld'] !== undefined ? Number(flags['max-kld']) : undefined;
  if (kld !== undefined && !(kld >= 0)) throw usage(`--max-kld must be a number ≥ 0, got "${flags['max-kld']}"`);
  return {
    kind,
    decodeWeight: w,
    maxSizeBytes: size !== undefined ? size * 2 ** 20 : undefined,
    maxMemBytes: mem !== undefined ? mem * 2 ** 20 : undefined,
    maxDeltaPplPct: dppl,
    maxKld: kld,
  };
}

function workloadFrom(flags: Flags, def: Workload): Workload {
  return {
    promptTokens: int(flags, 'prompt-tokens', def.promptTokens)!,
    genTokens: int(flags, 'gen-tokens', def.genTokens)!,
    depth: int(flags, 'depth', def.depth)!,
    repetitions: int(flags, 'repetitions', def.repetitions, 1)!,
  };
}

/** Accuracy settings: on by default with the built-in evaluation text; null when off (replay sessions have none). */
function accuracyFrom(flags: Flags, defaultChunks = 8): { evalFile: string; chunks: number } | null {
  const mode = flags.accuracy ?? 'on';
  if (mode !== 'on' && mode !== 'off') throw usage(`--accuracy must be on or off, got "${mode}"`);
  if (mode === 'off' || flags.replay?.length) {
    if (mode === 'off' && (flags['max-dppl'] !== undefined || flags['max-kld'] !== undefined))
      throw usage('--max-dppl / --max-kld need --accuracy on');
    return null;
  }
  const evalFile = flags['eval-text'] ? path.resolve(flags['eval-text']) : builtinEvalText();
  if (!evalFile || !fs.existsSync(evalFile)) {
    throw new HaqaError(
      `evaluation text not found: ${evalFile ?? 'the built-in sample (assets/eval-python-stdlib.txt)'}`,
      'pass --eval-text FILE (plain UTF-8 text, a few hundred KB), or --accuracy off',
      'input',
    );
  }
  return { evalFile, chunks: int(flags, 'eval-chunks', defaultChunks, 1)! };
}

/** Calibration texts for the imatrix knob, by name (file stem); undefined = the built-in sample. */
function calibrationsFrom(flags: Flags): Record<string, string> | undefined {
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
function llmSettings(flags: Flags, stored?: Partial<LlmSettings>): LlmSettings | undefined {
  const baseUrl = flags['llm-base-url'] ?? stored?.baseUrl ?? process.env.HAQA_LLM_BASE_URL;
  if (!baseUrl) return undefined;
  const num = (name: keyof Flags, def: number | undefined, min = 0) => int(flags, name, def, min);
  const temperature = num('llm-temperature', stored?.temperature);
  if (temperature !== undefined && temperature > 2) throw usage('--llm-temperature must be between 0 and 2');
  return {
    ...DEFAULT_LLM,
    ...stored,
    baseUrl: checkBaseUrl(baseUrl),
    model: flags['llm-model'] ?? stored?.model ?? process.env.HAQA_LLM_MODEL ?? DEFAULT_MODEL,
    temperature,
    timeoutMs: num('llm-timeout', (stored?.timeoutMs ?? DEFAULT_LLM.timeoutMs) / 1000, 0.1)! * 1000,
    maxRetries: num('llm-max-retries', stored?.maxRetries ?? DEFAULT_LLM.maxRetries)!,
    maxPromptTokens: num('llm-max-prompt-tokens', stored?.maxPromptTokens ?? DEFAULT_LLM.maxPromptTokens, 1000)!,
    proposalsPerCall: num('llm-proposals', stored?.proposalsPerCall ?? DEFAULT_LLM.proposalsPerCall, 1)!,
    repairRounds: num('llm-repair-rounds', stored?.repairRounds ?? DEFAULT_LLM.repairRounds)!,
    priceInPerMTok: num('llm-price-in', stored?.priceInPerMTok),
    priceOutPerMTok: num('llm-price-out', stored?.priceOutPerMTok),
  };
}

function printEvent(e: SessionEvent): void {
  switch (e.type) {
    case 'info':
      log(`haqa: ${e.message}`);
      break;
    case 'rejected':
      log(`haqa: rejected proposal ${JSON.stringify(e.config)?.slice(0, 300)}: ${e.reasons.join('; ')}`);
      break;
    case 'agent': {
      const a = e.event;
      if (a.type === 'llm-call') {
        const c = a.call;
        log(
          `haqa: LLM call (${c.mode}${c.round ? `, repair round ${c.round}` : ''}): ${c.outcome}${c.promptTokens !== undefined ? `, ${c.promptTokens}+${c.completionTokens ?? 0} tokens` : ''}${c.costUsd !== undefined ? `, $${c.costUsd.toFixed(4)}` : ''}, ${(c.ms / 1000).toFixed(1)} s${c.valid !== undefined ? `, ${c.valid} valid / ${c.rejected ?? 0} rejected` : ''}${c.error ? `: ${c.error}` : ''}`,
        );
      } else if (a.type === 'explanation') log(`haqa: agent on trial #${a.trial}: ${a.why}`);
      else if (a.type === 'fallback')
        log(
          `haqa: LLM agent failed: ${a.cause}\n      → the built-in strategy proposes ${a.permanent ? 'for the rest of this session' : 'this round'}`,
        );
      else if (a.type === 'stop') log(`haqa: the agent decided to stop: ${a.reason}`);
      break;
    }
    case 'trial-start':
      log(
        `[${e.counted + 1}/${e.budget}] trial #${e.index} ${shortConfig(e.config)}${e.source ? ` (${e.source})` : ''}${e.rationale ? `\n        why: ${e.rationale}` : ''}${e.expectedEffect ? `\n        expect: ${e.expectedEffect}` : ''}${e.counterintuitive ? `\n        counterintuitive: ${e.counterintuitive}` : ''}`,
      );
      break;
    case 'progress':
      break;
    case 'trial-end': {
      const t = e.trial;
      const m =
        t.status === 'done' || t.status === 'infeasible'
          ? `decode ${stat(t.metrics.decode)} t/s, prefill ${stat(t.metrics.prefill)} t/s, ${mib(t.metrics.fileSizeBytes)} MiB${t.metrics.accuracy ? `, ${accuracyText(t.metrics.accuracy)}` : ''}`
          : (t.cause ?? '');
      const steps = (t.steps ?? [])
        .filter((st) => st.name !== 'replay')
        .map((st) => `${st.name} ${st.cached ? 'cached' : `${st.seconds.toFixed(1)} s`}`)
        .join(', ');
      log(
        `        ${t.status}: ${m}${t.status === 'infeasible' ? ` (${t.cause})` : ''} [${formatDuration(t.durationMs)}${steps ? `: ${steps}` : ''}]${e.etaMs !== undefined && e.counted < e.budget ? `  ETA ${formatDuration(e.etaMs)}` : ''}`,
      );
      for (const f of (t.findings ?? []).slice(0, 1))
        log(`        counterintuitive, measured: ${f.evidence}\n          likely why: ${f.explanation}`);
      break;
    }
    case 'end':
      break;
  }
}

function jsonSummary(s: SessionSummary, p: Prepared, server?: string[]) {
  const pick = (t?: SessionSummary['best']) => (t ? { index: t.index, config: t.config, metrics: t.metrics } : null);
  return {
    schema: 'haqa.optimize.v1',
    sessionId: s.sessionId,
    sessionPath: s.sessionPath,
    status: s.status,
    stopReason: s.stopReason,
    strategy: s.strategy,
    objective: s.objective,
    toolchain: p.toolchain.info(),
    model: {
      name: p.model.name,
      path: p.model.path,
      fileType: p.model.fileType,
      sizeBytes: p.model.sizeBytes,
      parameterCount: p.model.parameterCount,
    },
    trials: s.trials,
    best: pick(s.best),
    pareto: s.pareto.map((t) => t.index),
    llm: s.llm ?? null,
    serverCommand: server ?? null,
  };
}

async function optimize(
  flags: Flags,
  defaults: { workload?: Workload; budget?: number; model?: string; evalChunks?: number } = {},
): Promise<number> {
  const root = path.resolve(flags['session-dir'] ?? '.haqa');
  const runner = makeRunner(flags);
  let resumed: SessionStore | undefined;
  let opts: Record<string, unknown>;
  if (flags.resume) {
    resumed = SessionStore.open(root, flags.resume);
    opts = { ...resumed.meta.options };
    if (flags.budget !== undefined) opts.budget = int(flags, 'budget', undefined, 1);
    log(`haqa: resuming session ${resumed.id} (${resumed.dir})`);
  } else {
    opts = {
      model: flags.model ? path.resolve(flags.model) : defaults.model,
      replay: flags.replay?.map((f) => path.resolve(f)),
      strategy: flags.strategy ?? 'auto',
      budget: int(flags, 'budget', defaults.budget ?? 12, 1),
      seed: int(flags, 'seed', 0),
      timeBudgetMin: int(flags, 'time-budget', undefined),
      objective: objectiveFrom(flags),
      workload: workloadFrom(flags, defaults.workload ?? DEFAULT_WORKLOAD),
      cacheDir: flags['cache-dir'],
      accuracy: accuracyFrom(flags, defaults.evalChunks),
      calibrations: calibrationsFrom(flags),
    };
  }
  // The key is read here and passed on; it is never stored in the session, printed or logged.
  const llm = llmSettings(flags, opts.llm as Partial<LlmSettings> | undefined);
  if (llm) {
    opts.llm = { ...llm, mode: undefined };
    const usage = resumed ? llmUsage(resumed.readJournal()) : undefined;
    if (usage?.mode) llm.mode = usage.mode;
  }
  const strategy = resolveStrategy(String(opts.strategy), { llm, apiKey: apiKeyFromEnv() });
  const p = await prepareSession(opts as unknown as SessionOptions, toolOptions(flags, runner));
  if (flags['show-prompt']) return showPrompt(flags, opts, p, strategy.strategy, resumed);
  const store =
    resumed ??
    SessionStore.create(root, {
      options: opts,
      strategy: { requested: strategy.requested, used: strategy.strategy.name, note: strategy.note },
      hardware: p.hardware,
      model: p.model,
      toolchain: p.toolchain.info(),
      space: p.toolchain.space.describe(),
    });
  const objective = opts.objective as ObjectiveSpec;
  log(`haqa: session ${store.id} → ${store.dir}`);
  log(`haqa: model ${describeModel(p.model)}`);
  log(
    `haqa: ${describeObjective(objective)}; strategy ${strategy.requested}${strategy.requested !== strategy.strategy.name ? ` → ${strategy.strategy.name}` : ''}; budget ${String(opts.budget)} trials`,
  );

  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) {
      log('haqa: second Ctrl+C: exiting now');
      process.exit(130);
    }
    log('haqa: Ctrl+C: cancelling the running trial and stopping (resume with --resume); press again to exit at once');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  let summary: SessionSummary;
  try {
    summary = await runOptimize({
      toolchain: p.toolchain,
      hardware: p.hardware,
      model: p.model,
      strategy,
      objective,
      budget: Number(opts.budget),
      timeBudgetMs: opts.timeBudgetMin !== undefined ? Number(opts.timeBudgetMin) * 60_000 : undefined,
      seed: Number(opts.seed),
      workload: p.workload,
      store,
      runner,
      signal: ac.signal,
      onEvent: printEvent,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  let server: string[] | undefined;
  if (summary.best && p.tools && p.toolchain instanceof LlamaCppToolchain) {
    const a = await p.toolchain.artifactFor(summary.best.config);
    server = serverArgv(p.tools.server ?? 'llama-server', a.file, summary.best.config, p.workload);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(jsonSummary(summary, p, server), null, 2)}\n`);
  } else {
    printSummary(summary, server);
  }
  return summary.status === 'failed' || !summary.best ? 1 : 0;
}

function printSummary(s: SessionSummary, server?: string[]): void {
  const out: string[] = ['', trialsTable(s.objective, s.trials, s.best, s.pareto), ''];
  out.push(
    `session ${s.sessionId}: ${s.status} (${s.stopReason}); strategy ${s.strategy.requested}${s.strategy.requested !== s.strategy.used ? ` → ${s.strategy.used}` : ''}`,
  );
  out.push(
    `★ best, P Pareto front (${s.objective.kind} speed × file size${s.trials.some((t) => t.metrics.accuracy) ? ' × KL divergence' : ''})`,
  );
  const surprises = s.trials
    .flatMap((t) => (t.findings ?? []).map((f) => ({ t, f })))
    .sort((a, b) => Math.abs(b.f.change) - Math.abs(a.f.change))
    .slice(0, 5);
  if (surprises.length) {
    out.push('counterintuitive, measured (beyond 2 sd):');
    for (const { t, f } of surprises)
      out.push(
        `  #${t.index}: ${f.evidence}`,
        `      why: ${s.explanations?.[t.index] ? `${s.explanations[t.index]} (agent)` : f.explanation}`,
      );
  }
  if (s.llm) out.push(describeUsage(s.llm));
  if (s.best) {
    out.push(
      `best: trial #${s.best.index} ${shortConfig(s.best.config)}: decode ${stat(s.best.metrics.decode)} t/s, prefill ${stat(s.best.metrics.prefill)} t/s, ${mib(s.best.metrics.fileSizeBytes)} MiB${s.best.metrics.accuracy ? `, ${accuracyText(s.best.metrics.accuracy)}` : ''}`,
    );
    if (server) out.push('serve it with:', `  ${server.map(shellQuoteForDisplay).join(' ')}`);
  } else {
    out.push('no feasible trial: nothing to recommend (see the causes above; logs in the session folder)');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

/** `--show-prompt`: the exact next request, printed and not sent; no session is created or changed. */
function showPrompt(
  flags: Flags,
  opts: Record<string, unknown>,
  p: Prepared,
  strategy: Strategy,
  resumed?: SessionStore,
): number {
  const preview = promptPreview({
    strategy,
    settings: opts.llm as LlmSettings | undefined,
    model: flags['llm-model'] ?? process.env.HAQA_LLM_MODEL ?? DEFAULT_MODEL,
    hasKey: !!apiKeyFromEnv(),
    ctx: strategyContext(p, opts as { objective: ObjectiveSpec }),
    history: resumed?.readTrials().trials ?? [],
  });
  process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
  return 0;
}

async function demo(flags: Flags): Promise<number> {
  const runner = makeRunner(flags);
  await tools(toolOptions(flags, runner));
  const src = await ensureSource({ runner, onProgress: (m) => log(`haqa: ${m}`) });
  const file = path.join(
    cacheRoot(flags['cache-dir']),
    'models',
    `haqa-demo-llama-h${DEMO_SHAPE.hidden}-l${DEMO_SHAPE.layers}.gguf`,
  );
  if (!fs.existsSync(file)) {
    log(
      `haqa: writing the demo model (Llama shape, random weights, ${DEMO_SHAPE.layers} layers, hidden ${DEMO_SHAPE.hidden}) → ${file}`,
    );
    await writeDemoModel(file, path.join(src.dir, 'models', 'ggml-vocab-llama-spm.gguf'));
  }
  log('haqa: demo: the weights are random, so speeds are real but the text it would write is noise');
  return optimize(flags, {
    model: file,
    budget: 6,
    evalChunks: 4,
    workload: { promptTokens: 256, genTokens: 64, depth: 0, repetitions: 3 },
  });
}

async function report(flags: Flags, target?: string): Promise<number> {
  const root = path.resolve(flags['session-dir'] ?? '.haqa');
  const id = target ?? SessionStore.list(root).pop()?.id;
  if (!id)
    throw new HaqaError(
      `no sessions under ${root}`,
      'run `haqa optimize` or `haqa demo` first, or pass --session-dir',
      'input',
    );
  const store = SessionStore.open(root, id);
  const { trials } = store.readTrials();
  const objective = store.meta.options.objective as ObjectiveSpec;
  const b = best(objective, trials);
  const pareto = paretoFront(objective, trials);
  const summary: SessionSummary = {
    sessionId: store.id,
    sessionPath: store.dir,
    strategy: store.meta.strategy,
    status: store.meta.status === 'running' ? 'stopped' : store.meta.status,
    stopReason: store.meta.stopReason ?? (store.meta.status === 'running' ? 'interrupted (resume with --resume)' : ''),
    objective,
    trials,
    best: b,
    pareto,
    ...journalSummary(store.readJournal()),
  };
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ schema: 'haqa.report.v1', session: store.meta, trials, best: b?.index ?? null, pareto: pareto.map((t) => t.index), llm: summary.llm ?? null }, null, 2)}\n`,
    );
  } else {
    printSummary(summary);
  }
  return 0;
}

async function toolchainCmd(flags: Flags, sub?: string): Promise<number> {
  const runner = makeRunner(flags);
  if (sub === 'build') {
    const backend = backendFlag(flags) ?? defaultBackend();
    const t0 = Date.now();
    const m = await buildToolchain({
      backend,
      runner,
      onProgress: (s) => log(`haqa: ${s}`),
      logFile: path.join(toolchainRoot(), 'build.log'),
    });
    log(
      `haqa: llama.cpp ${m.commit.slice(0, 7)} (${m.backend}) ready in ${m.binDir}${Date.now() - t0 < 2000 ? ' (already built)' : ` after ${formatDuration(Date.now() - t0)}`}`,
    );
    if (flags.json) process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    return 0;
  }
  if (sub === 'status') {
    const found = locateTools({ binDir: flags['llamacpp-bin'], backend: backendFlag(flags) });
    if (!found) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ found: false })}\n`);
      else
        log(
          'llama.cpp tools: not found (explicit folder, $HAQA_LLAMACPP_BIN, PATH, cache)\n  fix: run `haqa toolchain build`',
        );
      return 1;
    }
    const t = await withToolInfo(runner, found);
    const out = {
      found: true,
      source: t.source,
      binDir: t.binDir,
      commit: t.commit,
      backend: t.backend ?? 'unknown',
      tools: { quantize: t.quantize, bench: t.bench, perplexity: t.perplexity, imatrix: t.imatrix, server: t.server },
    };
    if (flags.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else
      process.stdout.write(
        `llama.cpp tools (${out.source}): ${out.binDir}\nversion ${out.commit ?? 'unknown'}, backend ${out.backend}\n${Object.entries(
          out.tools,
        )
          .map(([k, v]) => `  ${k.padEnd(10)} ${v ?? '(missing)'}`)
          .join('\n')}\n`,
      );
    return 0;
  }
  throw usage('toolchain needs a subcommand: build or status');
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`haqa: ${errorMessage(e)}\n  fix: see \`haqa --help\`\n`);
    return 2;
  }
  const flags = parsed.values as Flags;
  const [cmd, ...rest] = parsed.positionals;
  if (flags.help || !cmd || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd || flags.help ? 0 : 2;
  }
  try {
    switch (cmd) {
      case 'optimize':
        // `--replay A B C`: files after the first arrive as positionals.
        if (rest.length && !flags.replay) throw usage(`unexpected argument "${rest[0]}"`);
        if (rest.length) flags.replay = [...(flags.replay ?? []), ...rest];
        return await optimize(flags);
      case 'demo':
        return await demo(flags);
      case 'report':
        return await report(flags, rest[0]);
      case 'toolchain':
        return await toolchainCmd(flags, rest[0]);
      case 'hardware': {
        const hw = probeHardware();
        process.stdout.write(flags.json ? `${JSON.stringify(hw, null, 2)}\n` : `${describeHardware(hw)}\n`);
        return 0;
      }
      case 'inspect': {
        if (!rest[0]) throw usage('inspect needs a .gguf file');
        const m = await inspectModel(rest[0]);
        process.stdout.write(flags.json ? `${JSON.stringify(m, null, 2)}\n` : `${describeModel(m)}\n`);
        return 0;
      }
      case 'clean': {
        const c = new ArtifactCache(flags['cache-dir']);
        log(`haqa: removed ${formatBytes(c.clean())} of cached artifacts from ${c.dir}`);
        if (flags.toolchain) {
          fs.rmSync(toolchainRoot(), { recursive: true, force: true });
          log(`haqa: removed the llama.cpp build in ${toolchainRoot()}`);
        }
        return 0;
      }
      default:
        throw usage(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (isHaqaError(e)) {
      process.stderr.write(`haqa: ${e.message}\n  fix: ${e.fix}\n`);
      return e.code === 'usage' ? 2 : 1;
    }
    process.stderr.write(`haqa: unexpected error: ${e instanceof Error ? e.stack : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
