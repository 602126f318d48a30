import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { closingPlan, PATIENCE, stopEarlyReason, stoodBest } from '../../src/core/stopping';
import { ReplayToolchain } from '../../src/core/toolchains/replay/replay';
import { resolveStrategy } from '../../src/core/strategies';
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
    /^stopped early: the best, #1, has not moved in the last 4 trials \(each slower beyond noise, or one knob away and tied\), and every configuration one knob away from it is measured \(--stop-early off/,
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

const rec = (index: number, mean: number, config: Config, steps: TrialRecord['steps'] = []): TrialRecord =>
  ({
    type: 'trial',
    index,
    key: JSON.stringify(config),
    config,
    status: 'done',
    metrics: { decode: statOfSamples([mean - 1, mean, mean + 1]), fileSizeBytes: 4e6 },
    steps,
    startedAt: '',
    endedAt: '',
    durationMs: 1,
    strategy: 'x',
  }) as unknown as TrialRecord;

test('the patience: a tied trial one knob away from the best counts as standing, a tied one further away does not', () => {
  const c = (threads: number, ubatch: number, fa = false): Config => ({ flash_attn: fa, ubatch, threads });
  const head = [rec(1, 100, c(1, 64)), rec(2, 50, c(2, 128)), rec(3, 40, c(3, 128))];
  const beaten = [rec(4, 30, c(3, 256)), rec(5, 20, c(1, 256))];
  // #6 ties #1 (100.5 ± 1) and differs from it in threads only; #7 ties it two knobs away.
  const near = [...head, ...beaten, rec(6, 100.5, c(2, 64)), rec(7, 10, c(3, 512))];
  assert.equal(stoodBest({ kind: 'decode' }, near)?.index, 1);
  const far = [...head, ...beaten, rec(6, 100.5, c(2, 256)), rec(7, 10, c(3, 512))];
  assert.equal(stoodBest({ kind: 'decode' }, far), undefined);
});

test('closing plan: a move that only buys accuracy is not required where accuracy is not measured; a dearer file than the patience is left out and named', () => {
  const space = new SearchSpace([
    {
      name: 'quant',
      kind: 'enum',
      values: ['Q8_0', 'Q4_0', 'Q2_K'],
      default: 'Q4_0',
      stage: 'quantize',
      meaning: 'q',
      ordinal: true,
    },
    {
      name: 'imatrix',
      kind: 'enum',
      values: ['none', 'builtin'],
      default: 'none',
      stage: 'quantize',
      meaning: 'i',
      ordinal: false,
      buysAccuracy: 'same-size',
    },
    {
      name: 'output_type',
      kind: 'enum',
      values: ['default', 'q8_0', 'f16'],
      default: 'default',
      stage: 'quantize',
      meaning: 'o',
      ordinal: false,
      buysAccuracy: 'precision',
    },
    { name: 'threads', kind: 'int', values: [1, 2], default: 2, stage: 'runtime', meaning: 't', ordinal: true },
  ]);
  const c = (quant: string, threads = 2, imatrix = 'none', output_type = 'default'): Config => ({
    quant,
    threads,
    imatrix,
    output_type,
  });
  const q = (seconds: number) => [
    { name: 'quantize', seconds },
    { name: 'bench', seconds: 2 },
  ];
  const b = [{ name: 'bench', seconds: 2 }];
  // The best (#1, Q4_0 with output f16) stood through four 2-second trials: the patience cost 8 s.
  const best = c('Q4_0', 2, 'none', 'f16');
  const trials = [
    rec(1, 100, best, q(20)),
    rec(2, 50, c('Q8_0'), q(20)),
    rec(3, 40, c('Q8_0', 1), b),
    rec(4, 30, c('Q8_0', 2, 'none', 'q8_0'), b),
    rec(5, 20, { ...best, threads: 1 }, b),
    rec(6, 20, c('Q8_0', 1, 'none', 'q8_0'), b),
    rec(7, 20, c('Q8_0', 1, 'none', 'f16'), b),
  ];
  const scope = (accuracy: boolean) => ({
    space,
    model: { ...replayGrid().modelInfo(), sizeBytes: 1e9, fileType: 'F16' },
    hardware: GRID_HW,
    toolchain: { accuracy },
  });
  const off = closingPlan(scope(false), trials[0], trials);
  const moves = (xs: { knob: string; value: unknown }[]) => xs.map((m) => `${m.knob}=${String(m.value)}`).sort();
  // output f16 → default, → q8_0: less precision, smaller; they could be faster, so they stay (if affordable).
  assert.deepEqual(moves(off.skipped.filter((s) => s.why.startsWith('buys accuracy'))), ['imatrix=builtin']);
  const dear = off.skipped.filter((s) => !s.why.startsWith('buys accuracy'));
  assert.deepEqual(moves(dear), ['output_type=default', 'output_type=q8_0', 'quant=Q2_K', 'quant=Q8_0']);
  assert.match(dear[0].why, /a new .* file: about \d+ s, more than the 4 trials the best stood through \(8\.0 s\)/);
  assert.deepEqual(moves(off.measure), []);
  const reason = stopEarlyReason({ kind: 'decode' }, trials, PATIENCE, scope(false));
  assert.match(
    reason!,
    /but 4 left out that need new files dearer than the patience \(.*quant Q4_0 → Q2_K: a new Q2_K file: about/,
  );
  assert.match(reason!, / and 1 that only buys accuracy, which is not measured/);
  // With accuracy measured, the importance matrix could win the tie-break: it is required (and, being a new file
  // dearer than the patience, left out and named).
  const on = closingPlan(scope(true), trials[0], trials);
  assert.ok(on.skipped.some((s) => s.knob === 'imatrix' && /more than the 4 trials/.test(s.why)));
});

test('builtin on a recorded H200 grid where a new file costs many benchmarks: runtime knobs on the files made first, and --stop-early ends on them, naming the dear neighbours it left out', async () => {
  const tc = new ReplayToolchain(['bench/data/gpu-grid-h200.jsonl']);
  const run = (stopEarly: boolean) =>
    gridLoop(tc, {
      budget: 12,
      confirm: false,
      stopEarly,
      hardware: tc.hardware(),
      model: tc.modelInfo(),
      strategy: resolveStrategy('builtin'),
    });
  const { summary } = await run(true);
  const t = summary.trials;
  // The first design (5), then the leader's KV-cache neighbours on the Q4_0 file already made.
  assert.ok(t.length < 12, `stopped after ${t.length}`);
  for (const x of t.slice(5)) {
    assert.equal(x.config.quant, 'Q4_0');
    assert.match(x.rationale ?? '', /^runtime knobs on the files made before a new one \(a new file costs about/);
  }
  assert.match(
    summary.stopReason,
    /^stopped early: the best, #1, .* but 2 left out that need new files dearer than the patience \(.*IQ4_XS.*Q3_K_M/,
  );
  // Without --stop-early the same cheap neighbours come first, then the model-based stage.
  const off = await run(false);
  assert.equal(off.summary.trials.length, 12);
  assert.deepEqual(
    off.summary.trials.slice(0, t.length).map((x) => x.key),
    t.map((x) => x.key),
  );
  assert.match(off.summary.trials[11].rationale ?? '', /^TPE/);
});
