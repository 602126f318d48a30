import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fitArgs, fitProblems, parseFitPrint } from '../../src/core/toolchains/llamacpp/fit';
import { gpuPeaks } from '../../src/core/toolchains/llamacpp/toolchain';
import { violations } from '../../src/core/objective';
import { trialFromJson } from '../../src/core/records';
import type { GpuInfo } from '../../src/core/types';

const MiB = 2 ** 20;
const config = {
  quant: 'Q4_K_M',
  threads: 8,
  gpu_layers: 999,
  flash_attn: true,
  batch: 2048,
  ubatch: 512,
  cache_type_k: 'q8_0',
  cache_type_v: 'q8_0',
};

test("llama-fit-params gets the trial's own runtime flags at the served context, as an argv", () => {
  assert.deepEqual(fitArgs('/b/llama-fit-params', '/m.gguf', config, 32768), [
    '/b/llama-fit-params',
    '-m',
    '/m.gguf',
    '-c',
    '32768',
    '-t',
    '8',
    '-ngl',
    '999',
    '-fa',
    'on',
    '-b',
    '2048',
    '-ub',
    '512',
    '-ctk',
    'q8_0',
    '-ctv',
    'q8_0',
    '-fitp',
    'on',
  ]);
});

test('its projection is read per device and for the host (MiB: model, KV cache, compute)', () => {
  // This machine's CPU build, on the fixture at context 4096 (measured): the host line only.
  assert.deepEqual(parseFitPrint('Host 10 16 10 \n', 4096), {
    context: 4096,
    host: { modelBytes: 10 * MiB, contextBytes: 16 * MiB, computeBytes: 10 * MiB },
    devices: [],
  });
  const p = parseFitPrint('CUDA0 17904 384 898 \nCUDA1 100 2 3 \nHost 250 0 40 \n', 8192)!;
  assert.deepEqual(
    p.devices.map((d) => [d.name, d.modelBytes / MiB, d.contextBytes / MiB, d.computeBytes / MiB]),
    [
      ['CUDA0', 17904, 384, 898],
      ['CUDA1', 100, 2, 3],
    ],
  );
  assert.equal(parseFitPrint('error: failed to load model\n', 8192), undefined);
});

test("a projection over a GPU's free memory, --max-vram-mb, the machine or --max-mem-mb is refused, with the figures", () => {
  const p = parseFitPrint('CUDA0 17904 384 898 \nHost 250 0 40 \n', 8192)!;
  const gpus: GpuInfo[] = [
    {
      name: 'RTX 4090',
      vramBytes: 24564 * MiB,
      freeBytes: 23000 * MiB,
      computeCapability: '8.9',
      driver: '',
      device: 'CUDA0',
    },
  ];
  const host = 64 * 1024 * MiB;
  assert.deepEqual(fitProblems(p, { objective: { kind: 'decode' }, gpus, hostBytes: host }), []);
  // The driver's share counts: 19186 MiB projected fits 19300 MiB only without it.
  assert.equal(
    fitProblems(p, { objective: { kind: 'decode', maxVramBytes: 19300 * MiB }, gpus, hostBytes: host }).length,
    1,
  );
  const vram = fitProblems(p, { objective: { kind: 'decode', maxVramBytes: 16384 * MiB }, gpus, hostBytes: host });
  assert.deepEqual(vram, [
    'projected CUDA0 19186 MiB (model 17904 MiB + KV cache 384 MiB + compute 898 MiB) + 256 MiB for the driver at context 8192 > max 16384 MiB per GPU',
  ]);
  const small = [{ ...gpus[0], freeBytes: 12000 * MiB }];
  assert.match(
    fitProblems(p, { objective: { kind: 'decode' }, gpus: small, hostBytes: host })[0],
    /> its free 12000 MiB$/,
  );
  assert.match(
    fitProblems(p, { objective: { kind: 'decode' }, gpus, hostBytes: 200 * MiB })[0],
    /host memory 290 MiB .* > this machine's 200 MiB/,
  );
  assert.match(
    fitProblems(p, { objective: { kind: 'decode', maxMemBytes: 8000 * MiB }, gpus, hostBytes: host })[0],
    /^projected memory 19476 MiB at context 8192 .* > max 8000 MiB$/,
  );
});

test('a trial line keeps its projection when read back; a damaged one is dropped and named', () => {
  const projected = parseFitPrint('CUDA0 17904 384 898 \nHost 250 0 40 \n', 8192)!;
  const line = {
    type: 'trial',
    index: 1,
    key: 'k',
    config,
    status: 'infeasible',
    cause: 'over',
    metrics: { fileSizeBytes: 1000, projected },
    startedAt: '2026-01-01T00:00:00Z',
    endedAt: '2026-01-01T00:00:01Z',
    durationMs: 1000,
    steps: [],
  };
  assert.deepEqual(trialFromJson(line)?.metrics.projected, projected);
  const bad = trialFromJson({
    ...line,
    metrics: { fileSizeBytes: 1000, projected: { context: 1, host: 'x', devices: [] } },
  });
  assert.equal(bad?.metrics.projected, undefined);
});

test('the measured GPU peak is taken per GPU: its sum counts against --max-mem-mb, its largest against --max-vram-mb', () => {
  // Two GPUs, 500 and 9000 MiB in use before; the run adds up to 3000 on the first and 100 on the second.
  const peak = gpuPeaks(
    [500, 9000],
    [
      [1500, 9000],
      [3500, 9100],
      [2000, 8000],
    ],
  );
  assert.deepEqual(peak, { sumMiB: 3100, maxMiB: 3000 });
  const m = { peakDeviceMemBytes: peak.sumMiB * MiB, peakDeviceMemMaxBytes: peak.maxMiB * MiB };
  assert.deepEqual(violations({ kind: 'decode', maxVramBytes: 3050 * MiB }, m), []);
  assert.match(
    violations({ kind: 'decode', maxVramBytes: 2000 * MiB }, m)[0],
    /peak GPU memory 3000\.0 MiB > max 2000\.0 MiB per GPU/,
  );
});
