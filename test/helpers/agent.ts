/** Agent sessions over the recorded CPU grid, against the scripted OpenAI-protocol server. */
import { DEFAULT_LLM, type LlmSettings } from '../../src/core/agent/settings';
import { ProcessRunner } from '../../src/core/process/runner';
import { runOptimize, type SessionEvent } from '../../src/core/session';
import { SessionStore } from '../../src/core/store';
import { resolveStrategy } from '../../src/core/strategies';
import type { Toolchain, TrialContext } from '../../src/core/toolchains/toolchain';
import type { Config, ModelInfo, TrialRecord } from '../../src/core/types';
import { tmpDir } from './fixtures';
import { GRID_HW, gridSpec, replayGrid } from './replay';

/** Passes trials to the replay toolchain and keeps every configuration that reached it. */
export class SpyToolchain implements Toolchain {
  readonly name = 'spy';
  readonly calls: Config[] = [];
  constructor(private readonly inner: Toolchain = replayGrid()) {}
  get space() {
    return this.inner.space;
  }
  /** As the toolchain it wraps: a replay gives the same figures every time, so a session never confirms on it. */
  get measuresAgain() {
    return this.inner.measuresAgain;
  }
  info() {
    return this.inner.info();
  }
  runTrial(c: Config, ctx: TrialContext) {
    this.calls.push(structuredClone(c));
    return this.inner.runTrial(c, ctx);
  }
}

export interface ProposalJson {
  config: unknown;
  rationale?: unknown;
  expected_effect?: unknown;
  counterintuitive?: unknown;
  counterintuitive_why?: unknown;
}

/** A reply in the agent's schema. */
export function replyJson(proposals: ProposalJson[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    decision: 'propose',
    stop_reason: null,
    proposals: proposals.map((p) => ({
      rationale: 'because',
      expected_effect: 'faster decode',
      counterintuitive: false,
      counterintuitive_why: null,
      ...p,
    })),
    explanations: [],
    ...extra,
  });
}

/** The n-th recorded configuration of the grid (valid by construction). */
export const gridConfig = (n: number): Config => ({ ...replayGrid().recorded()[n] });

export interface AgentRun {
  store: SessionStore;
  trials: TrialRecord[];
  events: SessionEvent[];
  spy: SpyToolchain;
  summary: Awaited<ReturnType<typeof runOptimize>>;
}

export async function agentSession(
  baseUrl: string,
  o: {
    strategy?: 'llm' | 'auto';
    budget?: number;
    settings?: Partial<LlmSettings>;
    apiKey?: string;
    model?: Partial<ModelInfo>;
    root?: string;
    store?: SessionStore;
    signal?: AbortSignal;
  } = {},
): Promise<AgentRun> {
  const spy = new SpyToolchain();
  const llm: LlmSettings = {
    ...DEFAULT_LLM,
    baseUrl,
    model: 'test-model',
    timeoutMs: 5000,
    maxRetries: 1,
    ...o.settings,
  };
  const strategy = resolveStrategy(o.strategy ?? 'llm', { llm, apiKey: o.apiKey });
  const store =
    o.store ??
    SessionStore.create(o.root ?? tmpDir(), {
      spec: gridSpec({ llm }),
      strategy: { requested: o.strategy ?? 'llm', used: 'llm' },
    });
  const events: SessionEvent[] = [];
  const model = { ...replayGrid().modelInfo(), ...o.model };
  const summary = await runOptimize({
    toolchain: spy,
    hardware: GRID_HW,
    model,
    strategy,
    objective: { kind: 'decode' },
    budget: o.budget ?? 4,
    seed: 1,
    workload: { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 2 },
    store,
    runner: new ProcessRunner({ mode: 'pipe' }),
    signal: o.signal,
    onEvent: (e) => events.push(e),
  });
  return { store, trials: summary.trials, events, spy, summary };
}
