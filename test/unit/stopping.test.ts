import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { PATIENCE, stopEarlyReason } from '../../src/core/stopping';
import type { Toolchain, TrialOutcome } from '../../src/core/toolchains/toolchain';
import type { Config, TrialRecord } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';
import { GRID_HW, gridLoop, replayGrid } from '../helpers/replay';
import { SearchSpace } from '../../src/core/space';
import { BuiltinStrategy } from '../../src/core/strategies/heuristic';

/**
 * A small space in the grid strategy's order (threads fastest, then ubatch, then flash attention): trial #1 (fa off,
 * ubatch 64, threads 1) has its one-knob neighbours at #2 (threads 2), #4 (ubatch 128) and #13 (flash attention on).
 */
const SMALL = new SearchSpace([
  {
    name: 'flash_attn',
    kind: 'bool',
    values: [false, true],
    default: false,
    stage: 'runtime',
    meaning: 'fa',
    ordinal: false,
  },
  {
    name: 'ubatch',
    kind: 'int',
    values: [64, 128, 256, 512],
    default: 512,
    stage: 'runtime',
    meaning: 'ub',
    ordinal: true,
  },
  { name: 'threads', kind: 'int', values: [1, 2, 3], default: 3, stage: 'runtime', meaning: 't', ordinal: true },
]);

/** Trials decode at `speeds[i]` t/s (±1, or ±`spread` where given) in the order the grid strategy proposes them. */
function scripted(speeds: number[], spread: number[] = []) {
  let i = 0;
  const tc: Toolchain = {
    name: 'scripted',
    space: SMALL,
    info: () => ({ toolchain: 'scripted' }),
    async runTrial(_c: Config): Promise<TrialOutcome> {
      const s = speeds[i] ?? 10;
      const d = spread[i] ?? 1;
      i++;
      return { status: 'done', metrics: { decode: statOfSamples([s - d, s, s + d]), fileSizeBytes: 4e6 }, steps: [] };
    },
  };
  return tc;
}

const session = (tc: Toolchain, budget: number, stopEarly?: boolean) =>
  gridLoop(tc, { budget, confirm: false, stopEarly });

const FALLING = [100, 50, 40, 30, 20, 10, 45, 35, 25, 15, 5, 55, 60, 30, 20, 10, 5, 50, 50, 50];

test('a session stops early once the best has stood through 4 trials, each beaten beyond noise, and its one-knob neighbours are measured; it says why', async () => {
  // #1 leads; everything after it is far slower. Beaten four times over by #5, but its neighbour #13 (flash
  // attention on) is untried until the 13th trial.
  const { summary, info } = await session(scripted(FALLING), 20, true);
  assert.equal(summary.trials.length, 13);
  assert.equal(summary.status, 'completed');
  assert.match(
    summary.stopReason,
    /^stopped early: the best, #1, has not moved in the last 4 trials, each beaten beyond noise, and every configuration one knob away from it is measured/,
  );
  assert.ok(info.some((m) => m.startsWith('stopped early')));
  // Without the neighbours, the patience alone would have stopped at the minimum, 7 trials.
  const trials = summary.trials;
  assert.ok(stopEarlyReason({ kind: 'decode' }, trials.slice(0, 7)));
  assert.equal(stopEarlyReason({ kind: 'decode' }, trials.slice(0, 7), PATIENCE, SMALL), undefined);
  // Off: the whole budget.
  const off = await session(scripted(FALLING), 20, false);
  assert.equal(off.summary.trials.length, 20);
  assert.equal(off.summary.stopReason, 'budget reached');
});

test('a recent trial tied with the best, or too noisy to tell, keeps the session going', async () => {
  // #10 (99.5 ± 6) is too noisy to tell apart from #1 (100 ± 1): not beaten beyond noise.
  const speeds = FALLING.map((x, i) => (i === 9 ? 99.5 : x));
  const spread = speeds.map((_, i) => (i === 9 ? 6 : 1));
  const { summary } = await session(scripted(speeds, spread), 20, true);
  // Stops only once four trials after #10 are all beaten: 10 + 4 = 14 (13 without it).
  assert.equal(summary.trials.length, 14);
});

test("builtin's closing check: once the best stood through the patience, its untried neighbours, cheapest first", async () => {
  const { summary } = await gridLoop(scripted(FALLING), { budget: 7, confirm: false });
  const history = summary.trials;
  const ctx = {
    space: SMALL,
    hardware: GRID_HW,
    model: replayGrid().modelInfo(),
    objective: { kind: 'decode' as const },
    seed: 0,
    budget: 20,
  };
  const [p] = await new BuiltinStrategy().propose({ ...ctx, stopEarly: true }, history, 1);
  assert.equal(p.config.flash_attn, true);
  assert.equal(p.config.ubatch, 64);
  assert.equal(p.config.threads, 1);
  assert.match(p.rationale!, /^closing check: the best, #1, has stood through 4 trials; .* flash_attn off → on/);
  // Without --stop-early builtin goes on with its own search.
  const [q] = await new BuiltinStrategy().propose(ctx, history, 1);
  assert.doesNotMatch(q.rationale ?? '', /closing check/);
});

test('stopEarlyReason: not before the first design and the patience are measured', () => {
  const t = (index: number, mean: number): TrialRecord =>
    ({
      type: 'trial',
      index,
      key: String(index),
      config: {},
      status: 'done',
      metrics: { decode: statOfSamples([mean - 1, mean, mean + 1]) },
      startedAt: '',
      endedAt: '',
      durationMs: 1,
      strategy: 'x',
    }) as unknown as TrialRecord;
  const six = [t(1, 100), t(2, 50), t(3, 40), t(4, 30), t(5, 20), t(6, 10)];
  assert.equal(stopEarlyReason({ kind: 'decode' }, six), undefined, 'six trials: too early');
  assert.match(stopEarlyReason({ kind: 'decode' }, [...six, t(7, 5)])!, /#1, has not moved in the last 4 trials/);
});
