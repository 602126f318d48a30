import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, readFixture, tmpDir } from '../helpers/fixtures';
import * as assert from 'node:assert/strict';
import { buildGpus, workloadFor } from '../../src/core/prepare';
import { backendOf, parseDevices, toolInfo } from '../../src/core/toolchains/llamacpp/locate';
import { gpuBackend } from '../../src/core/toolchains/replay/replay';
import { ProcessRunner } from '../../src/core/process/runner';
import type { ModelInfo } from '../../src/core/types';

/**
 * One `--list-devices` line as llama.cpp 80fb11a prints it (common/arg.cpp: `"  %s: %s (%zu MiB, %zu MiB free)"`, the
 * device's name and description). Only for backends no recorded output exists of (ROCm, SYCL, MUSA, CANN); the names
 * are the ones their backends build (GGML_CUDA_NAME is "ROCm" or "MUSA" under HIP or MUSA, GGML_SYCL_NAME is "SYCL",
 * GGML_CANN_NAME is "CANN", each followed by the ordinal); the descriptions are placeholders, not devices.
 */
const listed = (name: string) => `Available devices:\n  ${name}: a device (1024 MiB, 1000 MiB free)\n`;

test("the build's devices and backend are read from `llama-bench --list-devices`, whatever the backend", () => {
  // This machine's CPU build lists none.
  assert.deepEqual(parseDevices(readFixture('list-devices-cpu.txt')), []);
  // Recorded from HAQA's CUDA build on an NVIDIA H200 (stdout and stderr together), 2026-11-30.
  assert.deepEqual(parseDevices(readFixture('list-devices-cuda-h200.txt')), [
    { name: 'CUDA0', description: 'NVIDIA H200', totalMiB: 143155, freeMiB: 142629, backend: 'cuda' },
  ]);
  // Recorded on two H200 of one host: one device each, in llama.cpp's order.
  assert.deepEqual(
    parseDevices(readFixture('list-devices-cuda-2xh200.txt')).map((d) => [
      d.name,
      d.description,
      d.totalMiB,
      d.freeMiB,
      d.backend,
    ]),
    [
      ['CUDA0', 'NVIDIA H200', 143155, 142629, 'cuda'],
      ['CUDA1', 'NVIDIA H200', 143155, 142629, 'cuda'],
    ],
  );
  // Backends with no recorded listing: the line format alone.
  for (const [name, backend] of [
    ['ROCm0', 'rocm'],
    ['ROCm1', 'rocm'],
    ['SYCL0', 'sycl'],
    ['MUSA0', 'musa'],
    ['CANN0', 'cann'],
  ] as const) {
    const [d] = parseDevices(listed(name));
    assert.equal(d?.backend, backend, name);
    assert.equal(d?.name, name, name);
    assert.equal(d?.description, 'a device', name);
    assert.deepEqual([d?.totalMiB, d?.freeMiB], [1024, 1000], name);
  }
});

test('recorded `--list-devices` of Metal and Vulkan builds: the backend, the name llama.cpp gives the device, its memory', () => {
  // A Metal build of late 2025 (llama-bench on an Apple M4 Max, copied from ardanlabs/kronk#10; sources in
  // test/fixtures/list-devices.md): its one GPU is named `Metal`, without an ordinal, and BLAS is no device.
  assert.deepEqual(parseDevices(readFixture('list-devices-metal-m4max.txt')), [
    { name: 'Metal', description: 'Apple M4 Max', totalMiB: 98304, freeMiB: 98303, backend: 'metal' },
  ]);
  // A Vulkan build on an NVIDIA laptop GPU (llama-server on Windows, copied from ggml-org/llama.cpp#15793).
  assert.deepEqual(parseDevices(readFixture('list-devices-vulkan-rtx4060.txt')), [
    {
      name: 'Vulkan0',
      description: 'NVIDIA GeForce RTX 4060 Laptop GPU',
      totalMiB: 7957,
      freeMiB: 7189,
      backend: 'vulkan',
    },
  ]);
  // HAQA's own Vulkan build (80fb11a, with Debian 13's Vulkan headers) recorded here on lavapipe, Mesa's Vulkan device
  // on the CPU: llama.cpp leaves a CPU-type device out unless GGML_VK_VISIBLE_DEVICES names it, and then lists it. Its
  // description holds parentheses, which it keeps.
  assert.deepEqual(parseDevices(readFixture('list-devices-vulkan-none.txt')), []);
  assert.deepEqual(parseDevices(readFixture('list-devices-vulkan-llvmpipe.txt')), [
    {
      name: 'Vulkan0',
      description: 'llvmpipe (LLVM 15.0.6, 256 bits)',
      totalMiB: 2048,
      freeMiB: 2048,
      backend: 'vulkan',
    },
  ]);
  // The names llama.cpp gives devices and backends (llama-bench's `backends` column) map to one backend each.
  assert.deepEqual(
    ['CUDA0', 'ROCm1', 'MUSA0', 'Vulkan2', 'MTL0', 'Metal', 'SYCL0', 'CANN0', 'GPUOpenCL'].map(backendOf),
    ['cuda', 'rocm', 'musa', 'vulkan', 'metal', 'metal', 'sycl', 'cann', 'opencl'],
  );
  // A replayed recording names its backend as a live session does: llama-bench writes Metal as "MTL" (or "Metal").
  assert.equal(gpuBackend('MTL,BLAS'.split(',')), 'metal');
  assert.equal(gpuBackend(['Vulkan']), 'vulkan');
  assert.equal(gpuBackend(['ROCm']), 'rocm');
  assert.equal(gpuBackend(['CPU']), undefined);
  assert.equal(gpuBackend(['BLAS', 'CPU']), undefined);
});

