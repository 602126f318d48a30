import { AgentStrategy, LlmStrategy } from '../agent/agent';
import type { LlmSettings } from '../agent/settings';
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
 * Turns a strategy name into a Strategy. `auto` is the LLM agent when an endpoint is configured (with the built-in
 * strategy taking over if it does not answer), else `builtin`; `llm` needs an endpoint.
 */
export function resolveStrategy(name: string, opts: { llm?: LlmSettings; apiKey?: string } = {}): ResolvedStrategy {
  if (!(STRATEGY_NAMES as readonly string[]).includes(name)) {
    throw new HaqaError(`unknown strategy "${name}"`, `use one of: ${STRATEGY_NAMES.join(', ')}`, 'usage');
  }
  const requested = name as StrategyName;
  const agent = (r: 'llm' | 'auto') => new AgentStrategy(new LlmStrategy(opts.llm!, opts.apiKey), r);
  switch (requested) {
    case 'grid':
      return { strategy: new GridStrategy(), requested };
    case 'random':
      return { strategy: new RandomStrategy(), requested };
    case 'tpe':
      return { strategy: new TpeStrategy(), requested };
    case 'heuristic':
      return { strategy: new HeuristicStrategy(), requested };
    case 'builtin':
      return { strategy: new BuiltinStrategy(), requested };
    case 'llm':
      if (!opts.llm)
        throw new HaqaError(
          'strategy llm needs an OpenAI-compatible endpoint',
          {
            cli:
              'pass {option} (or set HAQA_LLM_BASE_URL), e.g. http://127.0.0.1:11434/v1 for Ollama; ' +
              'or use --strategy auto / builtin',
            vscode:
              'set {option} to the endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama; ' +
              'or set the setting haqa.strategy to auto or builtin',
            flag: '--llm-base-url URL',
            setting: 'haqa.llm.baseUrl',
          },
          'usage',
        );
      return { strategy: agent('llm'), requested, note: `LLM agent: model ${opts.llm.model} at ${opts.llm.baseUrl}` };
    case 'auto':
      if (opts.llm) {
        return {
          strategy: agent('auto'),
          requested,
          note:
            `LLM agent: model ${opts.llm.model} at ${opts.llm.baseUrl}; ` +
            'the built-in strategy (hardware-aware first design, then TPE) takes over if it does not answer',
        };
      }
      return {
        strategy: new BuiltinStrategy(),
        requested,
        note: 'no LLM endpoint configured: using the built-in strategy (hardware-aware first design, then TPE)',
      };
  }
}
