/** `haqa optimize` and `haqa demo`: a spec from flags (or a stored session), launched through the core. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeModel } from '../core/model';
import { describeObjective } from '../core/objective';
import { launchSession, sessionStrategy } from '../core/launch';
import { type SessionSummary } from '../core/session';
import { SPEC_VERSION, recordedLlm, type SessionSpec } from '../core/spec';
import { SessionStore } from '../core/store';
import { checkStrategyName, type Strategy } from '../core/strategies';
import { promptPreview } from '../core/agent/agent';
import { prepareSession, strategyContext, tools, type Prepared } from '../core/prepare';
import { DEFAULT_MODEL, apiKeyFromEnv } from '../core/agent/settings';
import { ensureSource } from '../core/toolchains/llamacpp/build';
import { serverArgv, servedContext } from '../core/toolchains/llamacpp/deploy';
import { LlamaCppToolchain } from '../core/toolchains/llamacpp/toolchain';
import { DEFAULT_WORKLOAD, type Workload } from '../core/types';
import { cacheRoot } from '../core/paths';
import { DEMO_SHAPE, TRAINED_DEMO, trainedDemoModel, writeDemoModel } from '../core/demoModel';
import {
  accuracyFrom,
  backendFlag,
  calibrationsFrom,
  type Flags,
  usage,
  int,
  llmSettings,
  num,
  makeRunner,
  objectiveFrom,
  onOff,
  toolOptions,
  workloadFrom,
} from './args';
import { log, jsonSummary, printEvent, printSummary } from './output';

/** The flags a resume takes (plus the agent's endpoint settings, --llm-*); every other flag is named as ignored. */
const RESUME_FLAGS = new Set([
  'resume',
  'budget',
  'time-budget',
  'step-timeout',
  'session-dir',
  'json',
  'verbose',
  'llamacpp-bin',
  'backend',
  'cache-dir',
  'show-prompt',
]);

/** The run-time limits: the time budget and the step limit, from flags or (on a resume) as stored. */
const limits = (flags: Flags, stored?: Pick<SessionSpec, 'timeBudgetMin' | 'stepTimeoutMin'>) => ({
  timeBudgetMin: num(flags, 'time-budget', stored?.timeBudgetMin, { min: 0.01 }),
  stepTimeoutMin: num(flags, 'step-timeout', stored?.stepTimeoutMin, { min: 0.01 }),
});

