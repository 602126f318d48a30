import { HaqaError } from '../errors';
import type { ObjectiveSpec } from '../objective';
import type { SearchSpace } from '../space';
import type { Config, HardwareProfile, ModelInfo, TrialRecord, Workload } from '../types';
import { pick, type Rng } from './rng';

export interface StrategyContext {
  space: SearchSpace;
  hardware: HardwareProfile;
  model: ModelInfo;
  objective: ObjectiveSpec;
  seed: number;
  budget: number;
  /** The request being measured and the toolchain's facts (for the agent's prompt). */
  workload?: Workload;
  toolchain?: Record<string, unknown>;
  /** Cancels a strategy that waits on something (the LLM). */
  signal?: AbortSignal;
  /** What a strategy has to say along the way (agent calls, rejected proposals, fallbacks). */
  onEvent?: (e: StrategyEvent) => void;
}

export interface Proposal {
  config: Config;
  /** Why this configuration, in a sentence. */
  rationale?: string;
  /** What the proposer expects it to do. */
  expectedEffect?: string;
  /** The reason, when the proposer knows the choice looks counterintuitive. */
  counterintuitive?: string;
  /** The strategy that made it, when not the session's own (a fallback). */
  source?: string;
}

/** One LLM call, as recorded in the session journal (no prompt text, no secrets). */
export interface LlmCallRecord {
  at: string;
  model: string;
  mode: string;
  round: number;
  ms: number;
  attempts: number;
  promptTokens?: number;
  completionTokens?: number;
  costUsd?: number;
  outcome: 'ok' | 'invalid' | 'error';
  valid?: number;
  rejected?: number;
  error?: string;
}

export type StrategyEvent =
  | { type: 'info'; message: string }
  | { type: 'rejected'; config: unknown; reasons: string[]; source: string }
  | { type: 'llm-call'; call: LlmCallRecord }
  | { type: 'explanation'; trial: number; why: string }
  | { type: 'fallback'; cause: string; permanent: boolean }
  | { type: 'stop'; reason: string };

/** Proposes the next configurations from everything measured so far. Deterministic for a seed. */
export interface Strategy {
  readonly name: string;
  /** An empty answer means: nothing left worth trying (`stopReason` may say why). */
  propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]>;
  /** Set with an empty answer when the strategy decided to stop for a reason of its own. */
  readonly stopReason?: string;
}

export const STRATEGY_NAMES = ['auto', 'builtin', 'llm', 'tpe', 'heuristic', 'random', 'grid'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** A strategy name, checked: unknown names are refused with the list of known ones. */
export function checkStrategyName(name: string): StrategyName {
  const known = STRATEGY_NAMES.find((n) => n === name);
  if (!known) throw new HaqaError(`unknown strategy "${name}"`, `use one of: ${STRATEGY_NAMES.join(', ')}`, 'usage');
  return known;
}

/** Keys of configurations that count as measured (a cancelled trial does not: it is tried again). */
export function measuredKeys(space: SearchSpace, history: TrialRecord[]): Set<string> {
  return new Set(history.filter((t) => t.status !== 'cancelled').map((t) => space.key(t.config)));
}

/** Spaces up to this size are enumerated; bigger ones are sampled. */
const ENUMERATE_LIMIT = 200_000;

/** A uniformly random valid configuration not yet measured (or undefined when none is left). */
export function randomUnmeasured(
  space: SearchSpace,
  measured: Set<string>,
  r: Rng,
  exclude: Set<string> = new Set(),
): Config | undefined {
  if (space.productSize() <= ENUMERATE_LIMIT) {
    const left = [...space.enumerate()].filter((c) => !measured.has(space.key(c)) && !exclude.has(space.key(c)));
    return left.length ? pick(r, left) : undefined;
  }
  for (let i = 0; i < 10_000; i++) {
    const c: Config = {};
    for (const k of space.knobs) c[k.name] = pick(r, k.values);
    const key = space.key(c);
    if (space.isValid(c) && !measured.has(key) && !exclude.has(key)) return c;
  }
  return undefined;
}
