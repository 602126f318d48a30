import { ProcessRunner } from '../../src/core/process/runner';
import { launchSession } from '../../src/core/launch';
import { makeSpec, type SessionSpec } from '../../src/core/spec';
import { SessionStore } from '../../src/core/store';
import { runOptimize, type SessionSummary } from '../../src/core/session';
import { checkStrategyName, resolveStrategy } from '../../src/core/strategies';
import { ReplayToolchain } from '../../src/core/toolchains/replay/replay';
import type { Toolchain } from '../../src/core/toolchains/toolchain';
import type { HardwareProfile } from '../../src/core/types';
import { GRID, tmpDir } from './fixtures';

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
export async function replaySession(
  root: string,
  strategy: string,
  budget: number,
  seed = 0,
  store?: SessionStore,
  over: Partial<SessionSpec> = {},
) {
  const tc = replayGrid();
  const spec = gridSpec({ strategy: checkStrategyName(strategy), budget, seed, ...over });
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

/**
 * The session loop (runOptimize) on the grid's space and hardware with any toolchain (a scripted one, or the replay
 * itself), a new store, the grid strategy and a decode objective unless `over` says otherwise; the info messages too.
 */
export async function gridLoop(
  tc: Toolchain,
  over: Partial<Parameters<typeof runOptimize>[0]> & { budget: number },
): Promise<{ store: SessionStore; summary: SessionSummary; info: string[] }> {
  const strategy = over.strategy ?? resolveStrategy('grid');
  const store = SessionStore.create(tmpDir(), {
    spec: gridSpec(),
    strategy: { requested: strategy.requested, used: strategy.strategy.name },
  });
  const info: string[] = [];
  const summary = await runOptimize({
    toolchain: tc,
    hardware: GRID_HW,
    model: replayGrid().modelInfo(),
    objective: { kind: 'decode' },
    seed: 0,
    store,
    runner: new ProcessRunner({ mode: 'pipe' }),
    ...over,
    strategy,
    onEvent: (e) => {
      if (e.type === 'info') info.push(e.message);
      over.onEvent?.(e);
    },
  });
  return { store, summary, info };
}
