import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  accuracyMetrics,
  builtinEvalText,
  kldArgs,
  parsePerplexityOutput,
} from '../../src/core/toolchains/llamacpp/accuracy';
import { paretoFront, violations } from '../../src/core/objective';
import type { ModelInfo, TrialRecord } from '../../src/core/types';
import { quantizeFlags } from '../../src/core/toolchains/llamacpp/toolchain';
import { llamaCppSpace, quantRecipe } from '../../src/core/toolchains/llamacpp/space';
import { readFixture } from '../helpers/fixtures';

test('parses real llama-perplexity output: the base run and a KL-divergence run', () => {
  const base = parsePerplexityOutput(readFixture('llama-perplexity-base.txt'));
  assert.equal(base.ppl, 18.4449);
  assert.equal(base.pplErr, 1.57399);
  assert.equal(base.chunks, 4);
  const k = parsePerplexityOutput(readFixture('llama-perplexity-kld.txt'));
  assert.ok(k.ppl! > k.pplBase!);
  assert.ok(k.ratio! > 1 && k.ratioErr! > 0);
  assert.ok(k.kld! > 0 && k.kldErr! > 0 && k.kld99! > k.kld!);
  assert.ok(k.sameTopPct! > 50 && k.sameTopPct! < 100);
  const m = accuracyMetrics(k)!;
  assert.ok(Math.abs(m.dPplPct - (k.ratio! - 1) * 100) < 1e-9);
  assert.equal(m.kld, k.kld);
  assert.equal(accuracyMetrics(base), undefined, 'a base run has no drift');
});

test("the KLD run gets the trial's KV cache types (a quantized V cache with flash attention) as argv values", () => {
  const a = kldArgs('/bin/llama-perplexity', 'm.gguf', 'b.kld', { evalFile: 'e.txt', chunks: 8, ctx: 512 }, 2, false, {
    cache_type_k: 'q8_0',
    cache_type_v: 'q4_0',
  });
  assert.deepEqual(a.slice(-6), ['-ctk', 'q8_0', '-ctv', 'q4_0', '-fa', 'on']);
  assert.ok(a.includes('--kl-divergence') && a.includes('--chunks'));
  assert.ok(builtinEvalText() && fs.statSync(builtinEvalText()!).size < 200_000);
});

const t = (index: number, decode: number, size: number, kld?: number, dppl?: number): TrialRecord => ({
  type: 'trial',
  index,
  key: String(index),
  config: {},
  status: 'done',
  strategy: 'x',
  startedAt: '',
  endedAt: '',
  durationMs: 0,
  metrics: {
    decode: { mean: decode, sd: 0, n: 1 },
    fileSizeBytes: size,
    accuracy: kld === undefined ? undefined : { kld, dPplPct: dppl ?? 0, dPplPctErr: 0, ppl: 1, kldErr: 0 },
  },
});

test('accuracy limits make trials infeasible; the Pareto front adds accuracy when every trial measured it', () => {
  assert.deepEqual(violations({ kind: 'decode', maxDeltaPplPct: 5 }, t(1, 10, 1, 0.3, 23).metrics), [
    'ΔPPL 23.00 % > max 5 %',
  ]);
  assert.deepEqual(violations({ kind: 'decode', maxKld: 0.1 }, t(1, 10, 1, 0.3, 23).metrics), [
    'mean KLD 0.3000 > max 0.1',
  ]);
  assert.deepEqual(violations({ kind: 'decode', maxKld: 0.1 }, t(1, 10, 1).metrics), [
    'accuracy was not measured (an accuracy limit is set)',
  ]);
  // #2 is slower and bigger than #1 but far more accurate: on the front only with accuracy counted.
  const fast = t(1, 100, 10, 0.3);
  const accurate = t(2, 90, 20, 0.001);
  assert.deepEqual(
    paretoFront({ kind: 'decode' }, [fast, accurate]).map((x) => x.index),
    [1, 2],
  );
  assert.deepEqual(
    paretoFront({ kind: 'decode' }, [t(1, 100, 10), t(2, 90, 20)]).map((x) => x.index),
    [1],
  );
});

test('quantization recipe: knobs at their defaults keep the plain cache key; the rest become llama-quantize flags', () => {
  assert.deepEqual(
    quantRecipe({
      quant: 'Q4_0',
      imatrix: 'none',
      imatrix_chunks: 32,
      output_type: 'default',
      embd_type: 'default',
      tensor_overrides: 'none',
      threads: 2,
    }),
    { quant: 'Q4_0' },
  );
  const r = quantRecipe({
    quant: 'Q2_K',
    imatrix: 'builtin',
    imatrix_chunks: 128,
    output_type: 'q8_0',
    embd_type: 'f16',
    tensor_overrides: 'attn_v=q8_0,ffn_down=q8_0',
  });
  assert.deepEqual(quantizeFlags(r, '/c/im.gguf'), [
    '--imatrix',
    '/c/im.gguf',
    '--output-tensor-type',
    'q8_0',
    '--token-embedding-type',
    'f16',
    '--tensor-type',
    'attn_v=q8_0',
    '--tensor-type',
    'ffn_down=q8_0',
  ]);
});

test('the recipe knobs exist for 16/32-bit sources only; imatrix_chunks varies only with an imatrix', () => {
  const hw = {
    cpu: { model: 'x', cores: 2, threads: 2, flags: [] },
    memoryBytes: 1,
    gpus: [],
    os: 'Linux',
    arch: 'x64',
  };
  const f16 = llamaCppSpace(hw, { rowSizes: [256], fileType: 'F16', layers: 4 } as ModelInfo, {
    calibrations: ['builtin', 'docs'],
  });
  assert.deepEqual(f16.knob('imatrix')!.values, ['none', 'builtin', 'docs']);
  for (const k of ['imatrix_chunks', 'output_type', 'embd_type', 'tensor_overrides']) assert.ok(f16.knob(k), k);
  const base = f16.defaults();
  assert.deepEqual(f16.validate({ ...base, imatrix_chunks: 128 }), [
    'imatrix-chunks-only-with-imatrix: imatrix_chunks = 128 without an importance matrix',
  ]);
  assert.deepEqual(f16.validate({ ...base, imatrix: 'docs', imatrix_chunks: 128 }), []);
  const q4 = llamaCppSpace(hw, { rowSizes: [256], fileType: 'Q4_K_M', layers: 4 } as ModelInfo);
  assert.equal(q4.knob('imatrix'), undefined);
});
