import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  fitChoiceArgs,
  fitChoiceFlags,
  fitChoiceKnobs,
  fitMarginsMiB,
  fitsWhole,
  parseFitChoice,
} from '../../src/core/toolchains/llamacpp/fit';
import { llamaCppSpace } from '../../src/core/toolchains/llamacpp/space';
import {
  VULKAN_HEADERS_FIX,
  vulkanHeaderDirs,
  vulkanHeaderProblem,
  vulkanHeaders,
} from '../../src/core/toolchains/llamacpp/build';
import { backendFlag } from '../../src/cli/args';
import { ProcessRunner } from '../../src/core/process/runner';
import { runOptimize } from '../../src/core/session';
import { SessionStore } from '../../src/core/store';
import { BuiltinStrategy } from '../../src/core/strategies/heuristic';
import { fittedProposals, kvProposals } from '../../src/core/strategies/strategy';
import { smallerCaches } from '../../src/core/toolchains/llamacpp/toolchain';
import { metricsFromJson } from '../../src/core/records';
import { REFERENCE_SOURCE, compareWithReference, describeReference, referenceProposal } from '../../src/core/reference';
import { makeSpec } from '../../src/core/spec';
import { ALL_LAYERS } from '../../src/core/knobs';
import type { Toolchain, TrialContext, TrialOutcome } from '../../src/core/toolchains/toolchain';
import type { Config, HardwareProfile, ModelInfo, TrialRecord } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';
import { readFixture, tmpDir } from '../helpers/fixtures';

const MiB = 2 ** 20;

// What llama-fit-params prints, in the shapes common/fit.cpp writes (its get_overflow_pattern and the MoE pattern).
const DENSE = '-c 32768 -ngl 23 -ot "blk\\.10\\.ffn_(gate|up|gate_up|down).*=CPU"\n';
const MOE =
  '-c 32768 -ngl 17 -ot "blk\\.12\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU,' +
  'blk\\.13\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU,blk\\.14\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU,' +
  'blk\\.15\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU"\n';

test("llama.cpp's fit is read from llama-fit-params's one line, and only in the shapes it writes", () => {
  const d = parseFitChoice(`some log\n${DENSE}`)!;
  assert.equal(d.context, 32768);
  assert.equal(d.ngl, 23);
  assert.deepEqual(d.overrides, [{ pattern: 'blk\\.10\\.ffn_(gate|up|gate_up|down).*', buft: 'CPU' }]);
  assert.deepEqual(fitChoiceFlags(d), ['-ngl', '23', '-ot', 'blk\\.10\\.ffn_(gate|up|gate_up|down).*=CPU']);
  const m = parseFitChoice(MOE)!;
  assert.equal(m.overrides.length, 4);
  const two = parseFitChoice('-c 8192 -ngl 49 -ts 30,19\n')!;
  assert.deepEqual(two.tensorSplit, [30, 19]);
  assert.deepEqual(parseFitChoice('-c 4096 -ngl -1\n'), { context: 4096, ngl: -1, overrides: [] });
  // What comes back becomes process arguments: anything else is refused whole.
  for (const bad of [
    '-c 4096 -ngl 5 -ot "--rpc=evil:1=CPU"',
    '-c 4096 -ngl 5 -ot "blk\\.1\\.ffn_up;rm -rf /=CPU"',
    '-c 4096 -ngl 5 -ot "blk\\.1\\.ffn_up=CPU $(id)"',
    '-c 4096 -ngl 5 -ot "blk\\.1\\.ffn_up"',
    '-c 4096 -ngl 5 --rpc host',
    'failed to fit',
  ])
    assert.equal(parseFitChoice(bad), undefined, bad);
});

test('a recorded answer of llama-fit-params on an H200 (a 16-layer MoE under 3000 MiB at 32768 tokens)', () => {
  // Rebuilt from the flags the session recorded (bench/results/issue13-h200.md): layer 7's FFN partly and layers
  // 8..15's experts in host memory, and a pattern for "layer 16", llama.cpp's number for the output layer, which
  // matches no tensor.
  const text = readFixture('fit-params-moe-h200.txt');
  const c = parseFitChoice(text)!;
  assert.equal(c.ngl, 17);
  assert.equal(c.overrides.length, 10);
  assert.deepEqual(fitChoiceKnobs(c, { layers: 16, expertCount: 16 }), { gpu_layers: ALL_LAYERS, n_cpu_moe: 9 });
});

