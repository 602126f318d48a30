import { ProcessRunner } from '../../src/core/process/runner';
import { launchSession } from '../../src/core/launch';
import { makeSpec, type SessionSpec } from '../../src/core/spec';
import { SessionStore } from '../../src/core/store';
import { checkStrategyName } from '../../src/core/strategies';
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

/** A spec for a session answered by the recorded CPU grid (tests that only need a valid session on disk). */
export const gridSpec = (over: Partial<SessionSpec> = {}): SessionSpec => makeSpec({ replay: [GRID], ...over });

/** A session over the recorded grid, started the way the CLI and the extension start theirs (launchSession). */
export async function replaySession(root: string, strategy: string, budget: number, seed = 0, store?: SessionStore) {
  const tc = replayGrid();
  const spec = gridSpec({ strategy: checkStrategyName(strategy), budget, seed });
  const runner = new ProcessRunner({ mode: 'pipe' });
  const session = await launchSession(spec, {
    root,
    runner,
    resume: store,
    prepared: { toolchain: tc, hardware: GRID_HW, model: tc.modelInfo(), workload: spec.workload },
  });
  const summary = await session.run();
  return { store: session.store, summary };
}
