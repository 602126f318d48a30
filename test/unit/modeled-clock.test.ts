/**
 * In a replay the modeled clock (the seconds the replay toolchain reports for its quantize and bench steps) is the only
 * clock: strategies, the cost model and the stop rule must decide the same whatever the machine's load. The wall clock
 * is injected here (a mocked Date.now), so the tests never wait on it.
 */
import { mock, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { closingPlan, PATIENCE, stopEarlyReason } from '../../src/core/stopping';
import { SearchSpace } from '../../src/core/space';
import { BuiltinStrategy } from '../../src/core/strategies/heuristic';
import { resolveStrategy, type ResolvedStrategy } from '../../src/core/strategies';
import type { Toolchain } from '../../src/core/toolchains/toolchain';
import type { Config, TrialRecord } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';
import { GRID_HW, gridLoop, replayGrid } from '../helpers/replay';

const HOUR_MS = 3_600_000;

const rec = (
  index: number,
  mean: number,
  config: Config,
  steps: TrialRecord['steps'],
  durationMs: number,
  status: TrialRecord['status'] = 'done',
): TrialRecord =>
  ({
    type: 'trial',
    index,
    key: JSON.stringify(config),
    config,
    status,
    metrics: status === 'done' ? { decode: statOfSamples([mean - 1, mean, mean + 1]) } : {},
    steps,
    startedAt: '',
    endedAt: '',
    durationMs,
    strategy: 'x',
  }) as unknown as TrialRecord;

test("the stop rule prices the patience by the trials' step seconds, never by how long they took on the wall clock", () => {
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
    { name: 'threads', kind: 'int', values: [1, 2, 3], default: 2, stage: 'runtime', meaning: 't', ordinal: true },
  ]);
  const scope = {
    space,
    model: { ...replayGrid().modelInfo(), sizeBytes: 1e9, fileType: 'F16' },
    hardware: GRID_HW,
    toolchain: {},
  };
  const q = [
    { name: 'quantize', seconds: 20 },
    { name: 'bench', seconds: 2 },
  ];
  const b = [{ name: 'bench', seconds: 2 }];
  // The best (#1) stood through four trials that failed before any step ran (no step seconds: a replay answers such a
  // failure at once, whatever the wall clock says it took). `wallMs`: how long each took on the wall clock.
  const history = (wallMs: number) => [
    rec(1, 100, { quant: 'Q4_0', threads: 2 }, q, 1),
    rec(2, 50, { quant: 'Q8_0', threads: 2 }, q, 1),
    rec(3, 40, { quant: 'Q4_0', threads: 1 }, b, 1),
    rec(4, 0, { quant: 'Q8_0', threads: 1 }, [], wallMs, 'failed'),
    rec(5, 0, { quant: 'Q8_0', threads: 3 }, [], wallMs, 'failed'),
    rec(6, 0, { quant: 'Q2_K', threads: 1 }, [], wallMs, 'failed'),
    rec(7, 0, { quant: 'Q2_K', threads: 3 }, [], wallMs, 'failed'),
  ];
  const idle = history(1);
  const loaded = history(HOUR_MS);
  const plan = (h: TrialRecord[]) => closingPlan(scope, h[0], h, PATIENCE);
  assert.deepEqual(plan(loaded), plan(idle));
  assert.equal(
    stopEarlyReason({ kind: 'decode' }, loaded, PATIENCE, scope),
    stopEarlyReason({ kind: 'decode' }, idle, PATIENCE, scope),
  );
  // The patience cost four typical benchmarks (2 s each, the floor of a trial without step seconds): 8 s. The new
  // Q2_K file costs more than that, so it is left out; threads 3 reuses the Q4_0 file and must be measured.
  const p = plan(loaded);
  assert.deepEqual(
    p.skipped.map((s) => `${s.knob}=${String(s.value)}`),
    ['quant=Q2_K'],
  );
  assert.match(p.skipped[0].why, /more than the 4 trials the best stood through \(8\.0 s\)/);
  assert.deepEqual(
    p.measure.map((m) => `${m.knob}=${String(m.value)}`),
    ['threads=3'],
  );
});

/** How far the mocked wall clock (Date.now) runs ahead of the real one. */
let skewMs = 0;

/**
 * The recorded CPU grid as a toolchain whose every trial takes `wallMs` more on the wall clock (Date.now runs that much
 * further ahead after each), and whose configurations with a q4_0 K cache fail before any step ran (as a thrown trial
 * does: no steps).
 */
function clocked(wallMs: number): Toolchain {
  const tc = replayGrid();
  return {
    name: tc.name,
    space: tc.space,
    measuresAgain: tc.measuresAgain,
    info: () => tc.info(),
    async runTrial(config, ctx) {
      skewMs += wallMs;
      if (config.cache_type_k === 'q4_0')
        return { status: 'failed', metrics: {}, cause: 'internal error: a test failure', steps: [] };
      return tc.runTrial(config, ctx);
    },
  };
}

test('replayed sessions decide the same whether each trial takes a millisecond or an hour of wall clock (builtin, cost-aware, --stop-early)', async () => {
  const strategies: [string, () => ResolvedStrategy][] = [
    ['builtin', () => resolveStrategy('builtin')],
    ['builtin, cost-aware', () => ({ strategy: new BuiltinStrategy({ costAware: true }), requested: 'builtin' })],
  ];
  for (const [label, make] of strategies)
    for (const kind of ['prefill', 'decode'] as const)
      for (const seed of [0, 1, 2]) {
        const run = async (wallMs: number) => {
          const realNow = Date.now.bind(Date);
          skewMs = 0;
          mock.method(Date, 'now', () => realNow() + skewMs);
          try {
            const { summary } = await gridLoop(clocked(wallMs), {
              budget: 40,
              confirm: false,
              stopEarly: true,
              seed,
              objective: { kind },
              strategy: make(),
            });
            return {
              decided: {
                trials: summary.trials.map((x) => `${x.key} ${x.status} ${x.rationale ?? ''}`),
                stop: summary.stopReason,
                best: summary.best?.key,
              },
              wallMs: summary.trials.reduce((a, x) => a + x.durationMs, 0),
            };
          } finally {
            mock.restoreAll();
          }
        };
        const idle = await run(1);
        const loaded = await run(HOUR_MS);
        // The wall clock did move (the records say so), and nothing the session decided moved with it.
        assert.ok(loaded.wallMs >= HOUR_MS * loaded.decided.trials.length, `${label}, ${kind}, seed ${seed}: no clock`);
        assert.deepEqual(loaded.decided, idle.decided, `${label}, ${kind}, seed ${seed}`);
      }
});