test('its placement in the knobs never holds more on a GPU than llama.cpp placed there', () => {
  // Dense, 32 layers: -ngl 23 with layer 10's FFN split across GPU and host → 22 whole layers on the GPU.
  assert.deepEqual(fitChoiceKnobs(parseFitChoice(DENSE)!, { layers: 32 }), { gpu_layers: 22 });
  assert.deepEqual(fitChoiceKnobs(parseFitChoice('-c 4096 -ngl 33\n')!, { layers: 32 }), { gpu_layers: ALL_LAYERS });
  assert.deepEqual(fitChoiceKnobs(parseFitChoice('-c 4096 -ngl 12\n')!, { layers: 32 }), { gpu_layers: 12 });
  // MoE, 16 layers: every layer offloaded (17 = 16 + output) and the experts of four layers in host memory.
  assert.deepEqual(fitChoiceKnobs(parseFitChoice(MOE)!, { layers: 16, expertCount: 16 }), {
    gpu_layers: ALL_LAYERS,
    n_cpu_moe: 4,
  });
  // MoE with 3 layers wholly on the CPU (-ngl 14) and two more layers' experts there: -ncmoe counts from layer 0.
  const part = parseFitChoice(
    '-c 4096 -ngl 14 -ot "blk\\.3\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU,blk\\.4\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU"',
  )!;
  assert.deepEqual(fitChoiceKnobs(part, { layers: 16, expertCount: 16 }), { gpu_layers: 14, n_cpu_moe: 5 });
  assert.ok(fitsWhole(parseFitChoice('-c 4096 -ngl -1')!, 16));
  assert.ok(!fitsWhole(parseFitChoice(MOE)!, 16));
});

test("llama.cpp's fit gets the trial's flags without -ngl/-ncmoe, and margins that keep it within HAQA's per-GPU rule", () => {
  const config = {
    quant: 'Q4_0',
    threads: 8,
    gpu_layers: 999,
    n_cpu_moe: 4,
    flash_attn: true,
    batch: 2048,
    ubatch: 512,
  };
  const argv = fitChoiceArgs(
    '/b/llama-fit-params',
    '/m.gguf',
    { ...config, cache_type_k: 'f16', cache_type_v: 'f16' },
    32768,
    [256, 1280],
  );
  assert.ok(!argv.includes('-ngl') && !argv.includes('-ncmoe'), argv.join(' '));
  assert.deepEqual(argv.slice(0, 5), ['/b/llama-fit-params', '-m', '/m.gguf', '-c', '32768']);
  assert.deepEqual(argv.slice(-4), ['-fitt', '256,1280', '-fitc', '32768']);
  const gpu = (freeMiB: number) => ({
    name: 'g',
    vramBytes: 143155 * MiB,
    freeBytes: freeMiB * MiB,
    computeCapability: '9.0',
    driver: '',
  });
  // No limit: the driver's overhead. A 24 GiB limit on an H200 with 142629 MiB free: everything above 24576 too.
  assert.deepEqual(fitMarginsMiB([gpu(142629)]), [256]);
  assert.deepEqual(fitMarginsMiB([gpu(142629), gpu(20000)], 24576 * MiB), [142629 - 24576 + 256, 256]);
});

