import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveStrategy } from '../../src/core/strategies';
import { HaqaError } from '../../src/core/errors';
import { replaySession, replayGrid } from '../helpers/replay';
import { tmpDir } from '../helpers/fixtures';
import { priorShapes } from '../../src/core/strategies/tpe';
import { BuiltinStrategy, firstDesign } from '../../src/core/strategies/heuristic';
import { configDiff, describeChanges } from '../../src/core/configDiff';
import { llamaCppSpace } from '../../src/core/toolchains/llamacpp/space';
import { ALL_LAYERS } from '../../src/core/knobs';
import { statOfSamples } from '../../src/core/verdict';
import type { HardwareProfile, ModelInfo, TrialRecord } from '../../src/core/types';

const NAMES = ['grid', 'random', 'tpe', 'heuristic', 'builtin'];

for (const name of NAMES) {
  test(`${name}: same seed → same trials; every proposal valid and new`, async () => {
    const a = await replaySession(tmpDir(), name, 12, 7);
    const b = await replaySession(tmpDir(), name, 12, 7);
    const keys = (s: typeof a) => s.summary.trials.map((t) => t.key);
    assert.deepEqual(keys(a), keys(b));
    assert.equal(a.summary.trials.length, 12);
    assert.equal(new Set(keys(a)).size, 12, 'a configuration was measured twice');
    const space = replayGrid().space;
    for (const t of a.summary.trials) assert.deepEqual(space.validate(t.config), []);
    assert.ok(a.summary.best);
  });
}

test('seeded strategies differ across seeds', async () => {
  for (const name of ['random', 'tpe']) {
    const a = await replaySession(tmpDir(), name, 8, 1);
    const b = await replaySession(tmpDir(), name, 8, 2);
    assert.notDeepEqual(
      a.summary.trials.map((t) => t.key),
      b.summary.trials.map((t) => t.key),
      name,
    );
  }
});

test('builtin opens with the hardware-aware design, each proposal with a rationale', async () => {
  const { summary } = await replaySession(tmpDir(), 'builtin', 6, 0);
  assert.equal(summary.trials[0].config.quant, 'Q4_0');
  assert.equal(summary.trials[0].config.threads, 2);
  for (const t of summary.trials) assert.ok((t.rationale ?? '').length > 10, `trial ${t.index} has no rationale`);
  assert.match(summary.trials[5].rationale!, /TPE/);
});

test('grid exhausts a space and then stops by itself', async () => {
  const n = replayGrid().recorded().length;
  // Without --stop-early (on by default), which would end it once the best and its neighbours are measured.
  const { summary } = await replaySession(tmpDir(), 'grid', n + 5, 0, undefined, { stopEarly: false });
  assert.equal(summary.trials.length, n);
  assert.match(summary.stopReason, /exhausted/);
});

test('auto says it runs builtin without an endpoint; llm and unknown names are refused clearly', () => {
  const r = resolveStrategy('auto');
  assert.equal(r.strategy.name, 'builtin');
  assert.match(r.note!, /no LLM endpoint configured/);
  assert.throws(
    () => resolveStrategy('llm'),
    (e: unknown) => e instanceof HaqaError && e.code === 'usage',
  );
  assert.throws(() => resolveStrategy('bogus'), /unknown strategy/);
});

const H200: HardwareProfile = {
  cpu: { model: 'x', cores: 16, threads: 32, flags: ['avx2'] },
  memoryBytes: 64 * 2 ** 30,
  os: 'Linux',
  arch: 'x64',
  gpus: [{ name: 'NVIDIA H200', vramBytes: 143155 * 2 ** 20, computeCapability: '9.0', driver: '', backend: 'cuda' }],
};

/** A Llama of this shape on the H200, its search space and a strategy context (decode, budget 12). */
function onH200(layers: number, hidden: number, ffn: number, context: number, sizeBytes: number) {
  const model = {
    path: '/m.gguf',
    name: 'm',
    arch: 'llama',
    parameterCount: sizeBytes / 2,
    layers,
    embeddingLength: hidden,
    feedForwardLength: ffn,
    headCount: hidden / 128,
    headCountKv: hidden / 128,
    vocabSize: 32000,
    contextLength: context,
    fileType: 'F16',
    sizeBytes,
    rowSizes: [hidden, ffn],
  } as ModelInfo;
  const space = llamaCppSpace(H200, model, { calibrations: ['builtin'] });
  return {
    model,
    space,
    ctx: { space, hardware: H200, model, objective: { kind: 'decode' as const }, seed: 0, budget: 12 },
  };
}

