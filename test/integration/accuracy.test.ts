/**
 * Accuracy on a model with trained weights (test/fixtures/trained): real llama-quantize, llama-bench and
 * llama-perplexity with KL divergence against the F16 source.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { probeHardware } from '../../src/core/hardware';
import { inspectModel } from '../../src/core/model';
import { ProcessRunner } from '../../src/core/process/runner';
import { builtinEvalText } from '../../src/core/toolchains/llamacpp/accuracy';
import { locateTools, withToolInfo } from '../../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../../src/core/toolchains/llamacpp/toolchain';
import { quantRecipe } from '../../src/core/toolchains/llamacpp/space';
import type { Config } from '../../src/core/types';
import { CLI, FIXTURES, tmpDir } from '../helpers/fixtures';

const MODEL = path.join(FIXTURES, 'trained', 'haqa-tiny-pystdlib-f16.gguf');

test('the trained fixture: PPL far below its vocabulary, and ΔPPL / KLD ordered Q8_0 < Q4_K_M < Q2_K, each beyond noise', async () => {
  const runner = new ProcessRunner({ mode: 'pipe' });
  const info = await inspectModel(MODEL);
  assert.equal(info.arch, 'llama');
  assert.ok(info.layers >= 4 && info.embeddingLength % 256 === 0 && info.feedForwardLength % 256 === 0);
  const tc = new LlamaCppToolchain(await withToolInfo(runner, locateTools()!), probeHardware(), info, {
    workload: { promptTokens: 32, genTokens: 8, depth: 0, repetitions: 1 },
    cacheDir: tmpDir(),
    accuracy: { evalFile: builtinEvalText()!, chunks: 16, ctx: 512 },
  });
  const acc: Record<string, Record<string, number>> = {};
  for (const quant of ['Q8_0', 'Q4_K_M', 'Q2_K']) {
    const out = await tc.runTrial({ ...tc.space.defaults(), quant }, { runner, logDir: tmpDir(), trialIndex: 1 });
    assert.equal(out.status, 'done', out.cause);
    acc[quant] = out.metrics.accuracy!;
  }
  const base = acc.Q8_0.pplBase;
  assert.ok(base > 5 && base < 100, `PPL of the F16 model ${base} is not far below the 4096-token vocabulary`);
  const beyond = (a: Record<string, number>, b: Record<string, number>) =>
    b.dPplPct - a.dPplPct > 2 * (a.dPplPctErr + b.dPplPctErr);
  assert.ok(beyond(acc.Q8_0, acc.Q4_K_M), `ΔPPL Q8_0 ${acc.Q8_0.dPplPct} vs Q4_K_M ${acc.Q4_K_M.dPplPct}`);
  assert.ok(beyond(acc.Q4_K_M, acc.Q2_K), `ΔPPL Q4_K_M ${acc.Q4_K_M.dPplPct} vs Q2_K ${acc.Q2_K.dPplPct}`);
  assert.ok(acc.Q8_0.kld + 2 * acc.Q8_0.kldErr < acc.Q4_K_M.kld - 2 * acc.Q4_K_M.kldErr);
  assert.ok(acc.Q4_K_M.kld + 2 * acc.Q4_K_M.kldErr < acc.Q2_K.kld - 2 * acc.Q2_K.kldErr);
  // Same-top-token % is llama-perplexity's last line, which its asynchronous logger can drop at exit: compare it when present.
  if ([acc.Q8_0, acc.Q4_K_M, acc.Q2_K].every((a) => a.sameTopPct !== undefined)) {
    assert.ok(
      acc.Q8_0.sameTopPct > acc.Q4_K_M.sameTopPct && acc.Q4_K_M.sameTopPct > acc.Q2_K.sameTopPct,
      JSON.stringify(acc),
    );
  }
});

test('haqa optimize --max-dppl: Q2_K is infeasible, Q8_0 kept, the verdict is the fastest feasible or the most accurate tied with it; runtime-only changes reuse accuracy', () => {
  const dir = tmpDir();
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'optimize',
      '--model',
      MODEL,
      '--strategy',
      'builtin',
      '--budget',
      '6',
      '--max-dppl',
      '5',
      '--prompt-tokens',
      '64',
      '--gen-tokens',
      '32',
      '--repetitions',
      '2',
      '--session-dir',
      dir,
      '--cache-dir',
      dir,
      '--json',
    ],
    { encoding: 'utf8', timeout: 600_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  type T = {
    index: number;
    status: string;
    cause?: string;
    config: Record<string, unknown>;
    metrics: { decode: { mean: number }; accuracy?: Record<string, number> };
    steps: { name: string; cached?: boolean }[];
  };
  const trials: T[] = s.trials;
  const byQuant = (q: string) => trials.filter((t) => t.config.quant === q);
  assert.ok(
    byQuant('Q2_K').length > 0 &&
      byQuant('Q2_K').every((t) => t.status === 'infeasible' && /ΔPPL [\d.]+ % > max 5 %/.test(t.cause!)),
    'Q2_K not excluded',
  );
  assert.ok(
    byQuant('Q8_0').some((t) => t.status === 'done'),
    'Q8_0 not kept',
  );
  const feasible = trials.filter((t) => t.status === 'done');
  assert.ok(feasible.every((t) => t.metrics.accuracy!.dPplPct <= 5));
  // The verdict: the fastest feasible trial, or — when the comparison rule cannot separate it from the fastest — the
  // more accurate of the tied.
  const fastest = feasible.reduce((a, b) => (b.metrics.decode!.mean > a.metrics.decode!.mean ? b : a));
  assert.equal(s.verdict.best, s.best.index);
  assert.match(s.verdict.method, /^Welch's t-test at 95 % and a margin of 1 %$/);
  assert.ok(s.verdict.reason.length > 10, s.verdict.reason);
  // Confirmation ran (the leaders measured again, interleaved) and the verdict counts the runs it pooled: every kept,
  // measured confirmation run (a round whose anchor drifted beyond noise on a busy machine is discarded).
  const lines = fs
    .readFileSync(path.join(s.sessionPath, 'trials.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; round?: number; status?: string });
  const discarded = new Set(lines.filter((l) => l.type === 'confirm-discard').map((l) => l.round));
  const confirms = lines.filter((l) => l.type === 'confirm');
  assert.ok(confirms.length >= 3, 'the verdict was not confirmed');
  assert.equal(s.verdict.confirmations, confirms.filter((l) => l.status === 'done' && !discarded.has(l.round)).length);
  if (s.best.index !== fastest.index) {
    assert.ok(s.verdict.tied.includes(fastest.index), `#${s.best.index} is neither the fastest nor tied with it`);
    assert.ok(s.best.metrics.accuracy.kld <= fastest.metrics.accuracy!.kld, 'a tie went to the less accurate trial');
  }
  assert.ok(s.best.metrics.accuracy.dPplPct <= 5);
  // The base logits are computed once per session; a trial that changes only runtime knobs reuses its artifact's accuracy.
  assert.equal(trials.flatMap((t) => t.steps).filter((st) => st.name === 'accuracy-base').length, 1);
  const same = (a: T, b: T) =>
    JSON.stringify(quantRecipe(a.config as Config)) === JSON.stringify(quantRecipe(b.config as Config)) &&
    a.config.cache_type_k === b.config.cache_type_k &&
    a.config.cache_type_v === b.config.cache_type_v;
  const runtimeOnly = trials.filter((t, i) => trials.slice(0, i).some((o) => o.status !== 'failed' && same(o, t)));
  assert.ok(runtimeOnly.length > 0, 'no trial repeated an artifact with other runtime knobs');
  for (const t of runtimeOnly)
    assert.ok(
      t.steps.some((st) => st.name === 'accuracy' && st.cached),
      `trial #${t.index} measured accuracy again`,
    );
  assert.match(r.stderr, /ΔPPL [\d.]+ ± [\d.]+ %, KLD/);
});

test('imatrix and mixed precision are quantization knobs: real flags, their own cached artifacts, measurable accuracy gains', async () => {
  const runner = new ProcessRunner({ mode: 'pipe' });
  const started: string[][] = [];
  runner.subscribe((e) => {
    if (e.type === 'start') started.push(e.argv);
  });
  const info = await inspectModel(MODEL);
  const tc = new LlamaCppToolchain(await withToolInfo(runner, locateTools()!), probeHardware(), info, {
    workload: { promptTokens: 32, genTokens: 8, depth: 0, repetitions: 1 },
    cacheDir: tmpDir(),
    accuracy: { evalFile: builtinEvalText()!, chunks: 16, ctx: 512 },
  });
  const run = async (extra: Record<string, unknown>) => {
    const out = await tc.runTrial(
      { ...tc.space.defaults(), quant: 'Q2_K', ...extra },
      { runner, logDir: tmpDir(), trialIndex: 1 },
    );
    assert.equal(out.status, 'done', out.cause);
    return out;
  };
  const plain = await run({});
  const imat = await run({ imatrix: 'builtin', imatrix_chunks: 32 });
  const over = await run({ tensor_overrides: 'attn_v=q8_0,ffn_down=q8_0' });
  const k = (o: typeof plain) => o.metrics.accuracy!;
  // The importance matrix protects what matters: Q2_K's KL divergence drops beyond noise, at the same size.
  assert.ok(
    k(imat).kld + 2 * k(imat).kldErr < k(plain).kld - 2 * k(plain).kldErr,
    `imatrix KLD ${k(imat).kld} vs plain ${k(plain).kld}`,
  );
  assert.ok(
    Math.abs(imat.metrics.fileSizeBytes! / plain.metrics.fileSizeBytes! - 1) < 0.001,
    'an imatrix changes values, not the size (a few bytes of metadata)',
  );
  // q8_0 attn_v + ffn_down: bigger file, lower divergence.
  assert.ok(over.metrics.fileSizeBytes! > plain.metrics.fileSizeBytes!);
  assert.ok(k(over).kld < k(plain).kld - 2 * k(plain).kldErr);
  const quantizes = started.filter((a) => a[0].endsWith('llama-quantize'));
  assert.ok(quantizes.some((a) => a.includes('--imatrix')));
  assert.ok(quantizes.some((a) => a.join(' ').includes('--tensor-type attn_v=q8_0 --tensor-type ffn_down=q8_0')));
  assert.equal(started.filter((a) => a[0].endsWith('llama-imatrix')).length, 1);
  // A second imatrix trial (another type, same calibration and chunks) reuses the matrix.
  const again = await tc.runTrial(
    { ...tc.space.defaults(), quant: 'Q3_K_M', imatrix: 'builtin', imatrix_chunks: 32 },
    { runner, logDir: tmpDir(), trialIndex: 2 },
  );
  assert.equal(again.status, 'done', again.cause);
  assert.ok(again.steps.some((s) => s.name === 'imatrix' && s.cached));
  assert.equal(started.filter((a) => a[0].endsWith('llama-imatrix')).length, 1);
});

/**
 * A llama-perplexity that loses its KL-divergence statistics at exit the first `lose` times it is asked for them (as
 * llama.cpp's log thread sometimes does on a busy machine): the real tool with its output cut at the statistics.
 */