test("a build's backend is its devices' (`llama-bench --list-devices`): Metal's unnumbered GPU included, none is cpu", async () => {
  const dir = tmpDir();
  const runner = new ProcessRunner({ mode: 'pipe' });
  const cases: [string, string, string[]][] = [
    ['list-devices-metal-m4max.txt', 'metal', ['Metal']],
    ['list-devices-vulkan-rtx4060.txt', 'vulkan', ['Vulkan0']],
    ['list-devices-cuda-h200.txt', 'cuda', ['CUDA0']],
    ['list-devices-cuda-2xh200.txt', 'cuda', ['CUDA0', 'CUDA1']],
    ['list-devices-vulkan-llvmpipe.txt', 'vulkan', ['Vulkan0']],
    // A Vulkan build that lists no device runs on the CPU: its backend is cpu, whatever it was built for.
    ['list-devices-vulkan-none.txt', 'cpu', []],
  ];
  for (const [file, backend, names] of cases) {
    // A stand-in llama-bench that answers --list-devices with the recorded output.
    const bench = path.join(dir, `llama-bench-${path.basename(file, '.txt')}`);
    fs.writeFileSync(bench, `#!/bin/sh\n[ "$1" = --list-devices ] || exit 2\ncat '${path.join(FIXTURES, file)}'\n`, {
      mode: 0o755,
    });
    const info = await toolInfo(runner, { quantize: bench, bench, source: 'explicit', binDir: dir }, { commit: false });
    assert.equal(info.backend, backend, file);
    assert.deepEqual(
      info.devices?.map((d) => d.name),
      names,
      file,
    );
  }
});

test("a session's GPUs are the build's devices: none for a CPU build on an NVIDIA machine; nvidia-smi facts kept", () => {
  // nvidia-smi's line on the project's H200 machine (name, memory.total, compute_cap, driver_version), recorded.
  const smi = [{ name: 'NVIDIA H200', vramBytes: 143771 * 2 ** 20, computeCapability: '9.0', driver: '580.159.04' }];
  assert.deepEqual(buildGpus([], smi), []);
  const [g] = buildGpus(parseDevices(readFixture('list-devices-cuda-h200.txt')), smi);
  assert.deepEqual(g, {
    name: 'NVIDIA H200',
    vramBytes: 143155 * 2 ** 20,
    computeCapability: '9.0',
    driver: '580.159.04',
    device: 'CUDA0',
    freeBytes: 142629 * 2 ** 20,
    backend: 'cuda',
  });
  // A Vulkan device takes no CUDA facts from nvidia-smi (a pairing made here of two recorded outputs: the laptop's
  // Vulkan listing beside the H200's nvidia-smi line).
  const [v] = buildGpus(parseDevices(readFixture('list-devices-vulkan-rtx4060.txt')), smi);
  assert.equal(v.backend, 'vulkan');
  assert.equal(v.computeCapability, '');
});

test('--context N measures at depth N/2 (within the context) and is cut to what the model was trained for', () => {
  const model = { name: 'm', contextLength: 32768 } as ModelInfo;
  const w = { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 };
  assert.deepEqual(workloadFor(w, model), w, 'no context: as given');
  assert.deepEqual(workloadFor({ ...w, context: 16384 }, model), { ...w, context: 16384, depth: 8192 });
  // A depth given with it is kept.
  assert.equal(workloadFor({ ...w, depth: 1000, context: 16384 }, model).depth, 1000);
  // The prompt must fit beside the depth.
  assert.equal(workloadFor({ ...w, promptTokens: 800, context: 1024 }, model).depth, 224);
  const notes: string[] = [];
  const cut = workloadFor({ ...w, context: 131072 }, model, (m) => notes.push(m));
  assert.deepEqual(cut, { ...w, context: 32768, depth: 16384 });
  assert.match(notes.join(''), /more than m was trained for \(32768 tokens\)/);
  // A context that cannot hold what is measured is refused; a depth given with it is cut to leave room for the prompt.
  assert.throws(
    () => workloadFor({ ...w, context: 600 }, model),
    /a context of 600 tokens cannot hold .* \(512 \+ 128 tokens\)/,
  );
  const cutNotes: string[] = [];
  assert.equal(workloadFor({ ...w, depth: 4000, context: 2048 }, model, (m) => cutNotes.push(m)).depth, 1536);
  assert.match(
    cutNotes.join(''),
    /depth 4000 leaves no room for the prompt in a 2048-token context: measuring at depth 1536/,
  );
  // A model whose training context is unknown (0) is not cut.
  assert.equal(workloadFor({ ...w, context: 8192 }, { ...model, contextLength: 0 }).context, 8192);
});