/** A measured trial of Q4_0 at these settings (decode about 100 t/s unless `decode` says). */
const measured = (
  space: ReturnType<typeof onH200>['space'],
  index: number,
  over: Record<string, unknown>,
  status = 'done',
  extra = {},
  decode = [99, 100, 101],
): TrialRecord =>
  ({
    type: 'trial',
    index,
    key: String(index),
    config: { ...space.defaults(), quant: 'Q4_0', ...over },
    status,
    metrics: { decode: statOfSamples(decode), ...extra },
    startedAt: '',
    endedAt: '',
    durationMs: 1,
    strategy: 'builtin',
  }) as unknown as TrialRecord;

test("the first design's runtime probes follow where the weights run: no threads when every layer is on the GPU", () => {
  const { space, ctx } = onH200(32, 4096, 11008, 4096, 13.5e9);
  const ran = (gpu_layers: number) => [
    measured(space, 1, { gpu_layers, threads: 16, flash_attn: true, ubatch: 512 }, 'done', {}, [350, 352, 354]),
  ];
  const probes = (gpu_layers: number) =>
    firstDesign(ctx, ran(gpu_layers))
      .filter((p) => p.config.quant === 'Q4_0')
      .map((p) =>
        describeChanges(
          configDiff(
            ran(gpu_layers)[0].config,
            p.config,
            space.knobs.map((k) => k.name),
          ),
        ),
      );
  const whole = probes(ALL_LAYERS);
  assert.deepEqual(whole, ['flash_attn on → off', 'ubatch 512 → 256']);
  const partial = probes(20);
  assert.ok(
    partial.some((p) => p.startsWith('threads')),
    partial.join('; '),
  );
  const text = firstDesign(ctx, ran(ALL_LAYERS)).find((p) => p.config.ubatch === 256)!.rationale!;
  assert.match(text, /every layer runs on the GPU, so threads do not matter/);
});

test("the model-based stage's priors: every layer on the GPU once that ran, llama.cpp's boundaries, threads near the cores", () => {
  const { space, ctx } = onH200(16, 2048, 5632, 32768, 2e9);
  const trial = (index: number, gpu_layers: number, status = 'done', extra = {}) =>
    measured(space, index, { gpu_layers }, status, extra);
  // Nothing ran yet: gpu_layers uniform; threads always near the 16 physical cores.
  const none = priorShapes(ctx, []);
  assert.equal(none.get('gpu_layers'), undefined);
  const th = space.knob('threads')!.values.map(Number);
  const w = none.get('threads')!;
  assert.equal(th[w.indexOf(Math.max(...w))], 16);
  // Every layer on the GPU ran: its prior holds 95 % + its share of the floor; every value stays possible.
  const all = priorShapes(ctx, [trial(1, ALL_LAYERS)]).get('gpu_layers')!;
  assert.ok(all[all.length - 1] > 0.95, String(all[all.length - 1]));
  assert.ok(all.every((x) => x > 0));
  // A refusal whose fit proposed 5 layers: half at the boundary (nothing with every layer ran).
  const fitted = { fitted: { gpu_layers: 5, flags: ['-ngl', '5'] } };
  const bound = priorShapes(ctx, [trial(1, ALL_LAYERS, 'infeasible', fitted)]).get('gpu_layers')!;
  assert.ok(bound[5] > 0.9, String(bound[5]));
  // The builtin strategy's model-based stage (after 5 trials) then stays with every layer on the GPU.
  const history = [1, 2, 3, 4, 5].map((i) => trial(i, ALL_LAYERS));
  history.forEach((t, i) => (t.config = { ...t.config, threads: [16, 8, 32, 4, 15][i] }));
  const picks = [0, 1, 2, 3, 4, 5, 6, 7].map(async (seed) => {
    const [p] = await new BuiltinStrategy().propose({ ...ctx, seed }, history, 1);
    return p.config.gpu_layers;
  });
  return Promise.all(picks).then((g) =>
    assert.ok(g.filter((x) => x === ALL_LAYERS).length >= 6, `partial offload proposed: ${g.join(', ')}`),
  );
});