test('a Vulkan build is refused at once, with the cause and the fix, where the headers are too old or missing', () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'old/vulkan'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'old/vulkan/vulkan_core.h'),
    '#define VK_HEADER_VERSION 239\n#define VK_EXT_debug_utils 1\n',
  );
  fs.mkdirSync(path.join(dir, 'new/vulkan'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'new/vulkan/vulkan_core.h'),
    '#define VK_HEADER_VERSION 290\n#define VK_EXT_layer_settings 1\n',
  );
  assert.match(
    vulkanHeaderProblem([path.join(dir, 'old')])!,
    /\(header version 239\) are too old .* lack VK_EXT_layer_settings/,
  );
  assert.equal(vulkanHeaderProblem([path.join(dir, 'new'), path.join(dir, 'old')]), undefined);
  // The headers that pass are the ones CMake is given (-DVulkan_INCLUDE_DIR): $VULKAN_SDK/include before the system's.
  assert.deepEqual(vulkanHeaders([path.join(dir, 'new'), path.join(dir, 'old')]), {
    includeDir: path.join(dir, 'new'),
    version: 290,
    ok: true,
  });
  assert.deepEqual(vulkanHeaders([path.join(dir, 'none'), path.join(dir, 'old')]), {
    includeDir: path.join(dir, 'old'),
    version: 239,
    ok: false,
  });
  assert.deepEqual(vulkanHeaderDirs({ VULKAN_SDK: '/opt/vk/usr' }), [
    '/opt/vk/usr/include',
    '/usr/local/include',
    '/usr/include',
  ]);
  assert.deepEqual(vulkanHeaderDirs({}), ['/usr/local/include', '/usr/include']);
  assert.match(VULKAN_HEADERS_FIX, /VULKAN_SDK=DIR\/usr haqa toolchain build --backend vulkan/);
  // None where HAQA looks: CMake's own search decides (and names what is missing).
  assert.equal(vulkanHeaderProblem([path.join(dir, 'none')]), undefined);
  assert.equal(backendFlag({ backend: 'vulkan' } as never), 'vulkan');
  assert.throws(() => backendFlag({ backend: 'metal' } as never), /--backend must be cpu, cuda, vulkan/);
});

// ---- the session: a refusal is answered with llama.cpp's boundary, and the budget's last trial is its --fit choice ----

const HW: HardwareProfile = {
  cpu: { model: 'x', cores: 8, threads: 16, flags: ['avx2'] },
  memoryBytes: 64 * 2 ** 30,
  os: 'Linux',
  arch: 'x64',
  gpus: [
    {
      name: 'NVIDIA H200',
      vramBytes: 143155 * MiB,
      freeBytes: 142629 * MiB,
      computeCapability: '9.0',
      driver: '',
      device: 'CUDA0',
      backend: 'cuda',
    },
  ],
};
const MOE_MODEL: ModelInfo = {
  path: '/m.gguf',
  name: 'moe',
  arch: 'llama',
  parameterCount: 2e9,
  layers: 16,
  embeddingLength: 1024,
  feedForwardLength: 2816,
  headCount: 16,
  headCountKv: 16,
  vocabSize: 32000,
  contextLength: 32768,
  fileType: 'F16',
  sizeBytes: 4e9,
  rowSizes: [1024, 2816],
  expertCount: 16,
  expertUsedCount: 2,
};

/**
 * A toolchain that stands for the GPU box: a configuration fits when at most `keep` layers keep their experts on the
 * GPU (n_cpu_moe ≥ 16 − keep); each expert layer on the GPU adds 10 t/s. Refusals carry llama.cpp's placement.
 */
function box(keep: number, refKeep = keep) {
  const space = llamaCppSpace(HW, MOE_MODEL, { calibrations: ['builtin'] });
  const asked: Config[] = [];
  const fitted = (c: Config) => ({
    gpu_layers: ALL_LAYERS,
    n_cpu_moe: 16 - keep,
    flags: ['-ngl', '17', '-ot', `blk\\.${keep}\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU`],
    _for: c,
  });
  const tc: Toolchain = {
    name: 'box',
    space,
    info: () => ({ toolchain: 'box' }),
    async runTrial(config: Config): Promise<TrialOutcome> {
      const ncmoe = Number(config.n_cpu_moe);
      if (Number(config.gpu_layers) === ALL_LAYERS && ncmoe < 16 - keep) {
        const { _for, ...f } = fitted(config);
        void _for;
        return {
          status: 'infeasible',
          metrics: { fitted: f },
          cause: 'projected CUDA0 … > max 8000 MiB per GPU (not run)',
          steps: [],
        };
      }
      const speed = 100 + 10 * (16 - ncmoe) + (config.cache_type_k === 'f16' ? 0 : -5);
      return {
        status: 'done',
        metrics: { decode: statOfSamples([speed - 1, speed, speed + 1]), fileSizeBytes: 2e9 },
        steps: [],
      };
    },
    async fitPlacement(config: Config, _ctx: TrialContext) {
      asked.push(config);
      return {
        fitted: {
          gpu_layers: ALL_LAYERS,
          n_cpu_moe: 16 - refKeep,
          flags: ['-ngl', '17', '-ot', `blk\\.${refKeep}\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU`],
        },
        whole: false,
      };
    },
  };
  return { tc, asked };
}