function losingPerplexity(lose: number): { tools: NonNullable<ReturnType<typeof locateTools>>; calls: () => number } {
  const real = locateTools()!;
  const dir = tmpDir();
  const count = path.join(dir, 'kld-calls');
  const script = path.join(dir, 'llama-perplexity');
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      'case " $* " in',
      '  *" --kl-divergence "*)',
      `    n=$(cat "${count}" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${count}"`,
      `    if [ "$n" -le ${lose} ]; then "${real.perplexity}" "$@" 2>&1 | sed '/KL divergence statistics/,$d'; exit 0; fi;;`,
      'esac',
      `exec "${real.perplexity}" "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return {
    tools: { ...real, perplexity: script },
    calls: () => Number(fs.existsSync(count) ? fs.readFileSync(count, 'utf8') : 0),
  };
}

test('KL-divergence statistics lost at exit: llama-perplexity runs again (up to 3 times), then the trial fails saying so', async () => {
  const runner = new ProcessRunner({ mode: 'pipe' });
  const info = await inspectModel(MODEL);
  const trial = async (lose: number) => {
    const fake = losingPerplexity(lose);
    const tc = new LlamaCppToolchain(await withToolInfo(runner, fake.tools), probeHardware(), info, {
      workload: { promptTokens: 32, genTokens: 8, depth: 0, repetitions: 1 },
      cacheDir: tmpDir(),
      accuracy: { evalFile: builtinEvalText()!, chunks: 4, ctx: 512 },
    });
    const progress: string[] = [];
    const out = await tc.runTrial(
      { ...tc.space.defaults(), quant: 'Q8_0' },
      { runner, logDir: tmpDir(), trialIndex: 1, onProgress: (m) => progress.push(m) },
    );
    return { out, progress, calls: fake.calls() };
  };
  // Lost once: measured on the second run, and said so along the way.
  const once = await trial(1);
  assert.equal(once.out.status, 'done', once.out.cause);
  assert.ok(once.out.metrics.accuracy!.kld >= 0);
  assert.equal(once.calls, 2);
  assert.equal(once.out.steps.filter((s) => s.name === 'accuracy').length, 2);
  assert.ok(once.progress.some((m) => /statistics incomplete, running llama-perplexity again \(2\)/.test(m)));
  // Lost every time: three runs, then a failure that names the cause and where to look.
  const always = await trial(5);
  assert.equal(always.out.status, 'failed');
  assert.match(always.out.cause!, /llama-perplexity printed no KL-divergence statistics \(see the trial log\)/);
  assert.equal(always.calls, 3);
});
