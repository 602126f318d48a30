import { HaqaError } from '../errors';
import { BuiltinStrategy, HeuristicStrategy } from './heuristic';
import { GridStrategy, RandomStrategy } from './simple';
import { STRATEGY_NAMES, type Strategy, type StrategyName } from './strategy';
import { TpeStrategy } from './tpe';

export * from './strategy';

export interface ResolvedStrategy {
  strategy: Strategy;
  requested: StrategyName;
  /** Why this strategy runs, when it is not literally the one asked for. */
  note?: string;
}

/**
 * Turns a strategy name into a Strategy. `auto` is the LLM agent when an endpoint is configured, else `builtin`.
 * The agent itself is a separate piece of work: until it exists, `llm` is refused with a clear message and `auto`
 * says that it runs `builtin`.
 */
export function resolveStrategy(name: string, opts: { llmEndpoint?: string } = {}): ResolvedStrategy {
  if (!(STRATEGY_NAMES as readonly string[]).includes(name)) {
    throw new HaqaError(`unknown strategy "${name}"`, `use one of: ${STRATEGY_NAMES.join(', ')}`, 'usage');
  }
  const requested = name as StrategyName;
  switch (requested) {
    case 'grid': return { strategy: new GridStrategy(), requested };
    case 'random': return { strategy: new RandomStrategy(), requested };
    case 'tpe': return { strategy: new TpeStrategy(), requested };
    case 'heuristic': return { strategy: new HeuristicStrategy(), requested };
    case 'builtin': return { strategy: new BuiltinStrategy(), requested };
    case 'llm':
      throw new HaqaError('the LLM agent strategy is not part of this build yet', 'use --strategy builtin (or auto, which falls back to it)', 'usage');
    case 'auto':
      return {
        strategy: new BuiltinStrategy(), requested,
        note: opts.llmEndpoint
          ? `an LLM endpoint is configured (${opts.llmEndpoint}) but the agent is not part of this build yet: using the built-in strategy (hardware-aware first design, then TPE)`
          : 'no LLM endpoint configured: using the built-in strategy (hardware-aware first design, then TPE)',
      };
  }
}
