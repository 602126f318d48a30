import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  benchArgs,
  configFromRow,
  diagnoseFailure,
  metricsFromRows,
  parseBenchOutput,
  tensorSplitOf,
} from '../../src/core/toolchains/llamacpp/bench';
import { QUANT_TYPES, quantFromModelType } from '../../src/core/ggml';
import { GRID, ROOT, readFixture, tmpDir } from '../helpers/fixtures';
import { ReplayToolchain } from '../../src/core/toolchains/replay/replay';
import { ProcessRunner } from '../../src/core/process/runner';
import { violations } from '../../src/core/objective';
import { firstDesign } from '../../src/core/strategies/heuristic';

test('parses real llama-bench JSONL: prefill and decode rows with mean, sd, n', () => {
  const rows = parseBenchOutput(readFixture('llama-bench-f16-cpu.jsonl'));
  assert.equal(rows.length, 2);
  const m = metricsFromRows(rows);
  assert.equal(m.prefill!.n, 2);
  assert.ok(Math.abs(m.prefill!.mean - 2005.70445) < 1e-6);
  assert.ok(Math.abs(m.decode!.sd - 49.086668) < 1e-6);
  assert.equal(m.fileSizeBytes, 92817408);
});

test("with a depth, the figures at that depth are the trial's and those at depth 0 are kept beside them", () => {
  const rows = parseBenchOutput(readFixture('llama-bench-f16-cpu.jsonl'));
  const deep = rows.map((r) => ({
    ...r,
    n_depth: 1024,
    avg_ts: r.avg_ts / 2,
    samples_ts: r.samples_ts?.map((x) => x / 2),
  }));
  // llama-bench's order with -d 0,1024: pp@0, tg@0, pp@1024, tg@1024.
  const m = metricsFromRows([...rows.map((r) => ({ ...r, n_depth: 0 })), ...deep], 1024);
  assert.ok(Math.abs(m.prefill!.mean - 2005.70445 / 2) < 1e-6, 'prefill at depth 1024');
  assert.ok(Math.abs(m.atDepth0!.prefill!.mean - 2005.70445) < 1e-6, 'prefill at depth 0');
  assert.ok(m.decode!.mean < m.atDepth0!.decode!.mean);
  // Without a depth, rows at another depth are not the trial's figures (a replay of a grid recorded at depths).
  assert.ok(Math.abs(metricsFromRows([...deep, ...rows]).prefill!.mean - 2005.70445) < 1e-6);
  assert.equal(metricsFromRows(rows, 0).atDepth0, undefined);
});

test('parses real llama-bench JSON (array form) to the same rows as JSONL', () => {
  const json = parseBenchOutput(readFixture('llama-bench-q4_0-cpu.json'));
  assert.ok(json.length >= 2);
  assert.equal(quantFromModelType(json[0].model_type), 'Q4_0');
  const m = metricsFromRows(json);
  assert.ok(m.decode!.mean > 0 && m.prefill!.mean > 0);
});

test('tolerates noise around the rows: log lines, a torn last row', () => {
  const text = `build: 80fb11a\n${readFixture('llama-bench-f16-cpu.jsonl')}{"build_commit": "80fb`;
  assert.equal(parseBenchOutput(text).length, 2);
  assert.deepEqual(parseBenchOutput(''), []);
});

test('a row maps back to the knob values it was measured with', () => {
  const [row] = parseBenchOutput(readFixture('llama-bench-f16-cpu.jsonl'));
  assert.deepEqual(configFromRow(row, false), {
    quant: 'F16',
    threads: 2,
    flash_attn: true,
    batch: 2048,
    ubatch: 512,
    cache_type_k: 'f16',
    cache_type_v: 'f16',
  });
  assert.equal(configFromRow({ ...row, n_gpu_layers: 99 }, true)!.gpu_layers, 999);
  // With the model's layer count known (a replay with the model's description): above it is every layer, 99 is not.
  assert.equal(configFromRow({ ...row, n_gpu_layers: 99 }, true, false, false, 126)!.gpu_layers, 99);
  assert.equal(configFromRow({ ...row, n_gpu_layers: 32 }, true, false, false, 32)!.gpu_layers, 32);
  assert.equal(configFromRow({ ...row, n_gpu_layers: 33 }, true, false, false, 32)!.gpu_layers, 999);
});

test('every quant type name round-trips through llama-bench model_type text', () => {
  for (const q of QUANT_TYPES) assert.equal(quantFromModelType(`llama 7B ${q.describe}`), q.name, q.name);
  assert.equal(quantFromModelType('llama 7B Q4_1'), undefined);
});