export async function optimize(
  flags: Flags,
  defaults: { workload?: Workload; budget?: number; model?: string; evalChunks?: number } = {},
): Promise<number> {
  const root = path.resolve(flags['session-dir'] ?? '.haqa');
  const runner = makeRunner(flags);
  let resumed: SessionStore | undefined;
  let spec: SessionSpec;
  if (flags.model && flags.replay?.length)
    throw usage('--model and --replay exclude each other: a session optimizes a model, or replays recorded rows');
  if (flags.replay?.length && (flags.context !== undefined || flags.depth !== undefined))
    throw usage('--context and --depth do not apply to --replay: the rows were measured at the depth they record');
  if (flags.resume) {
    // A resume continues the stored session as it was specified; only where it runs and how far may change.
    const ignored = Object.keys(flags).filter((f) => !RESUME_FLAGS.has(f) && !f.startsWith('llm-'));
    if (ignored.length)
      log(`haqa: --resume keeps the session's own settings; ignored: ${ignored.map((f) => `--${f}`).join(', ')}`);
    resumed = SessionStore.open(root, flags.resume);
    // Where it runs and how long may change on a resume (the recovery from a hang is a resume with a step limit).
    const stored = resumed.meta.spec;
    spec = {
      ...stored,
      budget: int(flags, 'budget', stored.budget, 1, 100_000)!,
      ...limits(flags, stored),
    };
    log(`haqa: resuming session ${resumed.id} (${resumed.dir})`);
  } else {
    const model = flags.model ? path.resolve(flags.model) : defaults.model;
    const replay = flags.replay?.map((f) => path.resolve(f));
    spec = {
      version: SPEC_VERSION,
      model,
      replay,
      strategy: checkStrategyName(flags.strategy ?? 'auto'),
      budget: int(flags, 'budget', defaults.budget ?? 12, 1, 100_000)!,
      seed: int(flags, 'seed', 0, 0, 2 ** 31 - 1)!,
      ...limits(flags),
      objective: objectiveFrom(flags),
      workload: workloadFrom(flags, defaults.workload ?? DEFAULT_WORKLOAD),
      confirm: onOff(flags, 'confirm', true),
      reference: onOff(flags, 'reference', true),
      stopEarly: onOff(flags, 'stop-early', true),
      accuracy: accuracyFrom(flags, defaults.evalChunks),
      calibrations: calibrationsFrom(flags),
      toolchain: { binDir: flags['llamacpp-bin'], backend: backendFlag(flags), cacheDir: flags['cache-dir'] },
    };
  }
  // The key is read here and passed on; it is never stored in the session, printed or logged.
  const llm = llmSettings(flags, spec.llm);
  if (llm) spec = { ...spec, llm: recordedLlm(llm) };
  const apiKey = apiKeyFromEnv();
  if (flags['show-prompt']) {
    const strategy = sessionStrategy(spec, apiKey, resumed);
    const p = await prepareSession(spec, toolOptions(flags, runner));
    return showPrompt(flags, spec, p, strategy.strategy, resumed);
  }
  const session = await launchSession(spec, {
    root,
    runner,
    apiKey,
    resume: resumed,
    tools: toolOptions(flags, runner),
  });
  const { store, prepared: p, strategy } = session;
  log(`haqa: session ${store.id} → ${store.dir}`);
  log(`haqa: model ${describeModel(p.model)}`);
  const { rejected, rejectedRows } = p.toolchain.info();
  if (Array.isArray(rejected) && rejected.length)
    log(`haqa: replay: ${String(rejectedRows)} row(s) left out, not measurements: ${rejected.join('; ')}`);
  const used = strategy.requested !== strategy.strategy.name ? ` → ${strategy.strategy.name}` : '';
  log(
    `haqa: ${describeObjective(spec.objective)}; strategy ${strategy.requested}${used}; budget ${spec.budget} trials`,
  );
  log(`haqa: workload ${describeWorkload(p.workload)}`);
  const gpus = p.hardware.gpus.map((g) => `${g.device ?? g.name} ${g.name}`).join(', ');
  if (p.tools) log(`haqa: llama.cpp ${p.tools.backend ?? '?'} build; devices: ${gpus || 'none (the CPU only)'}`);

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
    summary = await session.run({ signal: ac.signal, onEvent: printEvent });
  } finally {
    process.off('SIGINT', onSigint);
  }
  let server: string[] | undefined;
  if (summary.best && p.tools && p.toolchain instanceof LlamaCppToolchain) {
    const a = await p.toolchain.artifactFor(summary.best.config);
    server = serverArgv(
      p.tools.server ?? 'llama-server',
      a.file,
      summary.best.config,
      p.workload,
      8080,
      p.model.contextLength,
    );
    const note = servedContext(p.workload, p.model.contextLength, spec.workload.context).note;
    // A --context cut is noted when the session starts (workloadFor); the default one only here.
    if (note && spec.workload.context === undefined) log(`haqa: -c ${server[server.indexOf('-c') + 1]}: ${note}`);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(jsonSummary(summary, p, server), null, 2)}\n`);
  } else {
    printSummary(summary, server);
  }
  return summary.status === 'failed' || !summary.best ? 1 : 0;
}

function showPrompt(flags: Flags, spec: SessionSpec, p: Prepared, strategy: Strategy, resumed?: SessionStore): number {
  const preview = promptPreview({
    strategy,
    settings: spec.llm,
    model: flags['llm-model'] ?? process.env.HAQA_LLM_MODEL ?? DEFAULT_MODEL,
    hasKey: !!apiKeyFromEnv(),
    ctx: strategyContext(p, spec),
    history: resumed?.readTrials().trials ?? [],
  });
  process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
  return 0;
}

export async function demo(flags: Flags): Promise<number> {
  const trained = trainedDemoModel();
  if (trained) {
    log(`haqa: demo: ${TRAINED_DEMO.about} (${path.relative(process.cwd(), trained) || trained})`);
    return optimize(flags, { model: trained, budget: 6, evalChunks: 8, workload: TRAINED_DEMO.workload });
  }
  // An install without the fixture (the .vsix leaves test/ out): a random-weight model of the same family.
  const runner = makeRunner(flags);
  await tools(toolOptions(flags, runner));
  const src = await ensureSource({ runner, onProgress: (m) => log(`haqa: ${m}`) });
  const file = path.join(
    cacheRoot(flags['cache-dir']),
    'models',
    `haqa-demo-llama-h${DEMO_SHAPE.hidden}-l${DEMO_SHAPE.layers}.gguf`,
  );
  if (!fs.existsSync(file)) {
    const shape = `Llama shape, random weights, ${DEMO_SHAPE.layers} layers, hidden ${DEMO_SHAPE.hidden}`;
    log(`haqa: writing the demo model (${shape}) → ${file}`);
    await writeDemoModel(file, path.join(src.dir, 'models', 'ggml-vocab-llama-spm.gguf'));
  }
  log('haqa: demo: the trained model is not in this install; random weights: speeds are real, accuracy is not');
  return optimize(flags, {
    model: file,
    budget: 6,
    evalChunks: 4,
    workload: { promptTokens: 256, genTokens: 64, depth: 0, repetitions: 3 },
  });
}

/** pp512 + tg128 × 3 reps, at depth 8192 (and 0) of a 16384-token context. */
export function describeWorkload(w: Workload): string {
  const at = w.depth > 0 ? `, measured at depth ${w.depth} (and 0)` : '';
  const ctx = w.context !== undefined ? ` of a ${w.context}-token context (served with -c ${w.context})` : '';
  return `pp${w.promptTokens} + tg${w.genTokens} × ${w.repetitions} reps${at}${ctx}`;
}
