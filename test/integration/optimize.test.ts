/**
 * Real toolchain, real GGUF files, real llama-quantize and llama-bench. `.ci/run` builds the tools first
 * (`haqa toolchain build`); without them these tests fail and say how to get them.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ArtifactCache } from '../../src/core/artifacts';
import { locateTools } from '../../src/core/toolchains/llamacpp/locate';
import { CLI, smallLlama, tmpDir, withFakeTool } from '../helpers/fixtures';

let model = '';
// Accuracy has its own test on a trained model (accuracy.test.ts); random weights make it meaningless here.
const SMALL = ['--prompt-tokens', '64', '--gen-tokens', '16', '--repetitions', '2', '--accuracy', 'off'];

before(async () => {
  assert.ok(locateTools(), 'llama.cpp tools not found: run `node dist/cli.js toolchain build` (as .ci/run does) first');
  model = await smallLlama('small.gguf');
});

function haqa(args: string[], timeout = 300_000) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
}

test('haqa optimize --budget 6 on a real model: six trials, positive decode t/s, a best config and its server command', () => {
  const dir = tmpDir();
  const r = haqa([
    'optimize',
    '--model',
    model,
    '--budget',
    '6',
    '--strategy',
    'builtin',
    ...SMALL,
    '--session-dir',
    dir,
    '--cache-dir',
    dir,
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.trials.length, 6);
  for (const t of s.trials) {
    assert.equal(t.status, 'done', `${t.index}: ${t.cause}`);
    assert.ok(t.metrics.decode.mean > 0);
    // 2 repetitions per run; confirmation runs of the leaders are pooled in (2 samples each).
    assert.equal(t.metrics.decode.n, 2 * (1 + (t.confirmedRuns ?? 0)));
    assert.equal(t.metrics.decode.samples.length, t.metrics.decode.n);
    assert.ok(t.metrics.prefill.mean > 0);
    assert.ok(t.metrics.fileSizeBytes > 0);
    assert.ok(t.metrics.peakHostMemBytes > 0);
    for (const step of t.steps) if (step.log) assert.ok(fs.existsSync(step.log), step.log);
  }
  assert.ok(s.best.config.quant);
  assert.equal(s.verdict.best, s.best.index);
  assert.ok(s.verdict.confirmations > 0 || /confirmation stopped/.test(r.stderr), 'the verdict was not confirmed');
  assert.equal(s.serverCommand[1], '-m');
  assert.ok(fs.existsSync(s.serverCommand[2]), 'the recommended model file exists');
  assert.match(r.stderr, /\[6\/6\]/);
  assert.match(r.stderr, /ETA/);
});

test('quantized artifacts are cached by content: a second session quantizes nothing', () => {
  const dir = tmpDir();
  const args = [
    'optimize',
    '--model',
    model,
    '--budget',
    '2',
    '--strategy',
    'builtin',
    ...SMALL,
    '--cache-dir',
    dir,
    '--json',
  ];
  const a = JSON.parse(haqa([...args, '--session-dir', path.join(dir, 'a')]).stdout);
  const b = JSON.parse(haqa([...args, '--session-dir', path.join(dir, 'b')]).stdout);
  assert.ok(
    a.trials.some((t: { steps: { name: string; cached?: boolean }[] }) =>
      t.steps.some((s) => s.name === 'quantize' && !s.cached),
    ),
  );
  for (const t of b.trials)
    assert.ok(
      t.steps.every((s: { name: string; cached?: boolean }) => s.name !== 'quantize' || s.cached),
      'quantized again',
    );
});

test('a crashing trial is recorded with its cause and the session goes on', async () => {
  const dir = tmpDir();
  // Plant a corrupt Q4_0 artifact: llama-bench really fails to load it.
  const cache = new ArtifactCache(dir);
  const bad = cache.pathFor(await cache.digest(model), { quant: 'Q4_0' });
  fs.mkdirSync(path.dirname(bad), { recursive: true });
  fs.writeFileSync(bad, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(4096, 7)]));
  const r = haqa([
    'optimize',
    '--model',
    model,
    '--budget',
    '2',
    '--strategy',
    'builtin',
    ...SMALL,
    '--session-dir',
    dir,
    '--cache-dir',
    dir,
    '--json',
  ]);
  const s = JSON.parse(r.stdout);
  assert.equal(s.trials[0].config.quant, 'Q4_0');
  assert.equal(s.trials[0].status, 'failed');
  assert.match(s.trials[0].cause, /failed to load/);
  assert.equal(s.trials[1].status, 'done');
  assert.equal(s.best.index, 2);
});

test('Ctrl+C cancels the running trial, keeps what was measured, and --resume finishes the budget', async () => {
  const dir = tmpDir();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'optimize',
      '--model',
      model,
      '--budget',
      '4',
      '--strategy',
      'builtin',
      '--prompt-tokens',
      '64',
      '--gen-tokens',
      '256',
      '--repetitions',
      '5',
      '--accuracy',
      'off',
      '--session-dir',
      dir,
      '--cache-dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (/\[2\/4\]/.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise((r) => child.on('close', r));
  assert.match(err, /Ctrl\+C/);
  assert.equal(code, 0, err);
  const id = fs.readdirSync(path.join(dir, 'sessions'))[0];
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'sessions', id, 'session.json'), 'utf8'));
  assert.equal(meta.status, 'stopped');
  const lines = fs
    .readFileSync(path.join(dir, 'sessions', id, 'trials.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines[0].status, 'done');
  assert.equal(lines[1].status, 'cancelled');
  const r = haqa(['optimize', '--resume', id, '--session-dir', dir, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  const measured = s.trials.filter((t: { status: string }) => t.status !== 'cancelled');
  assert.equal(measured.length, 4);
  assert.equal(new Set(measured.map((t: { key: string }) => t.key)).size, 4);
  assert.equal(measured[0].key, lines[0].key, 'the trial measured before Ctrl+C is kept, not re-run');
});

test('toolchain status reports the build', () => {
  const r = haqa(['toolchain', 'status', '--json']);
  assert.equal(r.status, 0);
  const s = JSON.parse(r.stdout);
  assert.equal(s.found, true);
  assert.match(s.commit, /^[0-9a-f]{7,40}$/);
});

test('tools from $HAQA_LLAMACPP_BIN are found first and their commit and backend are read from the binaries', () => {
  const built = locateTools()!;
  const r = spawnSync(process.execPath, [CLI, 'toolchain', 'status', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, HAQA_LLAMACPP_BIN: built.binDir },
  });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.source, 'env');
  assert.match(s.commit, /^[0-9a-f]{7,40}$/);
  assert.equal(s.backend, built.backend);
  const bad = spawnSync(process.execPath, [CLI, 'toolchain', 'status'], {
    encoding: 'utf8',
    env: { ...process.env, HAQA_LLAMACPP_BIN: tmpDir() },
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /has no llama-quantize and llama-bench/);
});

test('haqa demo (the README main job) runs end to end', () => {
  const dir = tmpDir();
  const r = haqa(['demo', '--budget', '3', '--session-dir', dir, '--json'], 600_000);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.trials.length, 3);
  assert.match(s.strategy.note, /no LLM endpoint configured/);
  assert.ok(s.best.metrics.decode.mean > 0);
  // The first impression is true: the trained fixture (its accuracy means something), and a verdict with its reason.
  assert.equal(path.basename(s.model.path), 'haqa-tiny-pystdlib-f16.gguf');
  assert.match(r.stderr, /demo: a small Llama trained on Python source/);
  assert.ok(s.best.metrics.accuracy.kld >= 0 && Number.isFinite(s.best.metrics.accuracy.dPplPct));
  assert.equal(s.verdict.best, s.best.index);
  assert.ok(s.verdict.reason.length > 10, s.verdict.reason);
  // Confirmed before the verdict (or, on a machine that never held still, said so).
  assert.ok(s.verdict.confirmations > 0 || /confirmation stopped/.test(r.stderr), 'the verdict was not confirmed');
});

/**
 * The real CPU tools behind a llama-bench that lists a Vulkan device, as a Vulkan build does (a CPU build ignores -ngl
 * and -ncmoe, so the trials still measure for real); each measuring argv is appended to argv.log in the folder.
 */
