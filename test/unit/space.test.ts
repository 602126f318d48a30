import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { llamaCppSpace, validQuantTypes, threadCandidates } from '../../src/core/toolchains/llamacpp/space';
import { benchArgs, runtimeArgs } from '../../src/core/toolchains/llamacpp/bench';
import { benchDiagnosis } from '../../src/core/toolchains/llamacpp/toolchain';
import { firstDesign } from '../../src/core/strategies/heuristic';
import type { HardwareProfile, ModelInfo } from '../../src/core/types';

const hw = (threads: number, cores: number, gpus = 0): HardwareProfile => ({
  cpu: { model: 'x', cores, threads, flags: ['avx2'] },
  memoryBytes: 16 * 2 ** 30,
  os: 'Linux',
  arch: 'x64',
  gpus: Array.from({ length: gpus }, () => ({
    name: 'NVIDIA H100',
    vramBytes: 80 * 2 ** 30,
    computeCapability: '9.0',
    driver: '580',
  })),
});
const model = (rowSizes: number[], fileType = 'F16'): ModelInfo => ({
  path: '/m.gguf',
  name: 'm',
  arch: 'llama',
  parameterCount: 1e6,
  layers: 32,
  embeddingLength: rowSizes[0],
  feedForwardLength: 0,
  headCount: 8,
  headCountKv: 8,
  vocabSize: 32000,
  contextLength: 2048,
  fileType,
  sizeBytes: 1e8,
  rowSizes,
});

test('quant types follow the model dims: k-quants need rows divisible by 256', () => {
  assert.deepEqual(validQuantTypes(model([512, 1536])).length, 12);
  const q = validQuantTypes(model([288, 768]));
  assert.deepEqual(q, ['F16', 'Q8_0', 'Q4_0']);
});

test('an already-quantized model only searches runtime knobs', () => {
  const s = llamaCppSpace(hw(8, 4), model([4096], 'Q4_K_M'));
  assert.deepEqual(s.knob('quant')!.values, ['Q4_K_M']);
});

test('gpu_layers exists only with a GPU; thread candidates stay within the machine', () => {
  assert.equal(llamaCppSpace(hw(2, 2), model([512])).knob('gpu_layers'), undefined);
  const g = llamaCppSpace(hw(32, 16, 1), model([4096])).knob('gpu_layers')!;
  // Any layer count (the model has 32), and all of them with the output layer.
  assert.deepEqual(g.values, [...Array.from({ length: 33 }, (_, i) => i), 999]);
  assert.equal(g.default, 999);
  assert.deepEqual(threadCandidates(hw(2, 2)), [1, 2]);
  assert.deepEqual(threadCandidates(hw(32, 16)), [1, 2, 4, 8, 15, 16, 32]);
});

test('every knob has a one-line meaning', () => {
  for (const k of llamaCppSpace(hw(32, 16, 1), model([4096])).knobs) {
    assert.ok(k.meaning.length > 20 && !k.meaning.includes('\n'), k.name);
  }
});

test('validate: unknown knobs, missing knobs, out-of-domain and non-plain values, constraints', () => {
  const s = llamaCppSpace(hw(2, 2), model([512]));
  const ok = s.defaults();
  assert.deepEqual(s.validate(ok), []);
  assert.match(s.validate({ ...ok, bogus: 1 }).join(), /unknown knob "bogus"/);
  const { threads: _t, ...noThreads } = ok;
  assert.match(s.validate(noThreads).join(), /"threads" is missing/);
  assert.match(s.validate({ ...ok, threads: 64 }).join(), /outside its domain/);
  assert.match(s.validate({ ...ok, threads: '2; rm -rf /' }).join(), /plain integer/);
  assert.match(s.validate({ ...ok, quant: 'Q4_0 --help' }).join(), /outside its domain/);
  assert.match(s.validate({ ...ok, quant: ['Q4_0'] }).join(), /plain string, got an array/);
  assert.match(s.validate({ ...ok, flash_attn: 'true' }).join(), /plain boolean/);
  assert.match(s.validate({ ...ok, threads: 1.5 }).join(), /plain integer/);
  assert.match(
    s.validate({ ...ok, cache_type_v: 'q8_0', flash_attn: false }).join(),
    /quantized-v-cache-needs-flash-attn/,
  );
  assert.deepEqual(s.validate({ ...ok, cache_type_v: 'q8_0', flash_attn: true }), []);
  assert.match(s.validate({ ...ok, batch: 256, ubatch: 512 }).join(), /ubatch-not-above-batch/);
  assert.match(s.validate(null).join(), /must be an object/);
  assert.match(s.validate([ok]).join(), /must be an object/);
});

test('enumerate yields exactly the valid configurations, each once', () => {
  const s = llamaCppSpace(hw(2, 2), model([512]));
  const all = [...s.enumerate()];
  assert.ok(all.every((c) => s.isValid(c)));
  assert.equal(new Set(all.map((c) => s.key(c))).size, all.length);
  // 12 quants × 2 threads × batch/ubatch pairs (3+3+... valid: b256:{128,256}, b512:{128,256,512}, b2048:{128,256,512} = 8)
  // × KV: fa off → ctv f16 only (3 ctk), fa on → 9 ⇒ 12; × recipe: imatrix (none, or builtin × 2 chunk counts = 3)
  // × output type 3 × embedding type 3 × tensor overrides 4 = 108.
  assert.equal(all.length, 12 * 2 * 8 * 12 * 108);
});

