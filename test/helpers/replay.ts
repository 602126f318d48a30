import { ProcessRunner } from '../../src/core/process/runner';
import { runOptimize } from '../../src/core/session';
import { SessionStore } from '../../src/core/store';
import { resolveStrategy } from '../../src/core/strategies';
import { ReplayToolchain } from '../../src/core/toolchains/replay/replay';
import type { HardwareProfile } from '../../src/core/types';
import { GRID } from './fixtures';

let cached: ReplayToolchain | undefined;
export const replayGrid = () => (cached ??= new ReplayToolchain([GRID]));

/** The hardware the grid was recorded on (2 cores, AVX2), so priors see what they saw there. */
export const GRID_HW: HardwareProfile = {
  cpu: { model: 'AMD EPYC', cores: 2, threads: 2, flags: ['avx', 'avx2', 'f16c', 'fma'] },
  memoryBytes: 24 * 2 ** 30,
  gpus: [],
  os: 'Linux',
  arch: 'x64',
};

export async function replaySession(root: string, strategy: string, budget: number, seed = 0, store?: SessionStore) {
  const tc = replayGrid();
  const s =
    store ??
    SessionStore.create(root, {
      options: { strategy, budget, seed },
      strategy: { requested: strategy, used: strategy },
    });
  const summary = await runOptimize({
    toolchain: tc,
    hardware: GRID_HW,
    model: tc.modelInfo(),
    strategy: resolveStrategy(strategy),
    objective: { kind: 'decode' },
    budget,
    seed,
    store: s,
    runner: new ProcessRunner({ mode: 'pipe' }),
  });
  return { store: s, summary };
}