function vulkanBuild(): string {
  const built = locateTools()!;
  return withFakeTool(
    built.binDir,
    'llama-bench',
    [
      '#!/bin/sh',
      'if [ "$1" = "--list-devices" ]; then',
      '  echo "Available devices:"',
      '  echo "  Vulkan0: AMD Radeon RX 7900 XTX (RADV NAVI31) (24560 MiB, 24000 MiB free)"',
      '  exit 0',
      'fi',
      `printf '%s\\n' "$*" >> "$(dirname "$0")/argv.log"`,
      `exec "${built.bench}" "$@"`,
      '',
    ].join('\n'),
  );
}

/** `haqa optimize` with the tools in `bin`, a session folder, JSON out, no confirmation, the small workload. */
const onBuild = (bin: string, dir: string, args: string[]) =>
  haqa(['optimize', '--llamacpp-bin', bin, ...args, '--session-dir', dir, '--json', '--confirm', 'off', ...SMALL]);

test('a build whose devices are a Vulkan GPU is used as a GPU build; --context measures at its half and deploys -c', () => {
  const bin = vulkanBuild();
  const dir = tmpDir();
  const r = onBuild(bin, dir, ['--model', model, '--budget', '2', '--strategy', 'builtin', '--context', '512']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.toolchain.backend, 'vulkan');
  // The GPU knob is in the space and every trial offloads (the first design starts with all layers on the GPU).
  assert.ok(s.trials.every((t: { config: { gpu_layers?: number } }) => t.config.gpu_layers !== undefined));
  const argv = fs.readFileSync(path.join(bin, 'argv.log'), 'utf8');
  assert.match(argv, /-ngl 999/);
  // Context 512 (the model's own): measured at depth 256, and at 0 for reference; served with -c 512.
  assert.match(argv, /-d 0,256 /);
  const t = s.trials.find((x: { status: string }) => x.status === 'done');
  assert.ok(t.metrics.decode.mean > 0 && t.metrics.atDepth0.decode.mean > 0, JSON.stringify(t.metrics));
  assert.deepEqual(s.serverCommand.slice(s.serverCommand.indexOf('-c'), s.serverCommand.indexOf('-c') + 2), [
    '-c',
    '512',
  ]);
  // More context than the model was trained for is cut to it, with the reason.
  const over = onBuild(bin, dir, ['--model', model, '--budget', '1', '--context', '8192']);
  assert.equal(over.status, 0, over.stderr);
  assert.match(over.stderr, /context 8192 is more than .* was trained for \(512 tokens\)/);
});

