import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CostModel, QUANTIZE_WORK, costWeight, recipeKey } from '../../src/core/cost';
import { TpeStrategy } from '../../src/core/strategies/tpe';
import { costModel, type StrategyContext } from '../../src/core/strategies/strategy';
import { dynamicPrompt } from '../../src/core/agent/prompt';
import { ReplayToolchain } from '../../src/core/toolchains/replay/replay';
import { ProcessRunner } from '../../src/core/process/runner';
import { GRID_HW, replayGrid } from '../helpers/replay';
import type { Config, TrialRecord } from '../../src/core/types';

type Step = NonNullable<TrialRecord['steps']>[number];
const base: Config = {
  quant: 'Q4_0',
  imatrix: 'none',
  threads: 8,
  gpu_layers: 999,
  flash_attn: true,
  ubatch: 512,
  cache_type_k: 'f16',
  cache_type_v: 'f16',
};
let n = 0;
const trial = (over: Config, steps: Step[], status: TrialRecord['status'] = 'done'): TrialRecord => ({
  type: 'trial',
  index: ++n,
  key: String(n),
  config: { ...base, ...over },
  status,
  metrics: {},
  strategy: 'test',
  startedAt: '',
  endedAt: '',
  durationMs: 0,
  steps,
});
const opts = { sourceBytes: 13.5e9, cores: 16, accuracy: false };

test('a trial on a file already made costs its benchmark; a new file costs llama-quantize at the measured rate, by type', () => {
  const history = [
    trial({ quant: 'Q4_K_M' }, [
      { name: 'quantize', seconds: 68 },
      { name: 'bench', seconds: 3 },
    ]),
    trial({ quant: 'Q4_K_M', ubatch: 256 }, [
      { name: 'quantize', seconds: 0, cached: true },
      { name: 'bench', seconds: 3.4 },
    ]),
  ];
  const m = new CostModel(history, opts);
  const again = m.estimate({ ...base, quant: 'Q4_K_M', flash_attn: false });
  assert.equal(again.newFile, false);
  assert.deepEqual(
    again.parts.map((p) => p.step),
    ['bench'],
  );
  assert.match(again.text, /reuses the Q4_K_M file: about 3\.\d s/);
  // Q4_K_M's 68 s at its work 3.4 is 20 s of Q4_0-work: a new Q4_0 (work 1) costs 20 s plus its benchmark.
  const q40 = m.estimate({ ...base, quant: 'Q4_0' });
  assert.equal(q40.newFile, true);
  assert.ok(Math.abs(q40.parts.find((p) => p.step === 'quantize')!.seconds - 20) < 0.01);
  assert.match(q40.text, /a new Q4_0 file: about 2\d s/);
  // Before anything was quantized, the prior: 13.5 GB at 55 MB/s per core on 16 cores, about 15 s for Q4_0.
  const prior = new CostModel([], opts).estimate(base);
  assert.ok(Math.abs(prior.parts[0].seconds - 13.5e9 / (55e6 * 16)) < 0.01);
  // The source's own type used as is costs no quantization.
  const asIs = new CostModel(history, { ...opts, sourceType: 'F16' }).estimate({ ...base, quant: 'F16' });
  assert.equal(asIs.newFile, false);
  assert.match(asIs.text, /the source file as it is/);
});

test('files in the artifact cache, the importance matrix once, accuracy per file and KV cache type', () => {
  const cached = new Set([recipeKey({ ...base, quant: 'Q8_0' })]);
  const m = new CostModel([], { ...opts, cached, accuracy: true });
  assert.equal(m.estimate({ ...base, quant: 'Q8_0' }).newFile, false);
  const first = m.estimate({ ...base, quant: 'Q2_K', imatrix: 'wiki', imatrix_chunks: 32 });
  assert.deepEqual(
    first.parts.map((p) => p.step),
    ['imatrix', 'quantize', 'bench', 'accuracy-base', 'accuracy'],
  );
  assert.match(first.text, /new Q2_K file and importance matrix/);
  const history = [
    trial({ quant: 'Q2_K', imatrix: 'wiki', imatrix_chunks: 32 }, [
      { name: 'imatrix', seconds: 30 },
      { name: 'quantize', seconds: 40 },
      { name: 'bench', seconds: 2 },
      { name: 'accuracy-base', seconds: 25 },
      { name: 'accuracy', seconds: 12 },
    ]),
  ];
  const after = new CostModel(history, { ...opts, accuracy: true });
  // Another type with the same matrix: no imatrix, no base logits; llama-quantize at Q2_K's measured rate, by type;
  // a new file's accuracy at the measured 12 s.
  const q3 = after.estimate({ ...base, quant: 'Q3_K_M', imatrix: 'wiki', imatrix_chunks: 32 });
  assert.deepEqual(
    q3.parts.map((p) => [p.step, Math.round(p.seconds)]),
    [
      ['quantize', Math.round((40 / QUANTIZE_WORK.Q2_K) * QUANTIZE_WORK.Q3_K_M)],
      ['bench', 2],
      ['accuracy', 12],
    ],
  );
  // The same file with another KV cache type: its accuracy again; with another thread count, nothing but the bench.
  const kv = after.estimate({ ...base, quant: 'Q2_K', imatrix: 'wiki', imatrix_chunks: 32, cache_type_k: 'q8_0' });
  assert.deepEqual(
    kv.parts.map((p) => p.step),
    ['bench', 'accuracy'],
  );
  const threads = after.estimate({ ...base, quant: 'Q2_K', imatrix: 'wiki', imatrix_chunks: 32, threads: 4 });
  assert.deepEqual(
    threads.parts.map((p) => p.step),
    ['bench'],
  );
});