async function session(tc: Toolchain, budget: number, reference?: boolean) {
  const root = tmpDir();
  const store = SessionStore.create(root, {
    spec: makeSpec({ model: '/m.gguf', budget }),
    strategy: { requested: 'builtin', used: 'builtin' },
  });
  const info: string[] = [];
  const summary = await runOptimize({
    toolchain: tc,
    hardware: HW,
    model: MOE_MODEL,
    strategy: { requested: 'builtin', strategy: new BuiltinStrategy() },
    objective: { kind: 'decode', maxVramBytes: 8000 * MiB },
    budget,
    seed: 0,
    store,
    runner: new ProcessRunner({ mode: 'pipe' }),
    confirm: false,
    reference,
    onEvent: (e) => {
      if (e.type === 'info') info.push(e.message);
    },
  });
  return { summary, store, info };
}

test("a trial the projection refuses is answered next by llama.cpp's boundary for the same settings", async () => {
  const { tc } = box(6);
  const { summary } = await session(tc, 3, false);
  const [t1, t2] = summary.trials;
  // The first design puts every layer and its experts on the GPU (Q4_0 fits 8000 MiB by size); the box refuses it.
  assert.equal(t1.status, 'infeasible');
  assert.deepEqual([t1.config.gpu_layers, t1.config.n_cpu_moe], [ALL_LAYERS, 0]);
  assert.equal(t2.status, 'done');
  assert.deepEqual(
    t2.config,
    { ...t1.config, n_cpu_moe: 10 },
    'the fitted boundary: 16 − 6 layers keep their experts on the CPU',
  );
  assert.match(
    t2.rationale ?? '',
    /trial #1 does not fit; llama\.cpp's fit of the same settings is -ngl 17 -ot .*n_cpu_moe 10/,
  );
});

test('the fitted proposal comes first for the builtin strategy, whatever its stage', async () => {
  const { tc } = box(6);
  const space = tc.space;
  const base: Config = { ...space.defaults(), quant: 'Q4_0', gpu_layers: ALL_LAYERS, n_cpu_moe: 0 };
  const refused: TrialRecord = {
    type: 'trial',
    index: 1,
    key: space.key(base),
    config: base,
    status: 'infeasible',
    metrics: { fitted: { gpu_layers: ALL_LAYERS, n_cpu_moe: 10, flags: ['-ngl', '17', '-ot', 'x=CPU'] } },
    startedAt: '',
    endedAt: '',
    durationMs: 1,
    strategy: 'builtin',
  } as TrialRecord;
  const [p] = await new BuiltinStrategy().propose(
    { space, hardware: HW, model: MOE_MODEL, objective: { kind: 'decode' }, seed: 0, budget: 8 },
    [refused],
    1,
  );
  assert.deepEqual(p.config, { ...base, n_cpu_moe: 10 });
  assert.match(
    p.rationale ?? '',
    /trial #1 does not fit; llama\.cpp's fit .* -ngl 17 -ot x=CPU, here gpu_layers all, n_cpu_moe 10/,
  );
});