test('the recorded grid covers every quant type it names, with both rows per configuration', () => {
  const rows = parseBenchOutput(fs.readFileSync(GRID, 'utf8'));
  const quants = new Set(rows.map((r) => quantFromModelType(r.model_type)));
  assert.ok(quants.size >= 10);
  assert.ok(!quants.has(undefined));
  assert.equal(rows.filter((r) => r.n_gen > 0).length, rows.filter((r) => r.n_prompt > 0).length);
});

test('benchArgs is an argv array built from the config only', () => {
  const a = benchArgs(
    '/bin/llama-bench',
    '/m.gguf',
    {
      quant: 'Q4_0',
      threads: 2,
      flash_attn: false,
      batch: 512,
      ubatch: 128,
      cache_type_k: 'q8_0',
      cache_type_v: 'f16',
    },
    { promptTokens: 512, genTokens: 128, depth: 1024, repetitions: 5 },
  );
  assert.deepEqual(a, [
    '/bin/llama-bench',
    '-m',
    '/m.gguf',
    '-p',
    '512',
    '-n',
    '128',
    '-d',
    '0,1024',
    '-r',
    '5',
    '-t',
    '2',
    '-ngl',
    '0',
    '-fa',
    'off',
    '-b',
    '512',
    '-ub',
    '128',
    '-ctk',
    'q8_0',
    '-ctv',
    'f16',
    '-o',
    'jsonl',
  ]);
});

test('failures are diagnosed from real tool output', () => {
  assert.match(diagnoseFailure(readFixture('llama-bench-bad-model.txt'), 1, null), /failed to load/);
  assert.match(diagnoseFailure('', null, 'SIGKILL'), /out of memory/);
  assert.match(
    diagnoseFailure('ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 1234', 1, null),
    /out of memory/,
  );
  assert.match(diagnoseFailure('something odd\nerror: it broke', 2, null), /code 2: error: it broke/);
});

test('a recorded MoE grid replays with n_cpu_moe as a knob (the H200 grid at a 32768-token context)', () => {
  const grid = new ReplayToolchain([path.join(ROOT, 'bench/data/moe-grid-h200-ctx32k.jsonl')]);
  assert.deepEqual(grid.space.knob('n_cpu_moe')!.values, [0, 2, 4, 6, 8, 10, 12, 14, 16]);
  const all = [...grid.space.enumerate()];
  assert.equal(all.length, 26, 'every recorded configuration, each once');
  assert.ok(all.some((c) => c.n_cpu_moe === 0 && c.cache_type_k === 'q8_0'));
  assert.ok(!all.some((c) => c.n_cpu_moe === 0 && c.cache_type_k === 'f16'), 'over the limit: never recorded');
  // Rows without the field (an older llama-bench, a dense recording) keep no such knob.
  assert.equal(new ReplayToolchain([GRID]).space.knob('n_cpu_moe'), undefined);
});

test("a replay keeps the recording's hardware: the H200 grid is a GPU session on any machine", () => {
  const gpu = new ReplayToolchain([path.join(ROOT, 'bench/data/gpu-grid-h200.jsonl')]).hardware();
  assert.deepEqual(
    gpu.gpus.map((g) => [g.name, g.backend]),
    [['NVIDIA H200', 'cuda']],
  );
  assert.equal(gpu.cpu.model, 'Intel(R) Xeon(R) Processor');
  assert.equal(gpu.cpu.threads, 8, 'the most threads a row used (the machine had 16 cores; it was recorded at 8)');
  const cpu = new ReplayToolchain([GRID]).hardware();
  assert.deepEqual(cpu.gpus, [], 'a CPU recording has no GPU, whatever this machine has');
  assert.equal(cpu.cpu.threads, 2);
});

