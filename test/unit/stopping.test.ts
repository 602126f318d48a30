import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { PATIENCE, stopEarlyReason } from '../../src/core/stopping';
import type { Toolchain, TrialOutcome } from '../../src/core/toolchains/toolchain';
import type { Config, TrialRecord } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';
import { gridLoop, replayGrid } from '../helpers/replay';

/** Trials decode at `speeds[i]` t/s (±1, or ±`spread` where given) in the order the grid strategy proposes them. */
function scripted(speeds: number[], spread: number[] = []) {
  const space = replayGrid().space;
  let i = 0;
  const tc: Toolchain = {
    name: 'scripted',
    space,
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

test('a session stops early once the best has stood through 4 trials, each beaten beyond noise, and says why', async () => {
  // #3 leads from the third trial on; everything after it is far slower.
  const { summary, info } = await session(scripted([50, 60, 100, 40, 30, 20, 45, 35, 25, 15, 5, 55]), 12, true);
  assert.equal(summary.trials.length, 3 + PATIENCE, 'the best plus four trials beaten beyond noise (7 at least)');
  assert.equal(summary.status, 'completed');
  assert.match(
    summary.stopReason,
    /^stopped early: the best, #3, has not moved in the last 4 trials, each beaten beyond noise/,
  );
  assert.ok(info.some((m) => m.startsWith('stopped early')));
  // Off: the whole budget.
  const off = await session(scripted([50, 60, 100, 40, 30, 20, 45, 35, 25, 15, 5, 55]), 12, false);
  assert.equal(off.summary.trials.length, 12);
  assert.equal(off.summary.stopReason, 'budget reached');
});

test('a recent trial tied with the best, or too noisy to tell, keeps the session going', async () => {
  // #7 (99.5 ± 6) is too noisy to tell apart from #3 (100 ± 1): not beaten beyond noise.
  const speeds = [50, 60, 100, 40, 30, 20, 99.5, 35, 25, 15, 5, 55];
  const spread = [1, 1, 1, 1, 1, 1, 6, 1, 1, 1, 1, 1];
  const { summary } = await session(scripted(speeds, spread), 12, true);
  // Stops only once four trials after #7 are all beaten: 7 + 4 = 11.
  assert.equal(summary.trials.length, 11);
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