test("llama.cpp's --fit choice already measured by the search is the reference; no trial is spent on it again", async () => {
  // The first design is llama.cpp's runtime defaults, so its fitted boundary is what --fit chooses.
  const { tc, asked } = box(6);
  const { summary, store, info } = await session(tc, 4);
  assert.equal(asked.length, 1);
  assert.ok(summary.trials.every((t) => t.strategy !== REFERENCE_SOURCE));
  assert.equal(store.meta.reference?.index, 2);
  assert.equal(summary.reference?.reference, 2);
  assert.ok(
    info.some((m) => /llama\.cpp's --fit choice \(-ngl 17 -ot .*\) is trial #2/.test(m)),
    info.join('\n'),
  );
});

test("the budget's last trial measures llama.cpp's --fit choice, and the verdict is compared with it by the rule", async () => {
  // llama.cpp's fit of the runtime defaults keeps 5 layers' experts on the GPU, where the search found 6 fit.
  const { tc, asked } = box(6, 5);
  const { summary, store } = await session(tc, 4);
  const last = summary.trials[summary.trials.length - 1];
  assert.equal(last.strategy, REFERENCE_SOURCE);
  assert.match(
    last.rationale ?? '',
    /^reference: what llama\.cpp's --fit chooses for Q\w+ with its default runtime settings/,
  );
  // Asked with the leader's quantization and every runtime knob at its default.
  assert.equal(asked.length, 1);
  assert.equal(asked[0].cache_type_k, 'f16');
  assert.equal(asked[0].threads, 8);
  assert.deepEqual(store.meta.reference, {
    index: last.index,
    flags: ['-ngl', '17', '-ot', 'blk\\.5\\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU'],
  });
  assert.equal(last.config.n_cpu_moe, 11);
  assert.ok(summary.reference);
  assert.equal(summary.reference.reference, last.index);
  // The reference keeps 11 layers' experts in host memory against the verdict's 10: 150 against 160 t/s, so the
  // verdict is faster beyond noise.
  assert.equal(summary.reference.outcome, 'faster');
  assert.match(describeReference(summary.reference), /runs 1\.07× llama\.cpp's --fit choice #4 \(-ngl 17 -ot /);
  // A session that asks for no reference spends its whole budget on the search.
  const { tc: tc2, asked: asked2 } = box(6);
  const off = await session(tc2, 4, false);
  assert.equal(asked2.length, 0);
  assert.ok(off.summary.trials.every((t) => t.strategy !== REFERENCE_SOURCE));
  assert.equal(off.summary.reference, undefined);
});

test('compareWithReference: faster, tied, same, by the comparison rule', () => {
  const t = (index: number, samples: number[], extra: Partial<TrialRecord> = {}): TrialRecord =>
    ({
      type: 'trial',
      index,
      key: String(index),
      config: {},
      status: 'done',
      metrics: { decode: statOfSamples(samples), peakHostMemBytes: 100, peakDeviceMemBytes: 200 },
      startedAt: '',
      endedAt: '',
      durationMs: 1,
      strategy: 'x',
      ...extra,
    }) as TrialRecord;
  const fast = t(1, [199, 200, 201]);
  const ref = t(2, [99, 100, 101]);
  const c = compareWithReference({ kind: 'decode' }, [fast, ref], fast, { index: 2, flags: ['-ngl', '17'] })!;
  assert.equal(c.outcome, 'faster');
  assert.ok(Math.abs(c.ratio - 2) < 1e-9);
  assert.equal(c.memory.verdictBytes, 300);
  assert.match(
    describeReference(c),
    /the verdict #1 runs 2\.00× llama\.cpp's --fit choice #2 \(-ngl 17\): faster beyond noise/,
  );
  const noisy = t(3, [90, 100, 110]);
  assert.equal(compareWithReference({ kind: 'decode' }, [noisy, ref], noisy, { index: 2, flags: [] })!.outcome, 'tied');
  assert.equal(compareWithReference({ kind: 'decode' }, [ref], ref, { index: 2, flags: [] })!.outcome, 'same');
  assert.equal(compareWithReference({ kind: 'decode' }, [ref], ref, undefined), undefined);
});

test('a refusal whose projection is mostly KV cache (a long context) is answered by a smaller cache next', () => {
  const space = llamaCppSpace(HW, MOE_MODEL, { calibrations: ['builtin'] });
  const refused = (index: number, over: Partial<Config>, kv: number): TrialRecord =>
    ({
      type: 'trial',
      index,
      key: String(index),
      config: { ...space.defaults(), quant: 'Q4_0', gpu_layers: ALL_LAYERS, n_cpu_moe: 0, ...over },
      status: 'infeasible',
      metrics: {
        projected: {
          context: 32768,
          host: { modelBytes: 0, contextBytes: 0, computeBytes: 0 },
          // The H200 session's trial #1: model 1250 + KV 2048 + compute 71 MiB on CUDA0.
          devices: [{ name: 'CUDA0', modelBytes: 1250 * MiB, contextBytes: kv * MiB, computeBytes: 71 * MiB }],
        },
      },
      startedAt: '',
      endedAt: '',
      durationMs: 1,
      strategy: 'builtin',
    }) as TrialRecord;
  const [p] = kvProposals(space, [refused(1, {}, 2048)]);
  assert.deepEqual(p.config, {
    ...refused(1, {}, 2048).config,
    cache_type_k: 'q8_0',
    cache_type_v: 'q8_0',
    flash_attn: true,
  });
  assert.match(
    p.rationale ?? '',
    /trial #1 does not fit, and its f16 KV cache is 2048 MiB of the 3369 MiB projected on CUDA0 at context 32768: a q8_0 cache/,
  );
  // Then q4_0; never past the smallest; not when the cache is a small share; not for mixed K/V types.
  assert.equal(
    kvProposals(space, [refused(2, { cache_type_k: 'q8_0', cache_type_v: 'q8_0' }, 1088)])[0].config.cache_type_k,
    'q4_0',
  );
  assert.deepEqual(kvProposals(space, [refused(3, { cache_type_k: 'q4_0', cache_type_v: 'q4_0' }, 600)]), []);
  assert.deepEqual(kvProposals(space, [refused(4, {}, 200)]), []);
  assert.deepEqual(kvProposals(space, [refused(5, { cache_type_k: 'q8_0', cache_type_v: 'f16' }, 2048)]), []);
});

test('the knob form of llama.cpp placements: leading dense layers, layers on the CPU, a split over GPUs', () => {
  // A DeepSeek-like MoE whose first layer is dense: -ncmoe must reach one layer further for the same experts.
  assert.deepEqual(fitChoiceKnobs(parseFitChoice(MOE)!, { layers: 16, expertCount: 16, leadingDenseLayers: 1 }), {
    gpu_layers: ALL_LAYERS,
    n_cpu_moe: 5,
  });
  // Nothing on the CPU: n_cpu_moe 0, whatever -ngl left on the CPU.
  assert.deepEqual(fitChoiceKnobs(parseFitChoice('-c 4096 -ngl 10')!, { layers: 16, expertCount: 16 }), {
    gpu_layers: 10,
    n_cpu_moe: 0,
  });
  // Two GPUs holding every layer between them is the whole model on GPUs; the output layer's pattern places nothing.
  assert.ok(fitsWhole(parseFitChoice('-c 4096 -ngl 17 -ts 9,8')!, 16));
  assert.ok(fitsWhole(parseFitChoice('-c 4096 -ngl 17 -ot "blk\\.16\\.ffn_down.*=CPU"')!, 16));
  // An overflow to the next GPU is not host memory.
  assert.ok(fitsWhole(parseFitChoice('-c 4096 -ngl 17 -ot "blk\\.8\\.ffn_down.*=CUDA1"')!, 16));
});

test('n_cpu_moe that only reaches layers already on the CPU is one configuration, 0', () => {
  const space = llamaCppSpace(HW, MOE_MODEL, { calibrations: ['builtin'] });
  const base = { ...space.defaults(), quant: 'Q4_0' };
  // gpu_layers 10 of 16: layers 0..6 are on the CPU; -ncmoe 1..7 changes nothing.
  assert.match(
    space.validate({ ...base, gpu_layers: 10, n_cpu_moe: 7 }).join(),
    /n-cpu-moe-reaches-offloaded-layers: n_cpu_moe = 7 with gpu_layers = 10: the first 7 layers are on the CPU/,
  );
  assert.deepEqual(space.validate({ ...base, gpu_layers: 10, n_cpu_moe: 8 }), []);
  assert.deepEqual(space.validate({ ...base, gpu_layers: 10, n_cpu_moe: 0 }), []);
  assert.deepEqual(space.validate({ ...base, gpu_layers: ALL_LAYERS, n_cpu_moe: 1 }), []);
});

test("a refusal for the KV cache is answered at llama.cpp's fit of each smaller cache, with no refusal in between", () => {
  const space = llamaCppSpace(HW, MOE_MODEL, { calibrations: ['builtin'] });
  const config = { ...space.defaults(), quant: 'Q4_0', gpu_layers: ALL_LAYERS, n_cpu_moe: 0 };
  const projected = {
    context: 32768,
    host: { modelBytes: 0, contextBytes: 0, computeBytes: 0 },
    devices: [{ name: 'CUDA0', modelBytes: 1250 * MiB, contextBytes: 2048 * MiB, computeBytes: 71 * MiB }],
  };
  // The toolchain asks for them only when the cache is most of it, and K and V match.
  assert.deepEqual(smallerCaches(config, projected), ['q8_0', 'q4_0']);
  assert.deepEqual(smallerCaches({ ...config, cache_type_k: 'q8_0', cache_type_v: 'q8_0' }, projected), ['q4_0']);
  assert.deepEqual(smallerCaches({ ...config, cache_type_v: 'q8_0' }, projected), []);
  const small = { ...projected, devices: [{ ...projected.devices[0], contextBytes: 100 * MiB }] };
  assert.deepEqual(smallerCaches(config, small), []);
  const refused = {
    type: 'trial',
    index: 1,
    key: space.key(config),
    config,
    status: 'infeasible',
    metrics: {
      projected,
      fitted: { gpu_layers: ALL_LAYERS, n_cpu_moe: 9, flags: ['-ngl', '17', '-ot', 'x=CPU'] },
      fittedSmallerKv: [
        { gpu_layers: ALL_LAYERS, n_cpu_moe: 0, flags: ['-ngl', '-1'], cacheType: 'q8_0' },
        { gpu_layers: ALL_LAYERS, n_cpu_moe: 0, flags: ['-ngl', '-1'], cacheType: 'q4_0' },
      ],
    },
    startedAt: '',
    endedAt: '',
    durationMs: 1,
    strategy: 'builtin',
  } as unknown as TrialRecord;
  const ps = fittedProposals(space, [refused]);
  assert.deepEqual(
    ps.map((p) => [p.config.n_cpu_moe, p.config.cache_type_k, p.config.cache_type_v, p.config.flash_attn]),
    [
      [9, 'f16', 'f16', true],
      [0, 'q8_0', 'q8_0', true],
      [0, 'q4_0', 'q4_0', true],
    ],
  );
  assert.match(
    ps[1].rationale ?? '',
    /mostly for its f16 KV cache; with a q8_0 cache llama\.cpp fits the same settings/,
  );
  // Read back from the file, flags that are not llama.cpp's are dropped with the placement.
  const { metrics, dropped } = metricsFromJson({ fitted: { gpu_layers: 3, flags: ['-ngl', '$(id)'] } });
  assert.equal(metrics.fitted, undefined);
  assert.deepEqual(dropped, ["fitted: not llama.cpp's fit"]);
});

test('a reference the user skipped (or that failed) is not proposed again, nor compared: the session says why', async () => {
  const { tc } = box(6, 5);
  const space = tc.space;
  const rec = (index: number, over: Partial<Config>, status: string, decode?: number) =>
    ({
      type: 'trial',
      index,
      key: String(index),
      config: { ...space.defaults(), quant: 'Q4_0', ...over },
      status,
      metrics: decode ? { decode: statOfSamples([decode - 1, decode, decode + 1]) } : {},
      startedAt: '',
      endedAt: '',
      durationMs: 1,
      strategy: 'builtin',
    }) as unknown as TrialRecord;
  const history = [rec(1, { n_cpu_moe: 10 }, 'done', 160), rec(2, { n_cpu_moe: 11 }, 'skipped')];
  const ctx = { runner: new ProcessRunner({ mode: 'pipe' }), logDir: tmpDir(), trialIndex: 3 };
  const r = await referenceProposal({ space, toolchain: tc, objective: { kind: 'decode' } }, history, ctx);
  assert.deepEqual(r, { kind: 'none', why: "llama.cpp's choice is trial #2, which has no measurement (skipped)" });
  const measured = await referenceProposal(
    { space, toolchain: tc, objective: { kind: 'decode' } },
    [history[0], rec(2, { n_cpu_moe: 11 }, 'done', 150)],
    ctx,
  );
  assert.equal(measured.kind, 'measured');
});