test('a recording over two GPUs that varies the split replays split_mode and tensor_split as knobs, not as one row', async () => {
  const src = fs.readFileSync(path.join(ROOT, 'bench/data/gpu-grid-h200.jsonl'), 'utf8').trim().split('\n');
  const rows = src.slice(0, 4).map((l) => JSON.parse(l) as Record<string, unknown>);
  const two = (r: Record<string, unknown>, mode: string, ts: string, speed: number) => ({
    ...r,
    gpu_info: 'NVIDIA H200, NVIDIA H200',
    split_mode: mode,
    tensor_split: ts,
    avg_ts: speed,
    samples_ts: [speed - 1, speed, speed + 1],
    stddev_ts: 1,
  });
  const file = path.join(tmpDir(), 'two-gpus.jsonl');
  const out = rows.flatMap((r) => [
    two(r, 'layer', '0.00', 100),
    two(r, 'row', '0.00', 80),
    two(r, 'layer', '2.00/1.00', 120),
  ]);
  fs.writeFileSync(file, out.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const tc = new ReplayToolchain([file]);
  assert.deepEqual(tc.space.knob('split_mode')!.values, ['layer', 'row']);
  assert.deepEqual(tc.space.knob('tensor_split')!.values, ['auto', '2,1']);
  assert.equal(tc.hardware().gpus.length, 2);
  const configs = tc.recorded();
  const base = new Set(rows.map((r) => JSON.stringify(configFromRow(r as never, true))));
  assert.equal(configs.length, 3 * base.size, 'each split its own configuration');
  const row = configs.find((c) => c.split_mode === 'row')!;
  const got = await tc.runTrial(row, { runner: new ProcessRunner({ mode: 'pipe' }), logDir: 'split', trialIndex: 1 });
  assert.equal(got.metrics.decode?.mean, 80);
  assert.equal(tensorSplitOf('2.00/1.00'), '2,1');
  assert.equal(tensorSplitOf('0.00'), 'auto');
  assert.equal(tensorSplitOf(undefined), 'auto');
});

test("a replay keeps the recording's model and GPU memory: a limit refuses what took too much, the first design sees the experts", async () => {
  const src = fs.readFileSync(path.join(ROOT, 'bench/data/moe-grid-h200-ctx32k.jsonl'), 'utf8').trim().split('\n');
  // The MoE grid's rows with a sampled peak: every expert on the GPU takes the most.
  const rows = src.map((l) => JSON.parse(l) as Record<string, unknown>);
  const dir = tmpDir();
  const file = path.join(dir, 'moe.jsonl');
  fs.writeFileSync(
    file,
    rows.map((r) => JSON.stringify({ ...r, peak_gpu_mib: 2400 - 100 * Number(r.n_cpu_moe) })).join('\n') + '\n',
  );
  const bare = new ReplayToolchain([file]);
  assert.equal(bare.modelInfo().layers, 0, 'without a description: only what the rows say');
  // The committed description of the recording's model (haqa inspect --json of its source), beside the copy.
  fs.copyFileSync(path.join(ROOT, 'bench/data/moe-grid-h200-ctx32k.model.json'), path.join(dir, 'moe.model.json'));
  const tc = new ReplayToolchain([file]);
  const m = tc.modelInfo();
  assert.equal(m.layers, 16);
  assert.equal(m.expertCount, 16);
  assert.equal(m.path, 'moe.jsonl (replay)', 'never a path of the recording machine');
  const runner = new ProcessRunner({ mode: 'pipe' });
  const at = (n: number) => tc.recorded().find((c) => c.n_cpu_moe === n)!;
  const all = await tc.runTrial(at(0), { runner, logDir: 'peaks', trialIndex: 1 });
  const half = await tc.runTrial(at(8), { runner, logDir: 'peaks', trialIndex: 2 });
  assert.equal(all.metrics.peakDeviceMemMaxBytes, 2400 * 2 ** 20);
  assert.equal(half.metrics.peakDeviceMemBytes, 1600 * 2 ** 20);
  const limit = { kind: 'decode' as const, maxVramBytes: 2000 * 2 ** 20 };
  assert.match(violations(limit, all.metrics).join(), /peak GPU memory 2400\.0 MiB > max 2000\.0 MiB per GPU/);
  assert.deepEqual(violations(limit, half.metrics), []);
  // The recording's GPU has no recorded memory (0): under the limit the first design keeps the experts in host memory.
  const ctx = {
    space: tc.space,
    hardware: tc.hardware(),
    model: m,
    objective: { kind: 'decode' as const, maxVramBytes: 1000 * 2 ** 20 },
    seed: 1,
    budget: 12,
  };
  assert.equal(ctx.hardware.gpus[0].vramBytes, 0);
  assert.ok(firstDesign(ctx, []).every((p) => p.config.n_cpu_moe === 16));
  assert.ok(firstDesign({ ...ctx, objective: { kind: 'decode' } }, []).every((p) => p.config.n_cpu_moe === 0));
  fs.writeFileSync(path.join(dir, 'moe.model.json'), '{"layers": 16}');
  assert.throws(() => new ReplayToolchain([file]), /not a model description/);
});
