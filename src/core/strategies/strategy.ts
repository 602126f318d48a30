import { HaqaError } from '../errors';
import type { ObjectiveSpec } from '../objective';
import type { SearchSpace } from '../space';
import { placementLabel } from '../format';
import { kvHeavy } from '../knobs';
import {
  projectedBytes,
  type Config,
  type ConfigValue,
  type FittedPlacement,
  type HardwareProfile,
  type ModelInfo,
  type TrialRecord,
  type Workload,
} from '../types';
import { pick, type Rng } from './rng';
import { CostModel } from '../cost';

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
  /** Model files (recipeKey) that exist before the session made any: the artifact cache of earlier sessions. */
  cachedFiles?: Set<string>;
  /** The session ends early when it is done (--stop-early): a strategy may measure what that rule needs first. */
  stopEarly?: boolean;
}

/** What each configuration is expected to cost, from the session's measured steps so far (cost.ts). */
export function costModel(ctx: StrategyContext, history: TrialRecord[]): CostModel {
  return new CostModel(history, {
    sourceBytes: ctx.model.sizeBytes,
    cores: ctx.hardware.cpu.cores,
    accuracy: !!ctx.toolchain?.accuracy,
    cached: ctx.cachedFiles,
    sourceType: ctx.model.fileType,
  });
}

/**
 * Every valid configuration one knob away from `config`: the neighbouring values of an ordinal knob (threads, batch
 * sizes, types in order of size), every other value of a categorical one.
 */
export function oneKnobMoves(
  space: SearchSpace,
  config: Config,
): { knob: string; value: ConfigValue; config: Config }[] {
  const out: { knob: string; value: ConfigValue; config: Config }[] = [];
  for (const k of space.knobs) {
    const i = k.values.indexOf(config[k.name]);
    const moves = k.ordinal ? [k.values[i - 1], k.values[i + 1]] : k.values.filter((_, j) => j !== i);
    for (const v of moves) {
      if (v === undefined) continue;
      const c = { ...config, [k.name]: v };
      if (space.isValid(c)) out.push({ knob: k.name, value: v, config: c });
    }
  }
  return out;
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

/** `config` with K and V caches of one type (a quantized V needs flash attention, so it is on). */
function withCache(space: SearchSpace, config: Config, type: ConfigValue): Config {
  const c: Config = { ...config, cache_type_k: type, cache_type_v: type };
  if (space.knob('flash_attn')) c.flash_attn = true;
  return c;
}

/** `config` placed where llama.cpp's fit put it (gpu_layers, n_cpu_moe, and the K/V cache type it was asked with). */
export function placedConfig(space: SearchSpace, config: Config, f: FittedPlacement): Config {
  const c: Config = { ...config, gpu_layers: f.gpu_layers };
  if (space.knob('n_cpu_moe')) c.n_cpu_moe = f.n_cpu_moe ?? 0;
  return f.cacheType !== undefined ? withCache(space, c, f.cacheType) : c;
}

/** Proposals collected once each: valid, not measured, not already collected. */
function collector(space: SearchSpace, done: Set<string>) {
  const out: Proposal[] = [];
  const add = (config: Config, rationale: string) => {
    const key = space.key(config);
    if (!space.isValid(config) || done.has(key)) return;
    done.add(key);
    out.push({ config, rationale });
  };
  return { out, add };
}

/**
 * What a refusal by the memory projection is answered with, most recent refusal first: llama.cpp's fit of the same
 * settings (metrics.fitted), then — when the projection was mostly KV cache, a long context — the same settings with
 * each smaller K/V cache type at llama.cpp's fit of that (metrics.fittedSmallerKv), or, without a fit (a replay), at the
 * refused placement. Only valid, unmeasured configurations.
 */
export function fittedProposals(space: SearchSpace, history: TrialRecord[]): Proposal[] {
  const done = measuredKeys(space, history);
  const { out, add } = collector(space, done);
  for (const t of [...history].reverse()) {
    if (t.status !== 'infeasible') continue;
    const f = t.metrics.fitted;
    if (f)
      add(
        placedConfig(space, t.config, f),
        `trial #${t.index} does not fit; llama.cpp's fit of the same settings is ${f.flags.join(' ')}, ` +
          `here ${placementLabel(f)}: the boundary to measure`,
      );
    for (const k of t.metrics.fittedSmallerKv ?? [])
      add(
        placedConfig(space, t.config, k),
        `trial #${t.index} does not fit, mostly for its ${String(t.config.cache_type_k)} KV cache; with a ` +
          `${String(k.cacheType)} cache llama.cpp fits the same settings at ${k.flags.join(' ')} (${placementLabel(k)})`,
      );
  }
  return [...out, ...kvProposals(space, history, done)];
}

/**
 * Without llama.cpp's fit of a smaller cache (a replay, an older record): a refusal whose projection is mostly KV cache
 * is answered by the same configuration with the next smaller K and V cache type (q8_0, then q4_0; flash attention on)
 * at the refused placement, which llama.cpp projects before it runs.
 */
export function kvProposals(
  space: SearchSpace,
  history: TrialRecord[],
  done = measuredKeys(space, history),
): Proposal[] {
  const k = space.knob('cache_type_k');
  const v = space.knob('cache_type_v');
  if (!k || !v || !space.knob('gpu_layers')) return [];
  const { out, add } = collector(space, done);
  const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
  for (const t of [...history].reverse()) {
    const p = t.status === 'infeasible' ? t.metrics.projected : undefined;
    if (!p || t.metrics.fittedSmallerKv || t.config.cache_type_k !== t.config.cache_type_v) continue;
    const dev = [...p.devices].sort((a, b) => b.contextBytes - a.contextBytes)[0];
    if (!dev || !kvHeavy(dev)) continue;
    const next = k.values[k.values.indexOf(t.config.cache_type_k) + 1];
    if (next === undefined || !v.values.includes(next)) continue;
    add(
      withCache(space, t.config, next),
      `trial #${t.index} does not fit, and its ${String(t.config.cache_type_k)} KV cache is ${mib(dev.contextBytes)} ` +
        `of the ${mib(projectedBytes(dev))} projected on ${dev.name} at context ${p.context}: a ${String(next)} cache ` +
        'takes about half, room for more layers or experts on the GPU (projected before it runs)',
    );
  }
  return out;
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