test("llama.cpp's memory projection at the served context comes before each trial: over a limit, it never runs", () => {
  const dir = tmpDir();
  const common = ['--model', model, '--session-dir', dir, '--json', '--confirm', 'off', '--context', '512', ...SMALL];
  const ok = haqa(['optimize', ...common, '--budget', '1']);
  assert.equal(ok.status, 0, ok.stderr);
  const t = JSON.parse(ok.stdout).trials[0];
  // The projection of this trial at context 512: host memory only on a CPU build (model, KV cache, compute).
  assert.equal(t.metrics.projected.context, 512);
  assert.ok(t.metrics.projected.host.modelBytes > 0 && t.metrics.projected.host.contextBytes >= 0);
  assert.ok(t.steps.some((s: { name: string }) => s.name === 'fit'));
  // 5 MiB of memory: every configuration of this model is projected over it, so none is benchmarked.
  const r = haqa(['optimize', ...common, '--budget', '2', '--max-mem-mb', '5']);
  const s = JSON.parse(r.stdout);
  assert.equal(s.trials.length, 2);
  for (const x of s.trials) {
    assert.equal(x.status, 'infeasible');
    assert.match(x.cause, /^projected memory \d+ MiB at context 512 \(host .*\) > max 5 MiB \(not run\)$/);
    assert.ok(!x.steps.some((st: { name: string }) => st.name === 'bench'), 'an over-limit trial was benchmarked');
  }
});