test("a benchmark's cost follows where the weights run: partial offload priced by the partial-offload trials", () => {
  const m = new CostModel(
    [
      trial({ quant: 'Q4_0' }, [{ name: 'bench', seconds: 3 }]),
      trial({ quant: 'Q8_0' }, [{ name: 'bench', seconds: 4 }]),
      trial({ quant: 'Q4_0', gpu_layers: 16 }, [{ name: 'bench', seconds: 40 }]),
      trial({ quant: 'Q4_0', gpu_layers: 24 }, [{ name: 'bench', seconds: 20 }], 'failed'),
    ],
    opts,
  );
  assert.equal(m.benchSeconds({ ...base, quant: 'Q8_0', gpu_layers: 16 }), 40);
  assert.equal(m.benchSeconds({ ...base, quant: 'Q8_0', flash_attn: false }), 4);
  // Another partial offload is priced by the partial offload, not by the failed trial (its time says nothing).
  assert.equal(m.benchSeconds({ ...base, gpu_layers: 24 }), 40);
});

test("the cost's weight cools from 1 to 0 as the budget is spent", () => {
  assert.equal(costWeight(0, 10), 0.9);
  assert.equal(costWeight(9, 10), 0);
  assert.equal(costWeight(12, 10), 0);
  assert.ok(costWeight(2, 10) > costWeight(6, 10));
});

/** A context over the recorded CPU grid. */
function gridCtx(budget: number, seed: number): StrategyContext {
  const tc = replayGrid();
  return { space: tc.space, hardware: GRID_HW, model: tc.modelInfo(), objective: { kind: 'decode' }, seed, budget };
}

test('cost-aware TPE prefers configurations on files already made when new files are dear; blind, it does not', async () => {
  const tc = replayGrid();
  const runner = new ProcessRunner({ mode: 'pipe' });
  // Six measured trials on one file (Q4_0), its first quantization dear (600 s). Blind, TPE goes to the types its bad
  // trials never had (their l/g is higher); aware, it stays on the file made, at 2 s a trial.
  const configs = tc.recorded().filter((c, i) => i % 7 === 0 && c.quant === 'Q4_0');
  const history: TrialRecord[] = [];
  for (const c of configs.slice(0, 6)) {
    const out = await tc.runTrial(c, { runner, logDir: 'cost-test', trialIndex: 0 });
    const made = history.some((t) => recipeKey(t.config) === recipeKey(c));
    history.push({
      ...trial(c, [
        made ? { name: 'quantize', seconds: 0, cached: true } : { name: 'quantize', seconds: 600 },
        { name: 'bench', seconds: 2 },
      ]),
      config: c,
      metrics: out.metrics,
    });
  }
  // No new file: one made, or the F16 source as it is.
  const madeFiles = new Set([...history.map((t) => recipeKey(t.config)), recipeKey({ quant: 'F16' })]);
  let aware = 0;
  let blind = 0;
  for (let seed = 0; seed < 12; seed++) {
    const ctx = gridCtx(30, seed);
    const [a] = await new TpeStrategy({ startup: 5, costAware: true }).propose(ctx, history, 1);
    const [b] = await new TpeStrategy({ startup: 5, costAware: false }).propose(ctx, history, 1);
    if (madeFiles.has(recipeKey(a.config))) aware++;
    if (madeFiles.has(recipeKey(b.config))) blind++;
    assert.match(
      a.rationale!,
      /per second it costs \((reuses the \S+ file|a new \S+ file|the source file as it is): about/,
    );
    assert.match(a.rationale!, /from the best so far, #\d+/);
  }
  assert.equal(aware, 12, `cost-aware TPE chose a new file in ${12 - aware} of 12 seeds`);
  assert.ok(blind < aware, `blind ${blind}, aware ${aware}`);
  // The agent is told the same facts.
  const text = dynamicPrompt(gridCtx(30, 0), history, { k: 1 }, 100_000);
  assert.match(text, /# What trials cost \(measured in this session\)/);
  assert.match(text, /a new model file costs llama-quantize about/);
  assert.match(text, /model files made: /);
  assert.ok(costModel(gridCtx(30, 0), history).fileMade(history[0].config));
});

test("a replay models each trial's cost: llama-quantize once per file and session, llama-bench from the recorded speeds", async () => {
  const tc = new ReplayToolchain(['bench/data/gpu-grid-h200.jsonl']);
  const runner = new ProcessRunner({ mode: 'pipe' });
  const q = tc.recorded().filter((c) => c.quant === 'Q4_K_M');
  const first = await tc.runTrial(q[0], { runner, logDir: 's1', trialIndex: 1 });
  const second = await tc.runTrial(q[1], { runner, logDir: 's1', trialIndex: 2 });
  const other = await tc.runTrial(q[1], { runner, logDir: 's2', trialIndex: 1 });
  const step = (o: typeof first, name: string) => o.steps.find((s) => s.name === name)!;
  assert.ok(step(first, 'quantize').seconds > 0 && !step(first, 'quantize').cached);
  assert.match(step(first, 'quantize').note!, /modeled/);
  assert.equal(step(second, 'quantize').cached, true);
  assert.ok(!step(other, 'quantize').cached, 'another session makes its own file');
  assert.ok(step(first, 'bench').seconds > 0);
  const f16 = await tc.runTrial(
    tc.recorded().find((c) => c.quant === 'F16')!,
    { runner, logDir: 's1', trialIndex: 3 },
  );
  assert.equal(
    f16.steps.some((s) => s.name === 'quantize'),
    false,
    'the F16 source is used as is',
  );
});
