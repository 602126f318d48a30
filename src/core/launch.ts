/**
 * The one way a session starts, for the CLI, the extension, the tests and the benchmarks: a `SessionSpec` and the
 * host's dependencies in, a created (or resumed) session out, ready to run the loop with the host's hooks.
 */
import { llmUsage } from './agent/journal';
import { acquireSessionLock } from './lock';
import { ArtifactCache } from './artifacts';
import { HaqaError } from './errors';
import type { LlmSettings } from './agent/settings';
import { prepareSession, type Prepared, type ToolOptions } from './prepare';
import type { ProcessRunner } from './process/runner';
import { runOptimize, type OptimizeOptions, type SessionSummary } from './session';
import { specForDisk, type SessionSpec } from './spec';
import { SessionStore } from './store';
import { resolveStrategy, type ResolvedStrategy } from './strategies';

export interface LaunchDeps {
  /** The `.haqa` root a new session is created under. */
  root: string;
  runner: ProcessRunner;
  /** How this host finds llama.cpp's tools (its own flags or machine-scoped settings), with progress and cancel. */
  tools?: Omit<ToolOptions, 'runner'>;
  /** The agent's key, from the environment or VS Code's secret storage; never written anywhere. */
  apiKey?: string;
  /** Continue this stored session instead of creating one. */
  resume?: SessionStore;
  /** Already prepared (a replay grid in tests and benchmarks): skips the hardware probe and the tool lookup. */
  prepared?: Prepared;
  /** What the session lock says this host is doing (default "haqa optimize"). */
  lockOwner?: string;
}

/** What the host may hook into a running session: stop, events, the review gate, a per-trial cancel. */
export type SessionHooks = Pick<
  OptimizeOptions,
  'signal' | 'onEvent' | 'review' | 'trialSignal' | 'confirm' | 'confirmSleep'
>;

export interface LaunchedSession {
  spec: SessionSpec;
  store: SessionStore;
  prepared: Prepared;
  strategy: ResolvedStrategy;
  /** Runs the loop to its end (budget, time budget, stop, failure); resumable at any point. Releases the lock. */
  run(hooks?: SessionHooks): Promise<SessionSummary>;
  /** Gives the session's lock back without running (a host that changed its mind); run() does it at its end. */
  release(): void;
}

/**
 * The strategy a spec asks for. A resumed session starts the agent in the output mode its endpoint already accepted
 * (remembered in the session's journal).
 */
export function sessionStrategy(spec: SessionSpec, apiKey?: string, resume?: SessionStore): ResolvedStrategy {
  const llm: LlmSettings | undefined = spec.llm ? { ...spec.llm } : undefined;
  const mode = resume ? llmUsage(resume.readJournal())?.mode : undefined;
  if (llm && mode) llm.mode = mode;
  return resolveStrategy(spec.strategy, { llm, apiKey });
}

/**
 * Resolves the strategy (a misconfigured one fails before anything is built), prepares the model, hardware and
 * toolchain, and creates the session on disk with its spec — or takes the stored session to resume.
 */
export async function launchSession(spec: SessionSpec, deps: LaunchDeps): Promise<LaunchedSession> {
  // A new spec is checked before anything is built: its problems are the user's options, named as such.
  if (!deps.resume) specForDisk(spec);
  const strategy = sessionStrategy(spec, deps.apiKey, deps.resume);
  // One writer per session: a resume takes the lock before anything is built, so a second one is refused at once.
  let lock = deps.resume ? acquireSessionLock(deps.resume.dir, deps.lockOwner ?? 'haqa optimize --resume') : undefined;
  let prepared: Prepared;
  let modelSha256: string | undefined;
  try {
    prepared = deps.prepared ?? (await prepareSession(spec, { ...deps.tools, runner: deps.runner }));
    // The model's content (memoized per path, size and mtime: the first trial needs it anyway, for the cache key).
    if (spec.model && !deps.prepared)
      modelSha256 = await new ArtifactCache(spec.toolchain.cacheDir).modelDigest(spec.model);
    if (deps.resume) checkResume(deps.resume, prepared, modelSha256);
  } catch (e) {
    lock?.release();
    throw e;
  }
  const store =
    deps.resume ??
    SessionStore.create(deps.root, {
      spec,
      strategy: { requested: strategy.requested, used: strategy.strategy.name, note: strategy.note },
      hardware: prepared.hardware,
      model: prepared.model,
      toolchain: prepared.toolchain.info(),
      space: prepared.toolchain.space.describe(),
      ...(modelSha256 ? { modelSha256 } : {}),
    });
  lock ??= acquireSessionLock(store.dir, deps.lockOwner ?? 'haqa optimize');
  const held = lock;
  return {
    spec,
    store,
    prepared,
    strategy,
    release: () => held.release(),
    run: (hooks: SessionHooks = {}) =>
      runOptimize({
        toolchain: prepared.toolchain,
        hardware: prepared.hardware,
        model: prepared.model,
        strategy,
        objective: spec.objective,
        budget: spec.budget,
        timeBudgetMs: spec.timeBudgetMin !== undefined ? spec.timeBudgetMin * 60_000 : undefined,
        seed: spec.seed,
        workload: prepared.workload,
        store,
        runner: deps.runner,
        confirm: spec.confirm ? undefined : false,
        reference: spec.reference,
        stopEarly: spec.stopEarly !== false,
        ...hooks,
      }).finally(() => held.release()),
  };
}

/**
 * A resume continues what was measured only with the same model and the same llama.cpp: a changed model file (its
 * sha256, else its size) or another build (commit, backend) would mix figures of different things in one verdict.
 */
function checkResume(store: SessionStore, p: Prepared, sha?: string): void {
  const id = store.id;
  const was = store.meta;
  // The model's content when the session recorded it; its size for sessions written before that.
  const changed =
    was.modelSha256 && sha && was.modelSha256 !== sha
      ? `sha256 ${was.modelSha256.slice(0, 12)}… → ${sha.slice(0, 12)}…`
      : !was.modelSha256 && was.model?.sizeBytes && p.model.sizeBytes && was.model.sizeBytes !== p.model.sizeBytes
        ? `${was.model.sizeBytes} → ${p.model.sizeBytes} bytes`
        : undefined;
  if (changed)
    throw new HaqaError(
      `session ${id}: the model file ${p.model.path} changed since the session started (${changed})`,
      'restore the original file to continue this session, or start a new session on the new file',
      'input',
    );
  const before = was.toolchain ?? {};
  const now = p.toolchain.info();
  const differs = (k: string) => before[k] !== undefined && now[k] !== undefined && before[k] !== now[k];
  if (differs('commit') || differs('backend'))
    throw new HaqaError(
      `session ${id} was measured with llama.cpp ${String(before.commit)} (${String(before.backend)}, ` +
        `${String(before.binDir)}); this run found ${String(now.commit)} (${String(now.backend)}, ${String(now.binDir)})`,
      {
        cli: `resume with --llamacpp-bin ${String(before.binDir)} (the build the session used), or start a new session`,
        vscode: `point haqa.llamacpp.binDir at ${String(before.binDir)} (the build the session used), or start a new session`,
      },
      'input',
    );
}