test('a mixture of experts with a GPU gets n_cpu_moe (-ncmoe, 0..layers) and its rule; a dense model or a CPU does not', async () => {
  const moe = { ...model([256, 512]), expertCount: 8, expertUsedCount: 2 };
  const s = llamaCppSpace(hw(8, 8, 1), moe);
  const k = s.knob('n_cpu_moe')!;
  assert.deepEqual(
    k.values,
    Array.from({ length: 33 }, (_, i) => i),
  );
  assert.equal(k.default, 0);
  assert.equal(
    llamaCppSpace(hw(8, 8, 0), moe).knob('n_cpu_moe'),
    undefined,
    'nothing to keep on the CPU without a GPU',
  );
  assert.equal(
    llamaCppSpace(hw(8, 8, 1), model([256, 512])).knob('n_cpu_moe'),
    undefined,
    'a dense model has no experts',
  );
  const base = Object.fromEntries(s.knobs.map((x) => [x.name, x.default]));
  assert.deepEqual(s.validate({ ...base, gpu_layers: 999, n_cpu_moe: 32 }), []);
  assert.match(s.validate({ ...base, gpu_layers: 0, n_cpu_moe: 8 }).join(' '), /n_cpu_moe = 8 with gpu_layers = 0/);
  assert.deepEqual(runtimeArgs({ ...base, gpu_layers: 999, n_cpu_moe: 16 }).slice(-2), ['-ncmoe', '16']);
  // The first design for an MoE that does not fit the GPU: every layer offloaded, every layer's experts on the CPU.
  const small = hw(8, 8, 1);
  small.gpus[0].vramBytes = 1024;
  const ctx = {
    space: llamaCppSpace(small, moe),
    hardware: small,
    model: moe,
    objective: { kind: 'decode' as const },
    seed: 0,
    budget: 6,
  };
  const [first] = firstDesign(ctx, []);
  assert.equal(first.config.gpu_layers, 999);
  assert.equal(first.config.n_cpu_moe, 32);
  assert.match(first.rationale ?? '', /experts in host memory \(-ncmoe/);
});

test('two or more GPUs get split_mode and tensor_split, as llama-bench and llama-server spell them', () => {
  const one = llamaCppSpace(hw(8, 8, 1), model([4096]));
  assert.equal(one.knob('split_mode'), undefined, 'one GPU: nothing to split');
  assert.equal(one.knob('tensor_split'), undefined);
  const two = llamaCppSpace(hw(8, 8, 2), model([4096]));
  // CUDA at 80fb11a: tensor parallelism, no row split (the H200 pair refused -sm row at load; BENCHMARKS.md).
  assert.deepEqual(two.knob('split_mode')!.values, ['layer', 'tensor', 'none']);
  assert.deepEqual(two.knob('tensor_split')!.values, ['auto', '1,1', '2,1', '1,2']);
  const four = hw(8, 8, 4);
  for (const g of four.gpus) g.backend = 'vulkan';
  const v = llamaCppSpace(four, model([4096]));
  assert.deepEqual(v.knob('split_mode')!.values, ['layer', 'none'], 'Vulkan splits by layer only');
  assert.deepEqual(v.knob('tensor_split')!.values, ['auto', '1,1,1,1']);
  for (const g of four.gpus) g.backend = 'sycl';
  assert.deepEqual(llamaCppSpace(four, model([4096])).knob('split_mode')!.values, ['layer', 'row', 'tensor', 'none']);
  const base = two.defaults();
  assert.match(
    two.validate({ ...base, split_mode: 'none', tensor_split: '2,1' }).join(),
    /tensor-split-needs-a-split-mode/,
  );
  assert.deepEqual(two.validate({ ...base, split_mode: 'tensor', tensor_split: '2,1' }), []);
  assert.match(
    two.validate({ ...base, split_mode: 'tensor', flash_attn: false }).join(),
    /tensor-split-needs-flash-attn/,
  );
  const c = { ...base, split_mode: 'tensor', tensor_split: '2,1' };
  const bench = benchArgs('/b/llama-bench', '/m.gguf', c, {
    promptTokens: 512,
    genTokens: 128,
    depth: 0,
    repetitions: 3,
  });
  assert.deepEqual(bench.slice(bench.indexOf('-sm'), bench.indexOf('-sm') + 4), ['-sm', 'tensor', '-ts', '2/1']);
  const server = runtimeArgs(c);
  assert.deepEqual(server.slice(server.indexOf('-sm'), server.indexOf('-sm') + 4), ['-sm', 'tensor', '-ts', '2,1']);
  // llama.cpp's fit chooses the split itself: it is asked without -ts (and without -ngl/-ncmoe).
  assert.ok(!runtimeArgs(c, { placement: false }).includes('-ts'));
  assert.ok(!runtimeArgs({ ...base }).includes('-ts'), "auto is llama.cpp's default: no flag");
});

test('a model that does not load with -sm row or tensor is blamed on the split mode, not on the file', () => {
  // llama-bench 80fb11a's words on the H200 pair with -sm row (not verbose: the cause itself stays in its log).
  const tail = "llama_bench: error: failed to load model '/tmp/m/llama7b-Q4_0.gguf'\n";
  assert.match(
    benchDiagnosis({ split_mode: 'row' })(tail, 1, null),
    /failed to load.*; with split_mode row \(-sm row\) most likely because .*cannot split/,
  );
  assert.match(benchDiagnosis({ split_mode: 'layer' })(tail, 1, null), /GGUF file may be corrupt/);
  assert.match(benchDiagnosis({})(tail, 1, null), /GGUF file may be corrupt/);
  assert.match(benchDiagnosis({ split_mode: 'tensor' })('out of memory', 1, null), /^out of memory/);
});