test('a split model (llama-gguf-split) is optimized from its first file; an already-quantized one searches runtime knobs only, saying why', () => {
  const built = locateTools()!;
  const dir = tmpDir();
  const split = spawnSync(
    path.join(built.binDir, 'llama-gguf-split'),
    ['--split', '--split-max-tensors', '8', model, path.join(dir, 'small')],
    { encoding: 'utf8' },
  );
  assert.equal(split.status, 0, split.stderr);
  const shards = fs.readdirSync(dir).filter((f) => /^small-\d{5}-of-\d{5}\.gguf$/.test(f));
  assert.ok(shards.length >= 2, `not split: ${shards.join(', ')}`);
  const first = path.join(dir, shards.sort()[0]);
  const common = ['--session-dir', dir, '--json', '--confirm', 'off', ...SMALL];
  const r = haqa(['optimize', '--model', first, '--budget', '1', ...common]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(
    s.model.sizeBytes,
    shards.reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0),
  );
  assert.equal(s.trials[0].status, 'done', s.trials[0].cause);
  assert.ok(s.trials[0].metrics.decode.mean > 0);
  // F16 from an F16 source benchmarks the source itself, through its first shard: the trial's size is all shards'.
  const f16 = haqa(['optimize', '--model', first, '--budget', '1', '--strategy', 'grid', ...common]);
  assert.equal(f16.status, 0, f16.stderr);
  const [whole] = JSON.parse(f16.stdout).trials;
  assert.equal(whole.config.quant, 'F16');
  assert.equal(
    whole.metrics.fileSizeBytes,
    shards.reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0),
  );
  // The quantized file it made is a model of its own: only the runtime is searched from it, and the session says so.
  const quantized = s.serverCommand[s.serverCommand.indexOf('-m') + 1];
  const q = haqa(['optimize', '--model', quantized, '--budget', '1', ...common]);
  assert.equal(q.status, 0, q.stderr);
  assert.match(q.stderr, /the model is already Q\w+: only runtime knobs are searched, the quantization knobs are off/);
  const t = JSON.parse(q.stdout).trials[0];
  assert.equal(
    t.steps.find((x: { name: string }) => x.name === 'quantize'),
    undefined,
    'a quantized source was quantized',
  );
});

test('a mixture of experts that does not fit the GPU starts with every layer offloaded and its experts on the CPU (-ncmoe)', async () => {
  const dir = tmpDir();
  const moe = await smallLlama('moe.gguf', { experts: 4, expertsUsed: 2 });
  const bin = vulkanBuild();
  // 1 MiB per GPU: the model cannot fit whole, so the first design keeps its experts in host memory.
  const r = onBuild(bin, dir, ['--model', moe, '--budget', '1', '--strategy', 'builtin', '--max-vram-mb', '1']);
  assert.equal(r.status, 0, r.stderr);
  const [t] = JSON.parse(r.stdout).trials;
  assert.equal(t.status, 'done', t.cause);
  assert.deepEqual([t.config.gpu_layers, t.config.n_cpu_moe], [999, 2]);
  assert.match(t.rationale, /experts in host memory \(-ncmoe/);
  assert.ok(t.metrics.decode.mean > 0);
  assert.match(fs.readFileSync(path.join(bin, 'argv.log'), 'utf8'), /-ngl 999 .*-ncmoe 2/);
});
