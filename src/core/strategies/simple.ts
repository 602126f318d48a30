import { rng } from './rng';
import { measuredKeys, randomUnmeasured, type Proposal, type Strategy, type StrategyContext } from './strategy';
import type { TrialRecord } from '../types';

/** Every valid configuration in the space's order, skipping the measured ones. */
export class GridStrategy implements Strategy {
  readonly name = 'grid';
  async propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    const done = measuredKeys(ctx.space, history);
    const out: Proposal[] = [];
    for (const c of ctx.space.enumerate()) {
      if (done.has(ctx.space.key(c))) continue;
      out.push({ config: c, rationale: 'next point of the full grid' });
      if (out.length >= n) break;
    }
    return out;
  }
}

/** Uniform over valid unmeasured configurations; seeded. */
export class RandomStrategy implements Strategy {
  readonly name = 'random';
  async propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    const r = rng(ctx.seed, 'random', history.length);
    const done = measuredKeys(ctx.space, history);
    const picked = new Set<string>();
    const out: Proposal[] = [];
    for (let i = 0; i < n; i++) {
      const c = randomUnmeasured(ctx.space, done, r, picked);
      if (!c) break;
      picked.add(ctx.space.key(c));
      out.push({ config: c, rationale: 'uniform random sample' });
    }
    return out;
  }
}
